// Preloaded by every Node entry (`tsx --import ./src/node/register.ts …`).
import { register } from 'node:module'
import './polyfills.ts'

// Vite's `?raw` shader imports, outside Vite.
register('./raw-loader.mjs', import.meta.url)
