/**
 * The routers people use today, on the production Router port so the simulation runs them exactly
 * where it runs ours (research/routing.md §3): round-robin, uniform random, LiteLLM's
 * latency-based routing (mean of the last 10 first-token times, unmeasured deployments seeded
 * with 0 so they are tried first, a timeout counts 1000 s, three failures in a row cool a
 * deployment down for 5 s, lowest mean wins) and P2C with PeakEWMA as in tower/Linkerd (cost =
 * peak-sensitive moving average of first-byte time x (pending + 1), decay 10 s, 30 ms default,
 * and a failure's own duration as its sample, which is how fast errors come to look fast).
 * Least-in-flight is the production file.
 */
import type { PooledBackend } from '../../src/backends/backend-pool.ts';
import { plainAttempt, type Router } from '../../src/backends/routing/router.ts';
import type { Clock } from '../../src/platform/clock.ts';
import { type Random, randomIndex } from '../../src/platform/random.ts';

export function createRoundRobinRouter(clock: Clock): Router {
  let next = 0;
  return {
    name: 'round-robin',
    pick(_request, candidates) {
      if (candidates.length === 0) {
        return undefined;
      }
      next = (next + 1) % 1_000_000_007;
      return candidates[next % candidates.length];
    },
    dispatch: (request, backend) => plainAttempt(request, backend, clock.nowMs()),
    observe() {},
  };
}

export function createRandomRouter(random: Random, clock: Clock): Router {
  return {
    name: 'random',
    pick: (_request, candidates) => candidates[randomIndex(random, candidates.length)],
    dispatch: (request, backend) => plainAttempt(request, backend, clock.nowMs()),
    observe() {},
  };
}

type LatencyWindow = { samples: number[]; failuresInRow: number; coolUntilMs: number };

const litellmWindowLength = 10;
const litellmTimeoutSampleMs = 1_000_000;
const litellmAllowedFails = 3;
const litellmCooldownMs = 5_000;

export function createLiteLlmLatencyRouter(random: Random, clock: Clock): Router {
  const windows = new Map<string, LatencyWindow>();
  const windowOf = (id: string) => {
    let window = windows.get(id);
    if (window === undefined) {
      window = { samples: [0], failuresInRow: 0, coolUntilMs: 0 };
      windows.set(id, window);
    }
    return window;
  };
  const record = (id: string, sampleMs: number) => {
    const window = windowOf(id);
    window.samples.push(sampleMs);
    if (window.samples.length > litellmWindowLength) {
      window.samples.shift();
    }
  };
  return {
    name: 'litellm-latency',
    pick(_request, candidates) {
      const nowMs = clock.nowMs();
      const warm = candidates.filter((backend) => windowOf(backend.record.id).coolUntilMs <= nowMs);
      const pool = warm.length > 0 ? warm : candidates;
      let best: PooledBackend[] = [];
      let bestMean = Number.POSITIVE_INFINITY;
      for (const backend of pool) {
        const samples = windowOf(backend.record.id).samples;
        const mean = samples.reduce((sum, sample) => sum + sample, 0) / samples.length;
        if (mean < bestMean) {
          best = [backend];
          bestMean = mean;
        } else if (mean === bestMean) {
          best.push(backend);
        }
      }
      return best[randomIndex(random, best.length)];
    },
    dispatch: (request, backend) => plainAttempt(request, backend, clock.nowMs()),
    observe(attempt, outcome) {
      const id = attempt.backend.record.id;
      const window = windowOf(id);
      if (outcome.kind === 'first_token') {
        window.failuresInRow = 0;
        record(id, outcome.atMs - attempt.dispatchedAtMs);
      } else if (outcome.kind === 'failed') {
        if (outcome.failure === 'timeout' || outcome.failure === 'first_token_timeout') {
          record(id, litellmTimeoutSampleMs);
        }
        window.failuresInRow += 1;
        if (window.failuresInRow >= litellmAllowedFails) {
          window.coolUntilMs = outcome.atMs + litellmCooldownMs;
          window.failuresInRow = 0;
        }
      }
    },
  };
}

type PeakEwma = { estimateMs: number; updatedAtMs: number };

const peakEwmaDecayMs = 10_000;
const peakEwmaDefaultMs = 30;

export function createPeakEwmaRouter(random: Random, clock: Clock): Router {
  const estimates = new Map<string, PeakEwma>();
  /** tower's read: the estimate fades towards 0 while nothing refreshes it. */
  const decayed = (id: string, nowMs: number): PeakEwma => {
    const found = estimates.get(id) ?? { estimateMs: peakEwmaDefaultMs, updatedAtMs: nowMs };
    const elapsed = Math.max(0, nowMs - found.updatedAtMs);
    const estimate = {
      estimateMs: found.estimateMs * Math.exp(-elapsed / peakEwmaDecayMs),
      updatedAtMs: nowMs,
    };
    estimates.set(id, estimate);
    return estimate;
  };
  /** tower's update: a peak is taken as it is, anything else blends in by elapsed time. */
  const sample = (id: string, sampleMs: number, nowMs: number) => {
    const found = estimates.get(id) ?? { estimateMs: peakEwmaDefaultMs, updatedAtMs: nowMs };
    const decay = Math.exp(-Math.max(0, nowMs - found.updatedAtMs) / peakEwmaDecayMs);
    const estimateMs =
      sampleMs > found.estimateMs ? sampleMs : found.estimateMs * decay + sampleMs * (1 - decay);
    estimates.set(id, { estimateMs, updatedAtMs: nowMs });
  };
  const costOf = (backend: PooledBackend, nowMs: number) =>
    decayed(backend.record.id, nowMs).estimateMs * (backend.inFlight + 1);
  return {
    name: 'p2c-peak-ewma',
    pick(_request, candidates) {
      if (candidates.length <= 1) {
        return candidates[0];
      }
      const nowMs = clock.nowMs();
      const first = randomIndex(random, candidates.length);
      let second = randomIndex(random, candidates.length - 1);
      if (second >= first) {
        second += 1;
      }
      const a = candidates[first] as PooledBackend;
      const b = candidates[second] as PooledBackend;
      return costOf(a, nowMs) <= costOf(b, nowMs) ? a : b;
    },
    dispatch: (request, backend) => plainAttempt(request, backend, clock.nowMs()),
    observe(attempt, outcome) {
      if (outcome.kind === 'first_token' || outcome.kind === 'failed') {
        sample(attempt.backend.record.id, outcome.atMs - attempt.dispatchedAtMs, outcome.atMs);
      }
    },
  };
}
