/**
 * Paces a simulated generation in real time. Deadlines are absolute (each step is due a duration
 * after the previous deadline, not after the previous wake-up), so timer granularity never slows a
 * fast simulation down: steps shorter than a millisecond run back to back until the schedule is due.
 */

import type { Clock } from '../platform/clock.ts';
import type { Random } from '../platform/random.ts';

export type GenerationPacer = {
  /** Waits until `durationMs` (with jitter) after the previous deadline, or until `signal` aborts. */
  advance(durationMs: number, signal: AbortSignal): Promise<void>;
};

export type GenerationPacerSetup = {
  clock: Clock;
  random: Random;
  /** Each duration is scaled by a factor drawn from [1 - fraction, 1 + fraction]. */
  jitterFraction: number;
};

/** Below this, waiting costs more than it simulates: the step runs now and the debt carries over. */
const sleepThresholdMs = 1;

export function createGenerationPacer(setup: GenerationPacerSetup): GenerationPacer {
  let deadlineMs = setup.clock.nowMs();
  return {
    async advance(durationMs, signal) {
      deadlineMs += jitterDuration(durationMs, setup.random, setup.jitterFraction);
      const waitMs = deadlineMs - setup.clock.nowMs();
      if (waitMs >= sleepThresholdMs) {
        await sleep(waitMs, signal);
      }
    },
  };
}

export function jitterDuration(durationMs: number, random: Random, jitterFraction: number): number {
  if (jitterFraction === 0 || durationMs === 0) {
    return durationMs;
  }
  return durationMs * (1 + jitterFraction * (2 * random() - 1));
}

/** setTimeout fires at once for delays above a signed 32-bit count of milliseconds (~24.8 days). */
const timerDelayMsMax = 2_147_483_647;

/** Resolves after `durationMs`, or as soon as `signal` aborts (never rejects). */
export function sleep(durationMs: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) {
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      },
      Math.min(durationMs, timerDelayMsMax),
    );
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Resolves when `signal` aborts: how the `hang` fault waits for its client to give up. */
export function waitForAbort(signal: AbortSignal): Promise<void> {
  if (signal.aborted) {
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    signal.addEventListener('abort', () => resolve(), { once: true });
  });
}
