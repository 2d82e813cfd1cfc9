/**
 * Order statistics for the gateway bench: percentiles of one measurement and the median across
 * rounds. Kept pure and separate so the numbers in the table have one definition.
 */

/**
 * The nearest-rank percentile of already sorted values (ascending): the smallest value with at
 * least `fraction` of all values at or below it. NaN for no values, so an empty run shows as
 * missing rather than as zero.
 */
export function percentileOfSorted(sortedValues: ArrayLike<number>, fraction: number): number {
  if (sortedValues.length === 0) {
    return Number.NaN;
  }
  const rank = Math.ceil(fraction * sortedValues.length);
  const index = Math.min(sortedValues.length - 1, Math.max(0, rank - 1));
  return sortedValues[index] ?? Number.NaN;
}

/** Sorts a copy ascending; Float64Array sorts numerically, unlike a plain array's default. */
export function sortedCopy(values: readonly number[]): Float64Array {
  return Float64Array.from(values).sort();
}

/** The median of the finite values (mean of the middle two for an even count); NaN for none. */
export function median(values: readonly number[]): number {
  const sorted = sortedCopy(values.filter(Number.isFinite));
  if (sorted.length === 0) {
    return Number.NaN;
  }
  const middle = Math.floor(sorted.length / 2);
  const upper = sorted[middle] ?? Number.NaN;
  return sorted.length % 2 === 1 ? upper : ((sorted[middle - 1] ?? Number.NaN) + upper) / 2;
}
