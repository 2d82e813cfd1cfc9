import { describe, expect, it } from 'vitest';
import { latestStartMs, placeLines, type RegionOffer } from './line-placement.ts';

const hourMs = 3_600_000;
const nowMs = Date.UTC(2026, 10, 26, 9, 0, 0);

function offer(region: string, changes: Partial<RegionOffer> = {}): RegionOffer {
  return {
    region,
    spareRoom: 4,
    unitPriceMicro: 3_000_000n,
    offpeakNow: false,
    nextOffpeakAtMs: undefined,
    ...changes,
  };
}

describe('placeLines', () => {
  it('runs at once, cheapest region first, when no price has an off-peak window', () => {
    const placement = placeLines(
      [offer('eu', { unitPriceMicro: 4_000_000n }), offer('cn'), offer('us', { spareRoom: 0 })],
      nowMs,
      nowMs + 10 * hourMs,
    );
    expect(placement).toEqual({ kind: 'run', regions: ['cn', 'eu'], offpeak: false });
  });

  it('runs only where the price is off-peak now, even where another region is cheaper', () => {
    const placement = placeLines(
      [
        offer('cn', { unitPriceMicro: 1_000_000n }),
        offer('eu', { offpeakNow: true, unitPriceMicro: 1_500_000n }),
      ],
      nowMs,
      nowMs + 10 * hourMs,
    );
    expect(placement).toEqual({ kind: 'run', regions: ['eu'], offpeak: true });
  });

  it('waits for room in an off-peak region rather than paying the normal price elsewhere', () => {
    const placement = placeLines(
      [offer('cn'), offer('eu', { offpeakNow: true, spareRoom: 0 })],
      nowMs,
      nowMs + 10 * hourMs,
    );
    expect(placement).toEqual({ kind: 'wait', untilMs: undefined });
  });

  it('waits for the next off-peak window when it opens before the latest start', () => {
    const opensMs = nowMs + 2 * hourMs;
    const placement = placeLines(
      [
        offer('cn', { nextOffpeakAtMs: opensMs }),
        offer('eu', { nextOffpeakAtMs: opensMs + hourMs }),
      ],
      nowMs,
      nowMs + 10 * hourMs,
    );
    expect(placement).toEqual({ kind: 'wait', untilMs: opensMs });
  });

  it('runs now at the normal price when the window opens too late for the deadline', () => {
    const placement = placeLines(
      [offer('cn', { nextOffpeakAtMs: nowMs + 11 * hourMs })],
      nowMs,
      nowMs + 10 * hourMs,
    );
    expect(placement).toEqual({ kind: 'run', regions: ['cn'], offpeak: false });
  });

  it('past the latest start, runs wherever there is room, off-peak or not', () => {
    const placement = placeLines(
      [
        offer('cn', { nextOffpeakAtMs: nowMs + hourMs }),
        offer('eu', { offpeakNow: true, spareRoom: 0 }),
      ],
      nowMs,
      nowMs,
    );
    expect(placement).toEqual({ kind: 'run', regions: ['cn'], offpeak: false });
  });

  it('waits for room when no region has any', () => {
    const placement = placeLines([offer('cn', { spareRoom: 0 })], nowMs, nowMs);
    expect(placement).toEqual({ kind: 'wait', untilMs: undefined });
  });
});

describe('latestStartMs', () => {
  const expiresAtMs = nowMs + 24 * hourMs;

  it('keeps the minimum runway for a small backlog', () => {
    const pace = { linesLeft: 10, lineMsMean: 2_000, linesAtOnce: 64, runwayMinMs: hourMs };
    expect(latestStartMs(expiresAtMs, pace)).toBe(expiresAtMs - hourMs);
  });

  it('starts a big backlog early enough to finish it twice over', () => {
    // 8,000 lines of 30 s, 64 at once: 62.5 min of work, started 125 min before the deadline.
    const pace = { linesLeft: 8_000, lineMsMean: 30_000, linesAtOnce: 64, runwayMinMs: hourMs };
    expect(latestStartMs(expiresAtMs, pace)).toBe(expiresAtMs - 7_500_000);
  });
});
