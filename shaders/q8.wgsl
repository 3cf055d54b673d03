// q8 boundary codec (src/codec/q8.ts is the float64 reference): per-row absmax int8.
// The encoded buffer is u32 words laid out exactly as the wire payload:
//   words [0, rows):                  the rows' float32 scales (absmax / 127)
//   words [rows, rows + ceil(n / 4)): the int8 values, row-major, 4 per word, little-endian
// so reading back its first 4·rows + n bytes gives the payload, 4× fewer bytes than the floats.
// A row holding a NaN or an infinity gets a NaN scale: the host refuses to send it.

struct Params {
  rows: u32,
  cols: u32,
  n: u32,
  // 0: round to nearest (activations); 1: stochastic rounding (gradients) drawn from `seed`
  stochastic: u32,
  seed: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> enc: array<u32>;

override WG: u32 = 64u;

const EXP_MASK = 0x7f800000u;
const NAN_BITS = 0x7fc00000u;

// The same PCG hash as src/codec/rounding.ts (Jarzynski & Olano 2020).
fn pcg(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

// Element i's uniform draw in [0, 1), 24 bits (exact in f32).
fn uniform24(seed: u32, i: u32) -> f32 {
  return f32(pcg(pcg(seed) ^ i) >> 8u) * (1.0 / 16777216.0);
}

var<workgroup> wmax: array<f32, WG>;
var<workgroup> wbad: array<u32, WG>;

// One workgroup per row (grid-stride over rows): the row's absmax, then its scale.
@compute @workgroup_size(WG)
fn scales(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  for (var r = wid.x; r < p.rows; r += nwg.x) {
    var m = 0.0;
    var bad = 0u;
    for (var c = lid.x; c < p.cols; c += WG) {
      let bits = bitcast<u32>(x[r * p.cols + c]);
      // Checked on the bits: a compiler may assume floats are finite.
      if ((bits & EXP_MASK) == EXP_MASK) { bad = 1u; }
      m = max(m, bitcast<f32>(bits & 0x7fffffffu));
    }
    wmax[lid.x] = m;
    wbad[lid.x] = bad;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
      if (lid.x < s) {
        wmax[lid.x] = max(wmax[lid.x], wmax[lid.x + s]);
        wbad[lid.x] = wbad[lid.x] | wbad[lid.x + s];
      }
      workgroupBarrier();
    }
    if (lid.x == 0u) {
      enc[r] = select(bitcast<u32>(wmax[0] / 127.0), NAN_BITS, wbad[0] != 0u);
    }
    workgroupBarrier();
  }
}

// One thread per word of values (after `scales`): four int8s, each scaled by its own row.
@compute @workgroup_size(WG)
fn pack(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let words = (p.n + 3u) / 4u;
  for (var w = gid.x; w < words; w += nwg.x * WG) {
    var word = 0u;
    for (var k = 0u; k < 4u; k++) {
      let i = 4u * w + k;
      if (i >= p.n) { break; }
      let s = bitcast<f32>(enc[i / p.cols]);
      var q = 0.0;
      if (s > 0.0) {
        let y = x[i] / s;
        let u = select(0.5, uniform24(p.seed, i), p.stochastic != 0u);
        q = clamp(floor(y + u), -127.0, 127.0);
      }
      word = word | ((bitcast<u32>(i32(q)) & 0xffu) << (8u * k));
    }
    enc[p.rows + w] = word;
  }
}

// x = q · s, one thread per element (the payload's scales were checked on the host).
@compute @workgroup_size(WG)
fn unpack(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  for (var i = gid.x; i < p.n; i += nwg.x * WG) {
    let byte = (enc[p.rows + i / 4u] >> (8u * (i % 4u))) & 0xffu;
    let q = bitcast<i32>(byte << 24u) >> 24u; // sign-extend
    x[i] = f32(q) * bitcast<f32>(enc[i / p.cols]);
  }
}
