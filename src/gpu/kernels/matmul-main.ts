// The matmul kernel's entry point, generated per thread block (TM × TN outputs per thread) and
// k-unroll: accumulators are named vec4 registers and every component index is static. The loop
// form (`acc[i][j]`, `av[i / 4][i % 4]`) left register promotion to the shader compiler;
// SwiftShader kept those arrays in memory and ran 2-3× slower than onnxruntime-web's kernel, whose
// generated WGSL is also fully unrolled.
import src from '../../../shaders/matmul.wgsl?raw'
import geluMath from '../../../shaders/gelu-math.wgsl?raw'

/**
 * What the epilogue does after bias and accumulate: 'gelu' also writes gelu(out) to the `act`
 * binding (the MLP's fc); 'gelu-backward' multiplies by gelu'(pre) read from `pre` (its gradient).
 */
export type MatmulEpilogue = 'none' | 'gelu' | 'gelu-backward'

const LANES = ['x', 'y', 'z', 'w']

/** The whole matmul module for one thread block: consts, shared code (shaders/matmul.wgsl), main. */
export function matmulSource (threadM: number, threadN: number, unrollK: number, epilogue: MatmulEpilogue = 'none'): string {
  return `const TM: u32 = ${threadM}u;\nconst TN: u32 = ${threadN}u;\n${src}\n${put(epilogue)}\n${matmulMain(threadM, threadN, unrollK)}`
}

/** One output element's epilogue: bias, the fused activation, accumulate, store. */
function put (epilogue: MatmulEpilogue): string {
  const lines = ['fn put(o: u32, nc: u32, x: f32) {', '  var r = x;', '  if (HAS_BIAS) { r += bias[nc >> 2u][nc & 3u]; }']
  if (epilogue === 'gelu') lines.push('  act[o] = gelu(r);')
  if (epilogue === 'gelu-backward') lines.push('  r *= gelu_grad(pre[o]);')
  lines.push('  if (ACCUMULATE) { r += out[o]; }', '  out[o] = r;', '}')
  if (epilogue === 'none') return lines.join('\n') + '\n'
  const decl = epilogue === 'gelu'
    ? '@group(0) @binding(5) var<storage, read_write> act: array<f32>;  // gelu(out), same shape'
    : '@group(0) @binding(5) var<storage, read> pre: array<f32>;  // the pre-activation, same shape'
  return `${geluMath}\n${decl}\n\n${lines.join('\n')}\n`
}

/** `main` for TM × TN outputs per thread; the k loop runs `unrollK` steps per iteration (BK % unrollK = 0). */
export function matmulMain (TM: number, TN: number, unrollK: number): string {
  const TM4 = TM / 4; const TN4 = TN / 4
  const lines: string[] = []
  const add = (s: string): void => { lines.push(s) }
  add('@compute @workgroup_size(WG_X, WG_Y, 1)')
  add('fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) l: vec3<u32>, @builtin(local_invocation_index) lid: u32) {')
  add('  let baseA = wg.z * p.strideA;')
  add('  let baseB = wg.z * p.strideB;')
  add('  let baseOut = wg.z * p.strideOut;')
  add('  let m0 = wg.y * BM;')
  add('  let n0 = wg.x * BN;')
  add(`  let ra = l.y * ${TM4}u;`)
  add(`  let rb = l.x * ${TN4}u;`)
  for (let i = 0; i < TM; i++) for (let j = 0; j < TN4; j++) add(`  var c${i}_${j} = vec4<f32>(0.0);`)
  add('  for (var k0 = 0u; k0 < p.K; k0 += BK) {')
  add('    loadA(lid, baseA, m0, k0);')
  add('    loadB(lid, baseB, n0, k0);')
  add('    workgroupBarrier();')
  add(`    for (var k = 0u; k < BK; k += ${unrollK}u) {`)
  for (let u = 0; u < unrollK; u++) {
    const kk = u === 0 ? 'k' : `(k + ${u}u)`
    for (let i = 0; i < TM4; i++) add(`      let a${u}_${i} = As[${kk} * BM4 + ra + ${i}u];`)
    for (let j = 0; j < TN4; j++) add(`      let b${u}_${j} = Bs[${kk} * BN4 + rb + ${j}u];`)
    for (let i = 0; i < TM; i++) {
      const a = `a${u}_${Math.floor(i / 4)}.${LANES[i % 4]}`
      for (let j = 0; j < TN4; j++) add(`      c${i}_${j} = fma(vec4<f32>(${a}), b${u}_${j}, c${i}_${j});`)
    }
  }
  add('    }')
  add('    workgroupBarrier();')
  add('  }')
  add('  let m = m0 + l.y * TM;')
  add('  let n = n0 + l.x * TN;')
  for (let i = 0; i < TM; i++) for (let j = 0; j < TN4; j++) add(`  store4(baseOut, m + ${i}u, n + ${j * 4}u, c${i}_${j});`)
  add('}')
  return lines.join('\n') + '\n'
}
