/**
 * The IdempotencyLocks port: short-lived named locks that keep two replicas from running the same
 * idempotent operation (a top-up or a coupon grant with one reference) at the same time. The
 * database's unique keys remain the guarantee that an operation happens once; the lock makes the
 * answer clean and store-independent: while one replica runs a reference, another answers "in
 * progress, retry" instead of racing it into a unique-key violation. A lock expires by itself
 * after its TTL, so a replica that dies holding one blocks its reference for that long at most.
 *
 * This file holds the in-memory implementation (one process) and the degrading one that uses the
 * shared locks (Redis) and falls back to this process's own when they fail.
 */
import type { Clock } from '../clock.ts';
import { type SharedStateHealth, withLocalFallback } from './shared-state-health.ts';

export type LockLease = {
  /** Frees the lock if this lease still holds it; only the first call counts. */
  release(): Promise<void>;
};

export type IdempotencyLocks = {
  /** The lock on `name` for at most `ttlMs`, or undefined while someone else holds it. */
  acquire(name: string, ttlMs: number): Promise<LockLease | undefined>;
};

export function createMemoryIdempotencyLocks(clock: Clock): IdempotencyLocks {
  /** Held locks by name: the lease that holds each and when it expires. */
  const held = new Map<string, { lease: LockLease; expiresAtMs: number }>();
  return {
    async acquire(name, ttlMs) {
      const current = held.get(name);
      const nowMs = clock.nowMs();
      if (current !== undefined && current.expiresAtMs > nowMs) {
        return undefined;
      }
      const lease: LockLease = {
        async release() {
          if (held.get(name)?.lease === lease) {
            held.delete(name);
          }
        },
      };
      held.set(name, { lease, expiresAtMs: nowMs + ttlMs });
      return lease;
    },
  };
}

export function createDegradingIdempotencyLocks(options: {
  shared: IdempotencyLocks;
  local: IdempotencyLocks;
  health: SharedStateHealth;
  clock: Clock;
}): IdempotencyLocks {
  const { shared, local, health, clock } = options;
  return {
    acquire: (name, ttlMs) =>
      withLocalFallback(
        health,
        'locks',
        clock.nowMs(),
        () => shared.acquire(name, ttlMs),
        () => local.acquire(name, ttlMs),
      ),
  };
}
