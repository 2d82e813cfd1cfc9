/**
 * A CounterStore shared by the replicas (Redis) that degrades to this process's own counters when
 * the shared one fails or times out, and goes back to it once it answers again. While degraded,
 * each replica enforces the limits alone: a key may get up to (replicas x its rpm) in the worst
 * case, never less than its rpm, and requests keep flowing. What was taken from one store and
 * given back to the other is harmless: a give never raises a bucket above its capacity.
 *
 * Stream slots are released where they were acquired: a slot taken locally during an outage is
 * given back locally, so it never frees someone else's slot in the shared count after recovery
 * (a shared slot whose release fails expires with its holder TTL in the shared store).
 */
import type { Clock } from '../clock.ts';
import type { CounterStore } from './counter-store.ts';
import { type SharedStateHealth, withLocalFallback } from './shared-state-health.ts';

export function createDegradingCounterStore(options: {
  shared: CounterStore;
  local: CounterStore;
  health: SharedStateHealth;
  clock: Clock;
}): CounterStore {
  const { shared, local, health, clock } = options;
  /** Slots acquired from the local store during an outage, per key, still held. */
  const localHolders = new Map<string, number>();
  const fallback = <Result>(sharedCall: () => Promise<Result>, localCall: () => Promise<Result>) =>
    withLocalFallback(health, 'counters', clock.nowMs(), sharedCall, localCall);

  return {
    take: (bucket, amount, atMs) =>
      fallback(
        () => shared.take(bucket, amount, atMs),
        () => local.take(bucket, amount, atMs),
      ),
    give: (bucket, amount, atMs) =>
      fallback(
        () => shared.give(bucket, amount, atMs),
        () => local.give(bucket, amount, atMs),
      ),
    acquire: (key, countMax) =>
      fallback(
        () => shared.acquire(key, countMax),
        async () => {
          const acquired = await local.acquire(key, countMax);
          if (acquired) {
            localHolders.set(key, (localHolders.get(key) ?? 0) + 1);
          }
          return acquired;
        },
      ),
    async release(key) {
      const held = localHolders.get(key) ?? 0;
      if (held > 0) {
        if (held === 1) {
          localHolders.delete(key);
        } else {
          localHolders.set(key, held - 1);
        }
        await local.release(key);
        return;
      }
      // Nothing to release locally: a failed shared release leaves the slot to its holder TTL.
      await fallback(
        () => shared.release(key),
        async () => {},
      );
    },
  };
}
