// Worker-thread entry for tokenize-worker.ts: workers don't inherit the parent's TypeScript loader
// on Node 20, so this plain module registers tsx's in the worker itself, then loads the worker.
import { register } from 'tsx/esm/api'

register()
await import('./tokenize-worker.ts')
