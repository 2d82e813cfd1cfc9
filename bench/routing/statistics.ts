/**
 * The few statistics the routing benchmark prints: percentiles of one run, and the mean over
 * seeds with a 95% confidence interval from Student's t (10 seeds: t = 2.262).
 */

/** Nearest-rank percentile; NaN for no values. */
export function percentile(values: readonly number[], fraction: number): number {
  if (values.length === 0) {
    return Number.NaN;
  }
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1));
  return sorted[rank] ?? Number.NaN;
}

/** Two-sided 95% quantiles of Student's t by degrees of freedom (1 to 30). */
const tQuantiles = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145,
  2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048,
  2.045, 2.042,
];

export type Estimate = { mean: number; halfWidth: number };

/** Mean and 95% confidence half-width over the finite values. */
export function estimate(values: readonly number[]): Estimate {
  const finite = values.filter(Number.isFinite);
  const count = finite.length;
  if (count === 0) {
    return { mean: Number.NaN, halfWidth: Number.NaN };
  }
  const mean = finite.reduce((sum, value) => sum + value, 0) / count;
  if (count === 1) {
    return { mean, halfWidth: Number.NaN };
  }
  const variance = finite.reduce((sum, value) => sum + (value - mean) ** 2, 0) / (count - 1);
  const t = tQuantiles[Math.min(count - 1, tQuantiles.length) - 1] ?? 1.96;
  return { mean, halfWidth: (t * Math.sqrt(variance)) / Math.sqrt(count) };
}
