/**
 * Runs one asynchronous visit per item with at most `concurrency` of them in flight, and answers
 * their results in the items' order: how a Worker asks many Durable Objects at once without
 * opening a connection to every one of them together. After a visit fails no new one starts, and
 * the failure is thrown once the visits already running have ended, so nothing the caller
 * started is still running when it hears of the failure (and, say, tries again).
 */
import { assert } from '../assert.ts';

export async function mapBounded<Item, Result>(
  items: readonly Item[],
  concurrency: number,
  visit: (item: Item) => Promise<Result>,
): Promise<Result[]> {
  assert(Number.isInteger(concurrency) && concurrency > 0, 'concurrency is a positive integer');
  const results: Result[] = new Array(items.length);
  let next = 0;
  let failed = false;
  async function lane(): Promise<void> {
    // Each lane takes the next item once its own visit ended: no more than `concurrency` run.
    while (next < items.length && !failed) {
      const index = next;
      next += 1;
      try {
        results[index] = await visit(items[index] as Item);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  }
  const lanes = Array.from({ length: Math.min(concurrency, items.length) }, lane);
  const ended = await Promise.allSettled(lanes);
  const failure = ended.find((lane) => lane.status === 'rejected');
  if (failure) {
    throw failure.reason;
  }
  return results;
}
