/**
 * Runs an idempotent money operation (a top-up, a coupon grant) under the lock of its reference,
 * so that two replicas, or two requests, never run the same reference at once. The second one
 * waits for the first (up to `referenceLockWaitMs`), then runs and finds the first one's result:
 * it answers that result's duplicate, exactly as a later replay would. Only a first one that runs
 * longer than the wait gets 409 operation_in_progress with retry-after 1 s. The ledger's unique
 * keys still guarantee that the money moves once; the lock keeps that outcome clean on every
 * store (no unique-key race surfacing as a 500).
 */
import type { Deps } from '../../deps.ts';
import { GatewayError } from '../../errors.ts';

/** How often a waiting request tries the lock again. */
const pollMs = 10;

export async function withReferenceLock<Result>(
  deps: Deps,
  name: string,
  work: () => Promise<Result>,
): Promise<Result> {
  const { referenceLockTtlMs, referenceLockWaitMs } = deps.config.limits;
  let lease = await deps.sharedState.locks.acquire(name, referenceLockTtlMs);
  // Counted in attempts, not clock time: the clock may be a test's, moved only by hand.
  for (
    let attempt = 0;
    lease === undefined && attempt < referenceLockWaitMs / pollMs;
    attempt += 1
  ) {
    await new Promise((resolve) => setTimeout(resolve, pollMs));
    lease = await deps.sharedState.locks.acquire(name, referenceLockTtlMs);
  }
  if (lease === undefined) {
    throw new GatewayError(
      'operation_in_progress',
      'Another request with this reference is in progress; retry to get its result.',
      { param: 'reference', retryAfterS: 1 },
    );
  }
  try {
    return await work();
  } finally {
    // A lock left behind expires with its TTL; the operation's answer stands either way.
    await lease.release().catch((error: unknown) =>
      deps.logger.log('warn', 'reference_lock_release_failed', {
        message: error instanceof Error ? error.message : String(error),
      }),
    );
  }
}
