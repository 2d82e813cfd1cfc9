import { describe, expect, it } from 'vitest';
import { createCapacityWaitQueue, type SetTimer } from './capacity-wait-queue.ts';

/** Timers that fire only when the test says so. */
function manualTimers(): { setTimer: SetTimer; fireAll(): void } {
  const pending = new Set<() => void>();
  return {
    setTimer(callback) {
      pending.add(callback);
      return () => pending.delete(callback);
    },
    fireAll() {
      for (const callback of [...pending]) {
        pending.delete(callback);
        callback();
      }
    },
  };
}

describe('capacity wait queue', () => {
  it('offers freed capacity to the oldest waiter first, one per notification', async () => {
    const timers = manualTimers();
    const queue = createCapacityWaitQueue({ lengthMax: 10, setTimer: timers.setTimer });
    let free = 0;
    const take = () => (free > 0 ? free-- : undefined);
    const first = queue.wait(take, 1_000);
    const second = queue.wait(take, 1_000);
    expect(queue.length).toBe(2);
    free = 5;
    queue.notify();
    expect(await first).toBe(5);
    expect(queue.length).toBe(1);
    queue.notify();
    expect(await second).toBe(4);
    expect(queue.length).toBe(0);
  });

  it('gives up at the deadline, when the client leaves, and at once when full', async () => {
    const timers = manualTimers();
    const queue = createCapacityWaitQueue({ lengthMax: 2, setTimer: timers.setTimer });
    const never = () => undefined;
    const controller = new AbortController();
    const timedOut = queue.wait(never, 1_000);
    const left = queue.wait(never, 1_000, controller.signal);
    expect(await queue.wait(never, 1_000)).toBeUndefined();
    controller.abort();
    expect(await left).toBeUndefined();
    timers.fireAll();
    expect(await timedOut).toBeUndefined();
    expect(queue.length).toBe(0);
  });

  it('lets a later waiter through when the older one cannot use the capacity', () => {
    const queue = createCapacityWaitQueue({ lengthMax: 10, setTimer: manualTimers().setTimer });
    const served: string[] = [];
    queue.enqueue(
      () => undefined,
      1_000,
      () => served.push('first'),
    );
    queue.enqueue(
      () => 'room',
      1_000,
      (value) => served.push(`second:${value}`),
    );
    queue.notify();
    expect(served).toEqual(['second:room']);
    expect(queue.length).toBe(1);
  });
});
