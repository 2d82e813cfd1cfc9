/**
 * The CounterStore of the gateway on Workers: each rate key's counters in a Durable Object of its
 * own (rate-limit-object.ts), so the rpm, tpm and stream-slot limits of an API key hold across
 * every isolate, as Redis makes them hold across Node replicas. One RPC per call, to the object
 * of the call's key; the caller's `atMs` is not sent, since the object refills by its own clock.
 * workers-deps.ts wraps it like Redis (degrading-counter-store.ts): an object that fails to
 * answer leaves the isolate to its own counters until the retry pause is over.
 */
import type {
  Bucket,
  CounterStore,
  TakeResult,
} from '../../../platform/shared-state/counter-store.ts';
import type { DurableObjectNamespace } from '../workers-types.ts';

/** The RPC methods of RateLimitObject, as a Worker calls them. */
export type RateLimitStub = {
  take(bucket: Bucket, amount: number): Promise<TakeResult>;
  give(bucket: Bucket, amount: number): Promise<void>;
  acquire(key: string, countMax: number, holdMs: number): Promise<boolean>;
  release(key: string): Promise<void>;
};

export function createDurableCounterStore(options: {
  objects: DurableObjectNamespace<RateLimitStub>;
  /** How long a stream slot is held when its release never comes (the isolate died). */
  holdMs: number;
}): CounterStore {
  const { objects, holdMs } = options;
  // A stub is bound to the request that made it: each call takes a fresh one.
  const objectOf = (key: string) => objects.get(objects.idFromName(key));
  return {
    take: (bucket, amount) => objectOf(bucket.key).take(bucket, amount),
    give: (bucket, amount) => objectOf(bucket.key).give(bucket, amount),
    acquire: (key, countMax) => objectOf(key).acquire(key, countMax, holdMs),
    release: (key) => objectOf(key).release(key),
  };
}
