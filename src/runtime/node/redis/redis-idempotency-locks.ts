/**
 * IdempotencyLocks in Redis: `SET <prefix>lock:<name> <token> NX PX <ttl>` takes a lock only if
 * nobody holds it, and a script deletes it only while it still holds this lease's random token,
 * so a lease whose lock expired and was taken by someone else never frees the new holder's lock.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type {
  IdempotencyLocks,
  LockLease,
} from '../../../platform/shared-state/idempotency-locks.ts';
import { defineRedisScript } from './redis-connection.ts';

/** KEYS[1] the lock; ARGV[1] the lease's token. Deletes the lock only if the token matches. */
const releaseScript = defineRedisScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`);

export function createRedisIdempotencyLocks(options: {
  client: Redis;
  prefix: string;
}): IdempotencyLocks {
  const { client, prefix } = options;
  return {
    async acquire(name, ttlMs) {
      const key = `${prefix}lock:${name}`;
      const token = randomUUID();
      const taken = await client.set(key, token, 'PX', ttlMs, 'NX');
      if (taken !== 'OK') {
        return undefined;
      }
      let released = false;
      const lease: LockLease = {
        async release() {
          if (released) {
            return;
          }
          released = true;
          await releaseScript.run(client, [key], [token]);
        },
      };
      return lease;
    },
  };
}
