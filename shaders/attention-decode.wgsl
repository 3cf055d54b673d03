// Decoding with a KV cache: one new token per sequence attends to every cached position and
// itself, so each generated token costs one position of compute, not the whole prefix. The new
// token's k and v are written into the cache at its position first, then read back with the rest.
// qkv (B, 1, 3C) as c_attn writes it (q | k | v, head h in columns h*HS..(h+1)*HS); caches
// (B, NH, MAXT, HS), one contiguous run of positions per head; pos (B): where row b's new token
// goes (its cached length); out (B, 1, C).
//
// One workgroup per (head, row). Threads split the positions for the scores and the softmax, then
// regroup as G = WG / HS4 groups of HS4 lanes for P·V (lane i owns output vec4 i, group g sums the
// positions g, g+G, …), and group 0 adds the G partial sums.

struct Params {
  B: u32,
  NH: u32,
  scale: f32, // 1/sqrt(HS), rounded once on the CPU
  _pad: u32,
}

override HS: u32 = 64;
override HS4: u32 = HS / 4u;
override WG: u32 = 64;     // a multiple of HS4, at most 64
override G: u32 = WG / HS4;
override MAXT: u32 = 1024; // cache positions per head

const NEG = -3.0e38;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> qkv: array<vec4f>;    // (B, 1, 3C)
@group(0) @binding(2) var<storage, read_write> kcache: array<vec4f>; // (B, NH, MAXT, HS)
@group(0) @binding(3) var<storage, read_write> vcache: array<vec4f>; // (B, NH, MAXT, HS)
@group(0) @binding(4) var<storage, read_write> pos: array<u32>;      // (B)
@group(0) @binding(5) var<storage, read_write> out: array<vec4f>;    // (B, 1, C)

var<workgroup> q: array<vec4f, HS4>;
var<workgroup> s: array<f32, MAXT>;
var<workgroup> red: array<f32, WG>;
var<workgroup> part: array<vec4f, WG>;

/** red[0] ← max (or sum) of red[0..WG): a tree over strides 32, 16, …, 1 (WG ≤ 64). */
fn reduce (tid: u32, take_max: bool) {
  for (var st = 32u; st > 0u; st = st >> 1u) {
    if (tid < st && tid + st < WG) {
      if (take_max) { red[tid] = max(red[tid], red[tid + st]); } else { red[tid] = red[tid] + red[tid + st]; }
    }
    workgroupBarrier();
  }
}

@compute @workgroup_size(WG)
fn decode (@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wg: vec3u) {
  let h = wg.x;
  let b = wg.y;
  let C4 = p.NH * HS4;
  let at = pos[b];
  let L = at + 1u;
  let base = (b * p.NH + h) * MAXT * HS4;
  let row = b * 3u * C4 + h * HS4;

  for (var i = tid; i < HS4; i += WG) {
    q[i] = qkv[row + i];
    kcache[base + at * HS4 + i] = qkv[row + C4 + i];
    vcache[base + at * HS4 + i] = qkv[row + 2u * C4 + i];
  }
  storageBarrier();
  workgroupBarrier();

  var m = NEG;
  for (var t = tid; t < L; t += WG) {
    let kb = base + t * HS4;
    var d = vec4f(0.0);
    for (var i = 0u; i < HS4; i++) { d += q[i] * kcache[kb + i]; }
    let sc = (d.x + d.y + d.z + d.w) * p.scale;
    s[t] = sc;
    m = max(m, sc);
  }
  red[tid] = m;
  workgroupBarrier();
  reduce(tid, true);
  let mx = red[0];
  workgroupBarrier();

  var sum = 0.0;
  for (var t = tid; t < L; t += WG) {
    let e = exp(s[t] - mx);
    s[t] = e;
    sum += e;
  }
  red[tid] = sum;
  workgroupBarrier();
  reduce(tid, false);
  let total = red[0];

  let lane = tid % HS4;
  let g = tid / HS4;
  var acc = vec4f(0.0);
  for (var t = g; t < L; t += G) { acc += s[t] * vcache[base + t * HS4 + lane]; }
  part[tid] = acc;
  workgroupBarrier();
  if (g == 0u) {
    var y = part[lane];
    for (var k = 1u; k < G; k++) { y += part[k * HS4 + lane]; }
    out[b * C4 + h * HS4 + lane] = y / total;
  }
}
