/**
 * Runs one asynchronous visit per item with at most `concurrency` of them in flight, and answers
 * their results in the items' order: how a Worker asks many Durable Objects at once without
 * opening a connection to every one of them together.
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
  async function lane(): Promise<void> {
    // Each lane takes the next item once its own visit ended: no more than `concurrency` run.
    while (next < items.length) {
      const index = next;
      next += 1;
      results[index] = await visit(items[index] as Item);
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, lane));
  return results;
}
