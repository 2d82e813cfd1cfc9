/**
 * Whether this replica's shared hot state (Redis) works, per part, and the rule for falling back
 * to local state when it does not: after a failed call a part keeps to its local state for a
 * retry pause, so a Redis that hangs costs one command timeout per pause rather than one per
 * request; then the next call tries the shared store again. Each change of state is logged once
 * (`shared_state_degraded`, `shared_state_restored`), and every fallback is counted for the
 * metrics. Once closed (the replica shuts down and closes its connections on purpose), a failure
 * is expected and changes nothing: a planned restart must not read as an incident. Money never
 * depends on any of this: it lives only in the database.
 */
import type { Logger } from '../logger.ts';

/** What Redis holds for the replicas: see docs/DEPLOY.md. */
export type SharedStatePart = 'counters' | 'dispatch_counts' | 'catalog_changes' | 'locks';

export const sharedStateParts: readonly SharedStatePart[] = [
  'counters',
  'dispatch_counts',
  'catalog_changes',
  'locks',
];

export type SharedStatePartView = { degraded: boolean; fallbackCount: number };

export type SharedStateHealth = {
  /** False while a recent failure's retry pause lasts: use local state without trying. */
  shouldTry(part: SharedStatePart, nowMs: number): boolean;
  succeeded(part: SharedStatePart): void;
  /** A shared call failed: local state serves it, and the next ones until the retry pause ends. */
  failed(part: SharedStatePart, error: unknown, nowMs: number): void;
  /** Local state served a call the retry pause kept from trying. */
  countFallback(part: SharedStatePart): void;
  view(part: SharedStatePart): SharedStatePartView;
  /** The replica is closing its shared state: failures from now on are its own doing. */
  close(): void;
};

type PartState = { degraded: boolean; retryAtMs: number; fallbackCount: number };

export function createSharedStateHealth(options: {
  logger: Logger;
  retryMs: number;
}): SharedStateHealth {
  const states = new Map<SharedStatePart, PartState>(
    sharedStateParts.map((part) => [
      part,
      { degraded: false, retryAtMs: Number.NEGATIVE_INFINITY, fallbackCount: 0 },
    ]),
  );
  let closed = false;
  const stateOf = (part: SharedStatePart): PartState => {
    const state = states.get(part);
    if (state === undefined) {
      throw new Error(`unknown shared state part ${part}`);
    }
    return state;
  };
  return {
    shouldTry: (part, nowMs) => nowMs >= stateOf(part).retryAtMs,
    succeeded(part) {
      const state = stateOf(part);
      if (state.degraded) {
        state.degraded = false;
        options.logger.log('info', 'shared_state_restored', { part });
      }
      state.retryAtMs = Number.NEGATIVE_INFINITY;
    },
    failed(part, error, nowMs) {
      if (closed) {
        return;
      }
      const state = stateOf(part);
      state.fallbackCount += 1;
      state.retryAtMs = nowMs + options.retryMs;
      if (!state.degraded) {
        state.degraded = true;
        options.logger.log('warn', 'shared_state_degraded', {
          part,
          message: error instanceof Error ? error.message : String(error),
        });
      }
    },
    countFallback(part) {
      stateOf(part).fallbackCount += 1;
    },
    view(part) {
      const state = stateOf(part);
      return { degraded: state.degraded, fallbackCount: state.fallbackCount };
    },
    close() {
      closed = true;
    },
  };
}

/**
 * Runs `shared` when the part may try it, else (or when it fails) `local`. The local answer is
 * what a single gateway would have given: limits per replica instead of across them.
 */
export async function withLocalFallback<Result>(
  health: SharedStateHealth,
  part: SharedStatePart,
  nowMs: number,
  shared: () => Promise<Result>,
  local: () => Promise<Result>,
): Promise<Result> {
  if (!health.shouldTry(part, nowMs)) {
    health.countFallback(part);
    return local();
  }
  let result: Result;
  try {
    result = await shared();
  } catch (error) {
    health.failed(part, error, nowMs);
    return local();
  }
  health.succeeded(part);
  return result;
}
