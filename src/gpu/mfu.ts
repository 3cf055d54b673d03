// Model FLOP utilization: the model FLOPs a tab actually completed per second, over the peak its
// GPU showed in the preflight benchmark (ComputeApi.benchmark, our tuned matmul). Honest by
// construction: the FLOPs are the model's (stageFlops), not the kernels' extra work, and the
// peak is measured on the same device, not a datasheet number.

/** achieved / peak in [0, ∞), or null until both are known and positive. */
export function modelFlopUtilization (modelFlops: number, seconds: number, peakFlopsPerSecond: number | null | undefined): number | null {
  if (!(modelFlops > 0) || !(seconds > 0) || peakFlopsPerSecond == null || !(peakFlopsPerSecond > 0)) return null
  return modelFlops / seconds / peakFlopsPerSecond
}

/** "37% MFU" style text for the UI; an en dash while unknown. */
export function formatMfu (mfu: number | null): string {
  return mfu == null ? '–' : `${(100 * mfu).toFixed(mfu < 0.1 ? 1 : 0)}%`
}
