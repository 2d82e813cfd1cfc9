import { describe, expect, it } from 'vitest';
import { chooseRegion, createRegionPreference } from './region-preference.ts';

const settings = {
  regionSpillMarginBps: 2_000,
  regionSpillMarginMs: 100,
  regionSpillHoldMs: 2_000,
};

describe('home region preference', () => {
  it('stays home unless the other region is clearly cheaper for this request', () => {
    const preference = createRegionPreference(0);
    // 300 * 1.2 + 100 = 460: home at 450 stays, home at 470 goes.
    expect(chooseRegion(preference, 450, 300, 0, settings)).toBe('home');
    expect(chooseRegion(preference, 470, 300, 1, settings)).toBe('remote');
    expect(preference.mode).toBe('home');
  });

  it('drops the share after home has been clearly worse for the hold time', () => {
    const preference = createRegionPreference(0);
    for (let atMs = 0; atMs <= 2_000; atMs += 250) {
      chooseRegion(preference, 1_000, 300, atMs, settings);
    }
    expect(preference.mode).toBe('spill');
    expect(preference.sinceMs).toBe(2_000);
    // Now only the margin counts: 300 + 100 < 420 goes remote (it would stay home in home mode).
    expect(chooseRegion(preference, 420, 300, 2_100, settings)).toBe('remote');
  });

  it('comes home after home has been no worse for the hold time', () => {
    const preference = createRegionPreference(0);
    for (let atMs = 0; atMs <= 2_000; atMs += 500) {
      chooseRegion(preference, 1_000, 300, atMs, settings);
    }
    expect(preference.mode).toBe('spill');
    for (let atMs = 3_000; atMs <= 5_000; atMs += 500) {
      chooseRegion(preference, 200, 300, atMs, settings);
    }
    expect(preference.mode).toBe('home');
  });

  it('does not flap on costs that cross back and forth', () => {
    const preference = createRegionPreference(0);
    for (let atMs = 0; atMs < 60_000; atMs += 100) {
      const noisyHome = atMs % 200 === 0 ? 1_000 : 300;
      chooseRegion(preference, noisyHome, 300, atMs, settings);
    }
    expect(preference.mode).toBe('home');
    expect(preference.sinceMs).toBe(0);
  });
});
