// The extra page script of test builds (`npm run build:faults`, vite.config.ts adds it to
// index.html): installs the cheating worker switch before the app starts a swarm.
import { gpu } from '../app/state/gpu.svelte.ts'
import { installFaults } from './faults.ts'

installFaults(gpu)
