/**
 * Work that outlives the response that started it (a stream's settlement after its last byte).
 * Every such promise is tracked so that a graceful shutdown waits for it before closing the
 * store: nothing is left half-settled by a deploy.
 */
import type { Logger } from './logger.ts';

export type BackgroundWork = {
  track(name: string, work: Promise<unknown>): void;
  /** Resolves when everything tracked so far has finished. */
  drain(): Promise<void>;
  readonly pendingCount: number;
};

export function createBackgroundWork(logger: Logger): BackgroundWork {
  const pending = new Set<Promise<unknown>>();
  return {
    track(name, work) {
      const tracked = work
        .catch((error: unknown) => {
          logger.log('error', 'background_work_failed', {
            name,
            message: error instanceof Error ? error.message : String(error),
          });
        })
        .finally(() => pending.delete(tracked));
      pending.add(tracked);
    },
    async drain() {
      while (pending.size > 0) {
        await Promise.allSettled([...pending]);
      }
    },
    get pendingCount() {
      return pending.size;
    },
  };
}
