// `npm run tokenize -- …`: text → token file; the work is in tokenize-main.ts.
import { tokenizeMain } from './tokenize-main.ts'

process.exitCode = await tokenizeMain(process.argv.slice(2))
