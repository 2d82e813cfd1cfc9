/**
 * The CatalogChangeBus of the Worker isolates: a change is appended to the coordinator object's log
 * (catalog-change-log.ts), and each isolate reads the log at most every `catalogChangePollMs`,
 * from a request it is serving (after the response, through waitUntil), and applies what other
 * isolates announced. An isolate cannot be pushed to, so this is how a revoked key or a new price
 * reaches the others within about a poll interval, instead of the credential TTL or catalog
 * refresh interval that stay the bound when the coordinator object cannot be read.
 */
import type { Clock } from '../../../platform/clock.ts';
import type { Logger } from '../../../platform/logger.ts';
import type {
  CatalogChangeBus,
  CatalogChangeHandlers,
} from '../../../platform/shared-state/catalog-change-bus.ts';
import type { AnnouncedChange, ChangeCursor, ChangesRead } from './catalog-change-log.ts';

/** The coordinator object's side of the bus. */
export type CatalogChangeSource = {
  publishChange(announced: AnnouncedChange): Promise<void>;
  changesAfter(cursor: ChangeCursor | undefined): Promise<ChangesRead>;
};

export type PolledCatalogChanges = CatalogChangeBus & {
  /** Reads the log if the last read is older than the poll interval; else does nothing. */
  pollIfDue(): Promise<void> | undefined;
};

export function createPolledCatalogChanges(options: {
  /** A fresh stub on each use: a stub is bound to the request that made it. */
  source: () => CatalogChangeSource;
  instanceId: string;
  clock: Clock;
  logger: Logger;
  pollMs: number;
}): PolledCatalogChanges {
  const { instanceId, clock } = options;
  let handlers: CatalogChangeHandlers | undefined;
  let cursor: ChangeCursor | undefined;
  let lastPollAtMs = Number.NEGATIVE_INFINITY;
  let polling = false;

  const read = async () => {
    const answer = await options.source().changesAfter(cursor);
    const starting = cursor === undefined;
    cursor = answer.cursor;
    if (answer.resync) {
      handlers?.resync();
      return;
    }
    // A first read only places the cursor: the isolate loaded the catalog just before.
    for (const announced of starting ? [] : answer.changes) {
      if (announced.origin !== instanceId) {
        handlers?.change(announced.change);
      }
    }
  };

  return {
    publish: (change) => options.source().publishChange({ origin: instanceId, change }),
    subscribe(subscribed) {
      handlers = subscribed;
    },
    pollIfDue() {
      const nowMs = clock.nowMs();
      if (polling || nowMs - lastPollAtMs < options.pollMs) {
        return undefined;
      }
      lastPollAtMs = nowMs;
      polling = true;
      return read()
        .catch((error: unknown) => {
          options.logger.log('warn', 'catalog_changes_unread', {
            error: error instanceof Error ? error.message : String(error),
          });
        })
        .finally(() => {
          polling = false;
        });
    },
  };
}
