/**
 * Opens the ioredis connections of a gateway replica with every option explicit, because the
 * library's defaults (queue commands while disconnected, retry each one 20 times, no command
 * timeout) would make requests wait on a Redis that is down; here a call fails fast instead and
 * the caller falls back to local state. Two roles: `commands` (counters, locks, the dispatch-count
 * exchange, publishing) fails at once while disconnected; `subscriber` (catalog changes) keeps its
 * subscription queued and resubscribes by itself after a reconnection. Both reconnect forever with
 * a bounded backoff, so sharing resumes on its own when Redis is back. A connection closed on
 * purpose (closeRedisConnection, at shutdown) logs `redis_connection_closed` at info: a planned
 * restart is not an incident, and only a lost connection logs a warning.
 */
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Limits } from '../../../config.ts';
import type { Logger } from '../../../platform/logger.ts';

export type RedisRole = 'commands' | 'subscriber';

export type RedisConnectionSettings = Pick<
  Limits,
  'redisConnectTimeoutMs' | 'redisCommandTimeoutMs' | 'redisReconnectDelayMsMax'
>;

/** First pause before a reconnection; each further attempt waits this much longer, up to the max. */
const reconnectStepMs = 50;

/** Connections being closed by closeRedisConnection: their close is planned, not a loss. */
const closingOnPurpose = new WeakSet<Redis>();

/** Closes a connection for good, without the warning a lost connection logs. */
export function closeRedisConnection(client: Redis): void {
  closingOnPurpose.add(client);
  client.disconnect();
}

export function openRedisConnection(options: {
  url: string;
  role: RedisRole;
  name: string;
  settings: RedisConnectionSettings;
  logger: Logger;
}): Redis {
  const { settings, role } = options;
  const client = new Redis(options.url, {
    connectionName: options.name,
    connectTimeout: settings.redisConnectTimeoutMs,
    // Subscribing waits for its reply as long as it takes; everything else has a deadline.
    commandTimeout: role === 'commands' ? settings.redisCommandTimeoutMs : undefined,
    enableOfflineQueue: role === 'subscriber',
    // A command cut by a lost connection fails rather than being sent again: a bucket take
    // replayed after a reconnection would be counted twice.
    maxRetriesPerRequest: role === 'commands' ? 0 : null,
    autoResendUnfulfilledCommands: false,
    autoResubscribe: true,
    retryStrategy: (attempt) =>
      Math.min(attempt * reconnectStepMs, settings.redisReconnectDelayMsMax),
    enableReadyCheck: true,
    lazyConnect: false,
    keepAlive: 10_000,
    // Every Redis from 5 on speaks RESP2, and nothing here needs RESP3's reply types.
    protocol: 2,
  });
  let connected = false;
  client.on('ready', () => {
    connected = true;
    options.logger.log('info', 'redis_connected', { role });
  });
  client.on('close', () => {
    if (!connected) {
      return;
    }
    connected = false;
    if (closingOnPurpose.has(client)) {
      options.logger.log('info', 'redis_connection_closed', { role });
    } else {
      options.logger.log('warn', 'redis_connection_lost', { role });
    }
  });
  // Errors reach the callers of commands; without a listener ioredis would print each one.
  client.on('error', () => {});
  return client;
}

/** A Lua script run by its SHA1, loaded on first use (and again after a Redis restart). */
export type RedisScript = {
  run(client: Redis, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown>;
};

export function defineRedisScript(lua: string): RedisScript {
  const sha = createHash('sha1').update(lua).digest('hex');
  return {
    async run(client, keys, args) {
      try {
        return await client.evalsha(sha, keys.length, ...keys, ...args);
      } catch (error) {
        if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) {
          throw error;
        }
        return client.eval(lua, keys.length, ...keys, ...args);
      }
    },
  };
}

/** A reply that must be an integer: anything else means a script and its caller disagree. */
export function integerReply(reply: unknown, what: string): number {
  if (typeof reply !== 'number' || !Number.isSafeInteger(reply)) {
    throw new Error(`${what}: expected an integer reply, got ${JSON.stringify(reply)}`);
  }
  return reply;
}
