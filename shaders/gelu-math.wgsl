// GELU, tanh approximation as GPT-2 (llm.c gelu_forward/backward): the math shared by the
// elementwise kernels (gelu.wgsl) and the matmul's fused epilogues.

const GELU_SCALE = 0.7978845608028654; // sqrt(2 / pi)

// tanh saturates long before 10; clamping avoids exp overflow in some tanh implementations.
fn tanh_safe(u: f32) -> f32 { return tanh(clamp(u, -10.0, 10.0)); }

fn gelu(x: f32) -> f32 {
  return 0.5 * x * (1.0 + tanh_safe(GELU_SCALE * (x + 0.044715 * x * x * x)));
}

fn gelu_grad(x: f32) -> f32 {
  let th = tanh_safe(GELU_SCALE * (x + 0.044715 * x * x * x));
  let sech2 = 1.0 - th * th;
  return 0.5 * (1.0 + th) + 0.5 * x * sech2 * GELU_SCALE * (1.0 + 3.0 * 0.044715 * x * x);
}
