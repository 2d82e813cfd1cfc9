import { describe, expect, it } from 'vitest';
import {
  beginCircuitAttempt,
  circuitAdmits,
  createCircuitBreaker,
  recordCircuitFailure,
  recordCircuitSuccess,
} from './circuit-breaker.ts';

const settings = {
  breakerFailureCountMax: 2,
  breakerColdFailureCountMax: 2,
  breakerOpenMs: 100,
  breakerOpenMsMax: 250,
  breakerCloseSuccessCount: 2,
};

describe('circuit breaker', () => {
  it('stays closed when the pool forbids opening it', () => {
    const breaker = createCircuitBreaker();
    for (let count = 0; count < 5; count += 1) {
      expect(recordCircuitFailure(breaker, false, 0, settings, false)).toBe(false);
    }
    expect(breaker.state).toBe('closed');
    expect(circuitAdmits(breaker, 0)).toBe(true);
  });

  it('opens, lets one probe through when its time is up, and closes after good probes', () => {
    const breaker = createCircuitBreaker();
    recordCircuitFailure(breaker, false, 0, settings, true);
    expect(recordCircuitFailure(breaker, false, 0, settings, true)).toBe(true);
    expect(circuitAdmits(breaker, 99)).toBe(false);
    expect(circuitAdmits(breaker, 100)).toBe(true);
    expect(beginCircuitAttempt(breaker, 100)).toBe(true);
    expect(circuitAdmits(breaker, 100)).toBe(false);
    expect(recordCircuitSuccess(breaker, true, settings)).toBe(false);
    expect(beginCircuitAttempt(breaker, 101)).toBe(true);
    expect(recordCircuitSuccess(breaker, true, settings)).toBe(true);
    expect(breaker.state).toBe('closed');
    expect(breaker.openings).toBe(0);
  });

  it('reopens for longer after a failed probe, up to the maximum', () => {
    const breaker = createCircuitBreaker();
    recordCircuitFailure(breaker, false, 0, settings, true);
    recordCircuitFailure(breaker, false, 0, settings, true);
    const openTimes: number[] = [];
    for (let round = 0; round < 3; round += 1) {
      const atMs = breaker.openUntilMs;
      const probe = beginCircuitAttempt(breaker, atMs);
      recordCircuitFailure(breaker, probe, atMs, settings, true);
      openTimes.push(breaker.openUntilMs - atMs);
    }
    expect(openTimes).toEqual([200, 250, 250]);
  });

  it('does not count an ordinary success as a probe', () => {
    const breaker = createCircuitBreaker();
    recordCircuitFailure(breaker, false, 0, settings, true);
    recordCircuitSuccess(breaker, false, settings);
    expect(breaker.consecutiveFailures).toBe(0);
    expect(breaker.state).toBe('closed');
  });

  it('opens sooner on a backend that has never answered', () => {
    const coldSettings = { ...settings, breakerFailureCountMax: 5, breakerColdFailureCountMax: 2 };
    const cold = createCircuitBreaker();
    expect(recordCircuitFailure(cold, false, 0, coldSettings, true)).toBe(false);
    expect(recordCircuitFailure(cold, false, 0, coldSettings, true)).toBe(true);
    expect(cold.state).toBe('open');
    const proven = createCircuitBreaker();
    recordCircuitSuccess(proven, false, coldSettings);
    for (let count = 1; count < 5; count += 1) {
      expect(recordCircuitFailure(proven, false, 0, coldSettings, true)).toBe(false);
    }
    expect(recordCircuitFailure(proven, false, 0, coldSettings, true)).toBe(true);
  });
});
