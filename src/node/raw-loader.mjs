// Node module hook so that `import src from '../../shaders/x.wgsl?raw'` works outside Vite
// (CLI trainer, benchmarks): the same kernel modules run in the browser and in Node.
import { readFile } from 'node:fs/promises'

export async function load (url, context, nextLoad) {
  if (url.endsWith('?raw')) {
    const text = await readFile(new URL(url.slice(0, -4)), 'utf8')
    return { format: 'module', source: `export default ${JSON.stringify(text)}`, shortCircuit: true }
  }
  return nextLoad(url, context)
}
