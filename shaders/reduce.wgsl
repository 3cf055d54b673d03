// Workgroup reductions shared by the row kernels (layernorm, crossentropy, grad-norm).
// Concatenated in front of a kernel's source; the kernel uses @workgroup_size(WG).
// Tree order is fixed by the thread index, so results are deterministic run to run.
// Call from uniform control flow only (they hold barriers).

override WG: u32 = 256u; // power of two, set from TypeScript

var<workgroup> red: array<f32, WG>;

fn wg_sum(lid: u32, x: f32) -> f32 {
  red[lid] = x;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) { red[lid] = red[lid] + red[lid + s]; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier(); // red is reused by the next call
  return r;
}

fn wg_max(lid: u32, x: f32) -> f32 {
  red[lid] = x;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) { red[lid] = max(red[lid], red[lid + s]); }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}
