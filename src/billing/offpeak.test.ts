import { describe, expect, it } from 'vitest';
import { multiplierAt, nextOffpeakAtMs, type OffpeakTerms } from './offpeak.ts';

const night: OffpeakTerms = {
  offpeakStart: '22:00',
  offpeakEnd: '06:00',
  offpeakTimezone: 'Asia/Shanghai',
  offpeakMultiplierBps: 5_000,
};
const noWindow: OffpeakTerms = {
  offpeakStart: null,
  offpeakEnd: null,
  offpeakTimezone: null,
  offpeakMultiplierBps: null,
};
/** 2026-11-26 09:00 UTC is 17:00 in Shanghai (UTC+8, no daylight saving). */
const afternoonMs = Date.UTC(2026, 10, 26, 9, 0, 0);

describe('off-peak windows', () => {
  it('prices inside a window that wraps past midnight at its multiplier', () => {
    expect(multiplierAt(night, afternoonMs)).toBe(10_000);
    expect(multiplierAt(night, Date.UTC(2026, 10, 26, 15, 0, 0))).toBe(5_000);
    expect(multiplierAt(night, Date.UTC(2026, 10, 26, 21, 59, 0))).toBe(5_000);
    expect(multiplierAt(night, Date.UTC(2026, 10, 26, 22, 0, 0))).toBe(10_000);
  });

  it('finds the next window start, today or tomorrow', () => {
    expect(nextOffpeakAtMs(night, afternoonMs)).toBe(Date.UTC(2026, 10, 26, 14, 0, 0));
    // 06:30 local, just after a window ended: the next one is tonight.
    expect(nextOffpeakAtMs(night, Date.UTC(2026, 10, 26, 22, 30, 0))).toBe(
      Date.UTC(2026, 10, 27, 14, 0, 0),
    );
  });

  it('answers now while inside a window, and nothing for a price without one', () => {
    const insideMs = Date.UTC(2026, 10, 26, 16, 12, 34);
    expect(nextOffpeakAtMs(night, insideMs)).toBe(insideMs);
    expect(nextOffpeakAtMs(noWindow, afternoonMs)).toBeUndefined();
  });

  it('rounds a start mid-minute down to the minute', () => {
    const atMs = afternoonMs + 30_500;
    expect(nextOffpeakAtMs(night, atMs)).toBe(Date.UTC(2026, 10, 26, 14, 0, 0));
  });
});
