// Tiled, register-blocked fp32 matmul, batched over workgroup z:
//   out[z] (+)= op(A[z]) · op(B[z]) (+ bias)
// nn: A[M,K]·B[K,N]   nt: A[M,K]·B[N,K]ᵀ   tn: A[K,M]ᵀ·B[K,N]   (transposes read in place).
//
// A workgroup computes a BM×BN output tile; each thread a TM×TN block of it, as vec4 rows.
// Per k-step, A and B tiles go through workgroup memory k-major (As[k][m], Bs[k][n]) so the inner
// loop reads vec4s. TM and TN are prepended as consts and `main` is appended by
// src/gpu/kernels/matmul-main.ts; every other size is an override set from TypeScript.

struct Params {
  M: u32, K: u32, N: u32, _pad0: u32,
  // Per-operand batch strides in elements (0 broadcasts one matrix over the batch).
  strideA: u32, strideB: u32, strideOut: u32, _pad1: u32,
}

// Operands are bound as vec4 arrays: aligned tiles load whole vec4s, the general path
// picks single components. The output is scalar so edge threads never share a vec4.
@group(0) @binding(0) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> b: array<vec4<f32>>;
// Without HAS_BIAS the caller binds A here; it is never read.
@group(0) @binding(2) var<storage, read> bias: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

override WG_X: u32 = 16u;         // threads along N
override WG_Y: u32 = 16u;         // threads along M
override BK: u32 = 16u;           // k-step, a multiple of 4
override TRANS_A: bool = false;   // A stored [K, M] (layout tn)
override TRANS_B: bool = false;   // B stored [N, K] (layout nt)
// M % BM, N % BN, K % BK and the batch strides % 4 are all 0: no bounds checks, vec4 loads.
override ALIGNED: bool = false;
override HAS_BIAS: bool = false;
override ACCUMULATE: bool = false;  // out += result (gradient accumulation)

override NT: u32 = WG_X * WG_Y;
override BM: u32 = WG_Y * TM;
override BN: u32 = WG_X * TN;
override BM4: u32 = BM / 4u;
override BN4: u32 = BN / 4u;
override BK4: u32 = BK / 4u;

var<workgroup> As: array<vec4<f32>, BK * BM4>;  // [BK][BM/4]
var<workgroup> Bs: array<vec4<f32>, BK * BN4>;  // [BK][BN/4]

// ---- global loads: 4 consecutive elements of a row-major [rows, cols] matrix from (r, c)

fn fetchA(base: u32, r: u32, c: u32, rows: u32, cols: u32) -> vec4<f32> {
  if (ALIGNED) { return a[(base + r * cols + c) >> 2u]; }
  var v = vec4<f32>(0.0);
  if (r < rows) {
    let i = base + r * cols + c;
    for (var j = 0u; j < 4u; j++) {
      if (c + j < cols) { let e = i + j; v[j] = a[e >> 2u][e & 3u]; }
    }
  }
  return v;
}

fn fetchB(base: u32, r: u32, c: u32, rows: u32, cols: u32) -> vec4<f32> {
  if (ALIGNED) { return b[(base + r * cols + c) >> 2u]; }
  var v = vec4<f32>(0.0);
  if (r < rows) {
    let i = base + r * cols + c;
    for (var j = 0u; j < 4u; j++) {
      if (c + j < cols) { let e = i + j; v[j] = b[e >> 2u][e & 3u]; }
    }
  }
  return v;
}

// ---- tile loads into workgroup memory

fn loadA(lid: u32, base: u32, m0: u32, k0: u32) {
  if (TRANS_A) {
    // A is [K, M]: runs along m are already what As holds.
    for (var i = lid; i < BK * BM4; i += NT) {
      let k = i / BM4;
      let m4 = i % BM4;
      As[i] = fetchA(base, k0 + k, m0 + m4 * 4u, p.K, p.M);
    }
  } else {
    // A is [M, K]: read 4×4 blocks (4 rows of m, 4 k each) and transpose them in registers,
    // so each thread writes whole vec4s of As. k varies fastest across threads (coalesced).
    for (var i = lid; i < BK4 * BM4; i += NT) {
      let kb = i % BK4;
      let mb = i / BK4;
      let m = m0 + mb * 4u;
      let k = k0 + kb * 4u;
      let r0 = fetchA(base, m, k, p.M, p.K);
      let r1 = fetchA(base, m + 1u, k, p.M, p.K);
      let r2 = fetchA(base, m + 2u, k, p.M, p.K);
      let r3 = fetchA(base, m + 3u, k, p.M, p.K);
      let o = kb * 4u * BM4 + mb;
      As[o] = vec4<f32>(r0.x, r1.x, r2.x, r3.x);
      As[o + BM4] = vec4<f32>(r0.y, r1.y, r2.y, r3.y);
      As[o + 2u * BM4] = vec4<f32>(r0.z, r1.z, r2.z, r3.z);
      As[o + 3u * BM4] = vec4<f32>(r0.w, r1.w, r2.w, r3.w);
    }
  }
}

fn loadB(lid: u32, base: u32, n0: u32, k0: u32) {
  if (!TRANS_B) {
    // B is [K, N]: runs along n are already what Bs holds.
    for (var i = lid; i < BK * BN4; i += NT) {
      let k = i / BN4;
      let n4 = i % BN4;
      Bs[i] = fetchB(base, k0 + k, n0 + n4 * 4u, p.K, p.N);
    }
  } else {
    // B is [N, K]: same 4×4 register transpose as A in [M, K].
    for (var i = lid; i < BK4 * BN4; i += NT) {
      let kb = i % BK4;
      let nb = i / BK4;
      let n = n0 + nb * 4u;
      let k = k0 + kb * 4u;
      let r0 = fetchB(base, n, k, p.N, p.K);
      let r1 = fetchB(base, n + 1u, k, p.N, p.K);
      let r2 = fetchB(base, n + 2u, k, p.N, p.K);
      let r3 = fetchB(base, n + 3u, k, p.N, p.K);
      let o = kb * 4u * BN4 + nb;
      Bs[o] = vec4<f32>(r0.x, r1.x, r2.x, r3.x);
      Bs[o + BN4] = vec4<f32>(r0.y, r1.y, r2.y, r3.y);
      Bs[o + 2u * BN4] = vec4<f32>(r0.z, r1.z, r2.z, r3.z);
      Bs[o + 3u * BN4] = vec4<f32>(r0.w, r1.w, r2.w, r3.w);
    }
  }
}

// ---- epilogue: bias, accumulate, bounds for 4 outputs (m, n..n+3), unrolled (a dynamic vector
// index costs a gather on CPU adapters). `put(o, nc, x)` (bias, accumulate, a fused GELU) is
// generated with `main`.

fn store4(baseOut: u32, m: u32, n: u32, v: vec4<f32>) {
  if (!ALIGNED && m >= p.M) { return; }
  let o = baseOut + m * p.N + n;
  if (ALIGNED || n < p.N) { put(o, n, v.x); }
  if (ALIGNED || n + 1u < p.N) { put(o + 1u, n + 1u, v.y); }
  if (ALIGNED || n + 2u < p.N) { put(o + 2u, n + 2u, v.z); }
  if (ALIGNED || n + 3u < p.N) { put(o + 3u, n + 3u, v.w); }
}

// The kernel's entry point is generated per thread block (TM × TN) by
// src/gpu/kernels/matmul-main.ts: every accumulator is a named vec4 and every register index is
// static, so no compiler has to promote a private array to registers.
