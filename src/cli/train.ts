// `npm run train -- …`: the CLI trainer (DESIGN.md "Commands"); the work is in train-main.ts.
import { trainMain } from './train-main.ts'

process.exitCode = await trainMain(process.argv.slice(2))
