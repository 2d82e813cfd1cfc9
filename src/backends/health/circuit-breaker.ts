/**
 * One backend's circuit breaker (research/routing.md §6.4): closed while attempts succeed; open
 * after `breakerFailureCountMax` failed attempts in a row (`breakerColdFailureCountMax` while it
 * has never answered: a backend that fails from its first request on is broken, not unlucky, and
 * every request sent there costs a retry), for `breakerOpenMs` doubled at each reopening up to
 * `breakerOpenMsMax`; then half-open, where one real request at a time probes it
 * and `breakerCloseSuccessCount` successes in a row close it. The pool decides whether a circuit
 * may open at all (never more than half of a model's backends), so this file holds only the
 * transitions of one circuit.
 */
import type { Limits } from '../../config.ts';

export type CircuitState = 'closed' | 'open' | 'half_open';

export type CircuitBreaker = {
  state: CircuitState;
  /** An attempt succeeded since the backend joined the pool. */
  answeredOnce: boolean;
  consecutiveFailures: number;
  /** Openings since it last closed: the exponent of the next open time. */
  openings: number;
  openUntilMs: number;
  probesInFlight: number;
  probeSuccesses: number;
};

export type BreakerSettings = Pick<
  Limits,
  | 'breakerFailureCountMax'
  | 'breakerColdFailureCountMax'
  | 'breakerOpenMs'
  | 'breakerOpenMsMax'
  | 'breakerCloseSuccessCount'
>;

/** Half-open lets one probe through at a time: a broken backend costs one request per turn. */
const probesInFlightMax = 1;

export function createCircuitBreaker(): CircuitBreaker {
  return {
    state: 'closed',
    answeredOnce: false,
    consecutiveFailures: 0,
    openings: 0,
    openUntilMs: 0,
    probesInFlight: 0,
    probeSuccesses: 0,
  };
}

/** Moves an open circuit whose time is up to half-open. */
export function refreshCircuit(breaker: CircuitBreaker, nowMs: number): void {
  if (breaker.state === 'open' && nowMs >= breaker.openUntilMs) {
    breaker.state = 'half_open';
    breaker.probeSuccesses = 0;
  }
}

/** Whether a new attempt may go to the backend now. */
export function circuitAdmits(breaker: CircuitBreaker, nowMs: number): boolean {
  refreshCircuit(breaker, nowMs);
  return (
    breaker.state === 'closed' ||
    (breaker.state === 'half_open' && breaker.probesInFlight < probesInFlightMax)
  );
}

/** True when the circuit waits for a probe and none is out: the router sends it one. */
export function circuitWantsProbe(breaker: CircuitBreaker, nowMs: number): boolean {
  refreshCircuit(breaker, nowMs);
  return breaker.state === 'half_open' && breaker.probesInFlight < probesInFlightMax;
}

/** An attempt starts; returns whether it is a half-open probe (its outcome must say so). */
export function beginCircuitAttempt(breaker: CircuitBreaker, nowMs: number): boolean {
  refreshCircuit(breaker, nowMs);
  if (breaker.state !== 'half_open') {
    return false;
  }
  breaker.probesInFlight += 1;
  return true;
}

/** A probe that ended without a verdict (the client left): it frees its turn. */
export function abandonCircuitProbe(breaker: CircuitBreaker, probe: boolean): void {
  if (probe) {
    breaker.probesInFlight = Math.max(0, breaker.probesInFlight - 1);
  }
}

/** Returns true when this success closed the circuit. */
export function recordCircuitSuccess(
  breaker: CircuitBreaker,
  probe: boolean,
  settings: BreakerSettings,
): boolean {
  breaker.consecutiveFailures = 0;
  breaker.answeredOnce = true;
  abandonCircuitProbe(breaker, probe);
  if (!probe || breaker.state !== 'half_open') {
    return false;
  }
  breaker.probeSuccesses += 1;
  if (breaker.probeSuccesses < settings.breakerCloseSuccessCount) {
    return false;
  }
  breaker.state = 'closed';
  breaker.openings = 0;
  breaker.probeSuccesses = 0;
  return true;
}

/**
 * Returns true when this failure opened the circuit. A failed probe reopens it for twice as
 * long; `mayOpen` is the pool's word on whether one more open circuit is allowed.
 */
export function recordCircuitFailure(
  breaker: CircuitBreaker,
  probe: boolean,
  nowMs: number,
  settings: BreakerSettings,
  mayOpen: boolean,
): boolean {
  breaker.consecutiveFailures += 1;
  abandonCircuitProbe(breaker, probe);
  const failedProbe = probe && breaker.state === 'half_open';
  const threshold = breaker.answeredOnce
    ? settings.breakerFailureCountMax
    : Math.min(settings.breakerColdFailureCountMax, settings.breakerFailureCountMax);
  const tripped = breaker.state === 'closed' && breaker.consecutiveFailures >= threshold;
  if (!failedProbe && !(tripped && mayOpen)) {
    return false;
  }
  const openMs = Math.min(
    settings.breakerOpenMs * 2 ** Math.min(breaker.openings, 30),
    settings.breakerOpenMsMax,
  );
  breaker.state = 'open';
  breaker.openings += 1;
  breaker.openUntilMs = nowMs + openMs;
  breaker.probeSuccesses = 0;
  return true;
}
