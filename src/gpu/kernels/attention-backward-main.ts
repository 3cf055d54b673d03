// The flash-attention backward entry points (dQ; dK and dV), generated per head size and block
// config so that every per-thread value is a named register with static indices. The loop form
// (`var acc: array<vec4f, MAXV>` indexed by a loop variable) stayed in memory on SwiftShader, as
// matmul's did (see matmul-main.ts). Scores are register-tiled too: a thread loads each vec4 of its
// own query (dQ) or key (dK/dV) row once per step and dots it with all the rows it scores.
import attentionSrc from '../../../shaders/attention.wgsl?raw'

/** Static shape of one generated backward: head size and the block config. */
export interface AttentionBackwardShape {
  HS: number
  br: number
  bc: number
  tpr: number
  /** Query rows (dQ) or keys (dK/dV) per thread, strided by the block's thread rows. */
  rm: number
}

/** The attention module (forward, D pass, shared loaders) plus the generated dQ and dK/dV entry points. */
export function attentionBackwardSource (s: AttentionBackwardShape): string {
  return `${attentionSrc}\n${dqMain(s)}\n${dkvMain(s)}`
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i)

// i is the loop's vec4 index into a head row, stepped by 4 (HS4 is a multiple of 4).
const UNROLL_I = 4

/**
 * dQ: one workgroup per (query block, h, b), looping over key blocks. Thread (g, j) owns query
 * rows g, g + BR/RM, … (RM of them), scores columns j, j + TPR, … and accumulates the dQ vec4s
 * j, j + TPR, … of its rows: an RM × (BC/TPR) tile of scores, RM × NV of dQ.
 */
function dqMain ({ HS, br, bc, tpr, rm }: AttentionBackwardShape): string {
  const NV = HS / 4 / tpr
  const NC = bc / tpr
  const RT = br / rm // thread rows
  const threads = RT * tpr
  const lines: string[] = []
  const add = (s: string): void => { lines.push(s) }
  add('// ---- backward 2/3: dQ (generated). P = exp(S - lse), dS = P ∘ (dout·vᵀ - D), dQ = scale · dS·K.')
  add(`@compute @workgroup_size(${threads})`)
  add('fn backward_dq (@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {')
  add('  let T = p.T;')
  add('  let h = wg.y;')
  add('  let b = wg.z;')
  add('  let g = lid / TPR;')
  add('  let j = lid % TPR;')
  add('  let q0 = wg.x * BR;')
  add(`  loadQ(b, h, q0, lid, ${threads}u);`)
  add(`  loadDout(b, h, q0, lid, ${threads}u);`)
  for (const u of range(rm)) {
    add(`  let r${u} = g + ${u * RT}u;`)
    add(`  let qi${u} = q0 + r${u};`)
    add(`  let qr${u} = r${u} * RS;`)
    add(`  var lse${u} = 0.0;\n  var D${u} = 0.0;`)
    add(`  if (qi${u} < T) {\n    lse${u} = lse[(b * p.NH + h) * T + qi${u}];\n    D${u} = dsum[(b * p.NH + h) * T + qi${u}];\n  }`)
  }
  for (const w of range(NC)) add(`  let kr${w} = (j + ${w * tpr}u) * RS;`)
  for (const u of range(rm)) for (const v of range(NV)) add(`  var a${u}_${v} = vec4f(0.0);`)
  add('  let nkb = (min(T, q0 + BR) + BC - 1u) / BC;')
  add('  for (var kb = 0u; kb < nkb; kb++) {')
  add('    let k0 = kb * BC;')
  add('    workgroupBarrier();')
  add(`    loadKV(b, h, k0, lid, ${threads}u);`)
  add('    workgroupBarrier();')
  for (const u of range(rm)) for (const w of range(NC)) add(`    var s${u}_${w} = 0.0;\n    var d${u}_${w} = 0.0;`)
  add('    for (var i = 0u; i < HS4; i += 4u) {')
  for (let ii = 0; ii < UNROLL_I; ii++) {
    const idx = ii === 0 ? 'i' : `i + ${ii}u`
    for (const u of range(rm)) add(`      let q${u}_${ii} = qTile[qr${u} + ${idx}];\n      let o${u}_${ii} = oTile[qr${u} + ${idx}];`)
    for (const w of range(NC)) {
      add(`      let k${w}_${ii} = kTile[kr${w} + ${idx}];\n      let v${w}_${ii} = vTile[kr${w} + ${idx}];`)
      for (const u of range(rm)) add(`      s${u}_${w} += dot(q${u}_${ii}, k${w}_${ii});\n      d${u}_${w} += dot(o${u}_${ii}, v${w}_${ii});`)
    }
  }
  add('    }')
  for (const u of range(rm)) {
    for (const w of range(NC)) {
      const c = `j + ${w * tpr}u`
      add(`    sTile[r${u} * BCP + ${c}] = select(0.0, exp(s${u}_${w} - lse${u}), k0 + ${c} <= qi${u}) * (d${u}_${w} - D${u});`)
    }
  }
  add('    workgroupBarrier();')
  add('    // masked columns hold dS = 0: no causal test in the inner loop')
  add('    for (var c = 0u; c < BC; c++) {')
  add('      let kc = c * RS + j;')
  for (const v of range(NV)) add(`      let kv${v} = kTile[kc + ${v * tpr}u];`)
  for (const u of range(rm)) {
    add(`      let ds${u} = vec4f(sTile[r${u} * BCP + c]);`)
    for (const v of range(NV)) add(`      a${u}_${v} = fma(ds${u}, kv${v}, a${u}_${v});`)
  }
  add('    }')
  add('  }')
  for (const u of range(rm)) {
    add(`  if (qi${u} < T) {`)
    add(`    let o = qkvRow(b, qi${u}, h) + j;`)
    for (const v of range(NV)) add(`    dqkv[o + ${v * tpr}u] = a${u}_${v} * p.scale;`)
    add('  }')
  }
  add('}')
  return lines.join('\n') + '\n'
}

/**
 * dK and dV: one workgroup per (key block, h, b), looping over the query blocks at or after it.
 * Thread (g, j) owns keys g, g + BC/RM, … (RM of them) and scores query rows j, j + TPR, ….
 */
function dkvMain ({ HS, br, bc, tpr, rm }: AttentionBackwardShape): string {
  const NV = HS / 4 / tpr
  const NR = br / tpr
  const CT = bc / rm
  const threads = CT * tpr
  const lines: string[] = []
  const add = (s: string): void => { lines.push(s) }
  add('// ---- backward 3/3: dK and dV (generated). dV = Pᵀ·dout, dK = dSᵀ·(scale · Q).')
  add(`@compute @workgroup_size(${threads})`)
  add('fn backward_dkv (@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {')
  add('  let T = p.T;')
  add('  let h = wg.y;')
  add('  let b = wg.z;')
  add('  let g = lid / TPR;')
  add('  let j = lid % TPR;')
  add('  let k0 = wg.x * BC;')
  add(`  loadKV(b, h, k0, lid, ${threads}u);`)
  for (const u of range(rm)) {
    add(`  let c${u} = g + ${u * CT}u;`)
    add(`  let ki${u} = k0 + c${u};`)
    add(`  let kr${u} = c${u} * RS;`)
  }
  for (const w of range(NR)) add(`  let qr${w} = (j + ${w * tpr}u) * RS;`)
  for (const u of range(rm)) for (const v of range(NV)) add(`  var dk${u}_${v} = vec4f(0.0);\n  var dv${u}_${v} = vec4f(0.0);`)
  add('  let nqb = (T + BR - 1u) / BR;')
  add('  for (var qb = k0 / BR; qb < nqb; qb++) {')
  add('    let q0 = qb * BR;')
  add('    workgroupBarrier();')
  add(`    loadQ(b, h, q0, lid, ${threads}u);`)
  add(`    loadDout(b, h, q0, lid, ${threads}u);`)
  add(`    for (var r = lid; r < BR; r += ${threads}u) {`)
  add('      var l = 0.0;')
  add('      var d = 0.0;')
  add('      if (q0 + r < T) {')
  add('        l = lse[(b * p.NH + h) * T + q0 + r];')
  add('        d = dsum[(b * p.NH + h) * T + q0 + r];')
  add('      }')
  add('      lseTile[r] = l;')
  add('      dTile[r] = d;')
  add('    }')
  add('    workgroupBarrier();')
  for (const u of range(rm)) for (const w of range(NR)) add(`    var s${u}_${w} = 0.0;\n    var d${u}_${w} = 0.0;`)
  add('    for (var i = 0u; i < HS4; i += 4u) {')
  for (let ii = 0; ii < UNROLL_I; ii++) {
    const idx = ii === 0 ? 'i' : `i + ${ii}u`
    for (const u of range(rm)) add(`      let k${u}_${ii} = kTile[kr${u} + ${idx}];\n      let v${u}_${ii} = vTile[kr${u} + ${idx}];`)
    for (const w of range(NR)) {
      add(`      let q${w}_${ii} = qTile[qr${w} + ${idx}];\n      let o${w}_${ii} = oTile[qr${w} + ${idx}];`)
      for (const u of range(rm)) add(`      s${u}_${w} += dot(q${w}_${ii}, k${u}_${ii});\n      d${u}_${w} += dot(o${w}_${ii}, v${u}_${ii});`)
    }
  }
  add('    }')
  for (const w of range(NR)) {
    const r = `j + ${w * tpr}u`
    add(`    let rl${w} = lseTile[${r}];\n    let rd${w} = dTile[${r}];`)
    for (const u of range(rm)) {
      add(`    let p${u}_${w} = select(0.0, exp(s${u}_${w} - rl${w}), q0 + ${r} >= ki${u} && q0 + ${r} < T);`)
      add(`    sTile[c${u} * BRP + ${r}] = p${u}_${w};`)
      add(`    dsTile[c${u} * BRP + ${r}] = p${u}_${w} * (d${u}_${w} - rd${w});`)
    }
  }
  add('    workgroupBarrier();')
  add('    // masked rows hold P = dS = 0: no causal test in the inner loop')
  add('    for (var r = 0u; r < BR; r++) {')
  add('      let row = r * RS + j;')
  for (const v of range(NV)) add(`      let ov${v} = oTile[row + ${v * tpr}u];\n      let qv${v} = qTile[row + ${v * tpr}u];`)
  for (const u of range(rm)) {
    add(`      let pr${u} = vec4f(sTile[c${u} * BRP + r]);\n      let dr${u} = vec4f(dsTile[c${u} * BRP + r]);`)
    for (const v of range(NV)) {
      add(`      dv${u}_${v} = fma(pr${u}, ov${v}, dv${u}_${v});`)
      add(`      dk${u}_${v} = fma(dr${u}, qv${v}, dk${u}_${v});`)
    }
  }
  add('    }')
  add('  }')
  add('  let C4 = p.NH * HS4;')
  for (const u of range(rm)) {
    add(`  if (ki${u} < T) {`)
    add(`    let o = qkvRow(b, ki${u}, h) + j;`)
    for (const v of range(NV)) {
      add(`    dqkv[o + C4 + ${v * tpr}u] = dk${u}_${v};`)
      add(`    dqkv[o + 2u * C4 + ${v * tpr}u] = dv${u}_${v};`)
    }
    add('  }')
  }
  add('}')
  return lines.join('\n') + '\n'
}
