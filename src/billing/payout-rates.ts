/**
 * A provider's payout rate over time: the rate it was created with, then versions the operator
 * publishes, each in force from its effective time. A request pays the provider at the rate in
 * force when it was admitted, as its price is pinned then (DESIGN.md §4), so a new rate never
 * changes what requests already admitted earn.
 */

export type PayoutRateVersion = { version: number; payoutBps: number; effectiveAtMs: number };

export type PayoutSchedule = {
  /** The rate the provider was created with: in force before its first version. */
  baseBps: number;
  versions: readonly PayoutRateVersion[];
};

/** The newest version in force at `atMs` (the later version of two effective at once), else the base. */
export function payoutBpsAt(schedule: PayoutSchedule, atMs: number): number {
  let current: PayoutRateVersion | undefined;
  for (const candidate of schedule.versions) {
    if (candidate.effectiveAtMs > atMs) {
      continue;
    }
    if (
      current === undefined ||
      candidate.effectiveAtMs > current.effectiveAtMs ||
      (candidate.effectiveAtMs === current.effectiveAtMs && candidate.version > current.version)
    ) {
      current = candidate;
    }
  }
  return current?.payoutBps ?? schedule.baseBps;
}
