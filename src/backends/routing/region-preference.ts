/**
 * Home region first, with hysteresis (research/routing.md §6.3 step 5). A request leaves its
 * tenant's home region only when another region is clearly cheaper for it: by a share and a
 * margin. When that has held for the hold time (home is overloaded, not just noisy), the share is
 * dropped and only the margin remains, so the overflow spreads; when home has been no worse for
 * the hold time, the share comes back. Costs alone would flap between regions on every noisy
 * estimate; the margin and the hold stop that.
 */
import type { Limits } from '../../config.ts';

export type RegionSettings = Pick<
  Limits,
  'regionSpillMarginBps' | 'regionSpillMarginMs' | 'regionSpillHoldMs'
>;

export type RegionPreference = {
  mode: 'home' | 'spill';
  /** Since when the condition for switching has held without a break; undefined when it does not. */
  conditionSinceMs: number | undefined;
  /** When the mode last changed. */
  sinceMs: number;
};

export function createRegionPreference(nowMs: number): RegionPreference {
  return { mode: 'home', conditionSinceMs: undefined, sinceMs: nowMs };
}

/**
 * Which side serves this request; moves the preference's state along. Each request goes to the
 * other region only when it is clearly cheaper there: by the share and the margin while home is
 * preferred, by the margin alone once home has been clearly worse for the hold time (sustained
 * overload), until home has been no worse for the hold time again.
 */
export function chooseRegion(
  preference: RegionPreference,
  homeCostMs: number,
  remoteCostMs: number,
  nowMs: number,
  settings: RegionSettings,
): 'home' | 'remote' {
  const remoteClearlyBetter =
    (remoteCostMs * (10_000 + settings.regionSpillMarginBps)) / 10_000 +
      settings.regionSpillMarginMs <
    homeCostMs;
  if (preference.mode === 'home') {
    if (heldLongEnough(preference, remoteClearlyBetter, nowMs, settings)) {
      switchMode(preference, 'spill', nowMs);
    }
  } else if (heldLongEnough(preference, homeCostMs <= remoteCostMs, nowMs, settings)) {
    switchMode(preference, 'home', nowMs);
  }
  if (preference.mode === 'home') {
    return remoteClearlyBetter ? 'remote' : 'home';
  }
  return remoteCostMs + settings.regionSpillMarginMs < homeCostMs ? 'remote' : 'home';
}

function heldLongEnough(
  preference: RegionPreference,
  condition: boolean,
  nowMs: number,
  settings: RegionSettings,
): boolean {
  if (!condition) {
    preference.conditionSinceMs = undefined;
    return false;
  }
  preference.conditionSinceMs ??= nowMs;
  return nowMs - preference.conditionSinceMs >= settings.regionSpillHoldMs;
}

function switchMode(preference: RegionPreference, mode: 'home' | 'spill', nowMs: number): void {
  preference.mode = mode;
  preference.conditionSinceMs = undefined;
  preference.sinceMs = nowMs;
}
