import { describe, expect, it } from 'vitest';
import { mapBounded } from './map-bounded.ts';

/** A visit that ends when the test says so, so the lanes' overlap is observed, not timed. */
function gatedVisits() {
  const started: number[] = [];
  const finishers = new Map<number, () => void>();
  let inFlight = 0;
  let inFlightMax = 0;
  const visit = (item: number) =>
    new Promise<number>((resolve) => {
      started.push(item);
      inFlight += 1;
      inFlightMax = Math.max(inFlightMax, inFlight);
      finishers.set(item, () => {
        inFlight -= 1;
        resolve(item * 10);
      });
    });
  const finish = (item: number) => finishers.get(item)?.();
  return { visit, finish, started, inFlightMax: () => inFlightMax };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('mapBounded', () => {
  it('keeps at most `concurrency` visits in flight and answers in the items order', async () => {
    const gated = gatedVisits();
    const answer = mapBounded([1, 2, 3, 4, 5], 2, gated.visit);
    await settle();
    expect(gated.started).toEqual([1, 2]);
    gated.finish(2);
    await settle();
    expect(gated.started).toEqual([1, 2, 3]);
    for (const item of [1, 3, 4, 5]) {
      gated.finish(item);
      await settle();
    }
    expect(await answer).toEqual([10, 20, 30, 40, 50]);
    expect(gated.inFlightMax()).toBe(2);
  });

  it('answers nothing for no items and refuses a concurrency below one', async () => {
    expect(await mapBounded([], 3, async () => 1)).toEqual([]);
    await expect(mapBounded([1], 0, async () => 1)).rejects.toThrow('concurrency');
  });

  it('starts nothing after a visit fails, and rejects once the running ones ended', async () => {
    const gated = gatedVisits();
    const answer = mapBounded([1, 2, 3, 4], 2, async (item) => {
      if (item === 2) {
        throw new Error('object unreachable');
      }
      return gated.visit(item);
    });
    let rejected = false;
    answer.catch(() => {
      rejected = true;
    });
    await settle();
    expect(gated.started).toEqual([1]);
    expect(rejected).toBe(false);
    gated.finish(1);
    await expect(answer).rejects.toThrow('object unreachable');
    expect(gated.started).toEqual([1]);
  });
});
