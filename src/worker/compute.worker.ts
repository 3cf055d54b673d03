// The compute worker: all GPU work of a tab runs here, behind comlink.
import * as Comlink from 'comlink'
import { createComputeApi } from './compute-api.ts'

Comlink.expose(createComputeApi())
