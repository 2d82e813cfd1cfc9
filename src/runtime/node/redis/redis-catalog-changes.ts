/**
 * The CatalogChangeBus over Redis pub/sub: one channel per deployment (`<prefix>catalog`), a
 * JSON message per change naming the replica that made it (which ignores its own). A subscriber
 * connection of its own, because a connection that subscribes can do nothing else. Every time it
 * becomes ready, the first time included, the replica resynchronises its caches: pub/sub keeps
 * nothing for a disconnected listener, so whatever was announced meanwhile is read again.
 */
import type { Redis } from 'ioredis';
import { parseCatalogChange } from '../../../gateway/replicas/catalog-changes.ts';
import type { Logger } from '../../../platform/logger.ts';
import type {
  CatalogChangeBus,
  CatalogChangeHandlers,
} from '../../../platform/shared-state/catalog-change-bus.ts';
import type { SharedStateHealth } from '../../../platform/shared-state/shared-state-health.ts';

/** Longest message accepted from the channel; a change is a few dozen bytes. */
const messageBytesMax = 4096;

export type RedisCatalogChangesOptions = {
  publisher: Redis;
  subscriber: Redis;
  prefix: string;
  instanceId: string;
  health: SharedStateHealth;
  logger: Logger;
};

export function createRedisCatalogChanges(options: RedisCatalogChangesOptions): CatalogChangeBus {
  const { publisher, subscriber, instanceId, health, logger } = options;
  const channel = `${options.prefix}catalog`;
  return {
    async publish(change) {
      await publisher.publish(channel, JSON.stringify({ origin: instanceId, change }));
    },
    subscribe(handlers: CatalogChangeHandlers) {
      subscriber.on('message', (from: string, text: string) => {
        if (from !== channel || text.length > messageBytesMax) {
          return;
        }
        const message = parseMessage(text);
        if (message === undefined) {
          logger.log('warn', 'catalog_change_ignored', { length: text.length });
          return;
        }
        if (message.origin !== instanceId) {
          handlers.change(message.change);
        }
      });
      subscriber.on('ready', () => {
        health.succeeded('catalog_changes');
        handlers.resync();
      });
      subscriber.on('close', () => {
        health.failed('catalog_changes', 'the subscriber connection closed', Date.now());
      });
      // Queued until the connection is ready; ioredis subscribes again after each reconnection.
      const subscribed = subscriber.subscribe(channel);
      subscribed.catch((error: unknown) => {
        logger.log('error', 'catalog_subscribe_failed', {
          message: error instanceof Error ? error.message : String(error),
        });
      });
      if (subscriber.status === 'ready') {
        // Ready before anyone listened: resynchronise once the subscription is in place.
        subscribed.then(
          () => {
            health.succeeded('catalog_changes');
            handlers.resync();
          },
          () => {},
        );
      }
    },
  };
}

function parseMessage(text: string) {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || !('origin' in value) || !('change' in value)) {
    return undefined;
  }
  const change = parseCatalogChange(value.change);
  return typeof value.origin === 'string' && change !== undefined
    ? { origin: value.origin, change }
    : undefined;
}
