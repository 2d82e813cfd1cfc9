/**
 * Where requests wait when every candidate backend is full: a bounded FIFO with a deadline per
 * waiter. Each time capacity frees (an attempt ends, a scrape arrives) the waiters are offered it
 * in arrival order until one takes it; a waiter whose deadline passes, whose client leaves or
 * that finds the queue full gets nothing, and the gateway answers 503 no_capacity with
 * Retry-After. Holding the request here rather than at a backend lets it go to whichever backend
 * frees first.
 */
import type { AbortNotice } from '../platform/abort-notice.ts';

/** Schedules `callback` after `delayMs`; returns the function that cancels it. */
export type SetTimer = (callback: () => void, delayMs: number) => () => void;

export type CapacityWaitQueue = {
  /**
   * Calls `done` once: with what `take` returns as soon as it returns something, or with
   * undefined when the deadline passes, the signal aborts, or the queue already holds its maximum
   * (then at once). Callbacks, not a promise, so a discrete-event simulation can drive it.
   */
  enqueue<Value>(
    take: () => Value | undefined,
    timeoutMs: number,
    done: (value: Value | undefined) => void,
    signal?: AbortNotice,
  ): void;
  /** `enqueue` as a promise. */
  wait<Value>(
    take: () => Value | undefined,
    timeoutMs: number,
    signal?: AbortNotice,
  ): Promise<Value | undefined>;
  /** Capacity freed: offers it to the waiters, oldest first, until one takes it. */
  notify(): void;
  readonly length: number;
};

export type CapacityWaitQueueOptions = {
  lengthMax: number;
  setTimer?: SetTimer;
};

type Waiter = { tryTake(): boolean };

/** Waiters offered capacity per notification: bounds the work one freed slot can cause. */
const offersPerNotifyMax = 64;

const defaultSetTimer: SetTimer = (callback, delayMs) => {
  const timer = setTimeout(callback, delayMs);
  return () => clearTimeout(timer);
};

export function createCapacityWaitQueue(options: CapacityWaitQueueOptions): CapacityWaitQueue {
  const setTimer = options.setTimer ?? defaultSetTimer;
  const waiters = new Set<Waiter>();
  function enqueue<Value>(
    take: () => Value | undefined,
    timeoutMs: number,
    done: (value: Value | undefined) => void,
    signal?: AbortNotice,
  ): void {
    if (waiters.size >= options.lengthMax || signal?.aborted === true) {
      done(undefined);
      return;
    }
    const finish = (value: Value | undefined) => {
      waiters.delete(waiter);
      cancelTimer();
      signal?.removeEventListener('abort', onAbort);
      done(value);
    };
    const onAbort = () => finish(undefined);
    const waiter: Waiter = {
      tryTake() {
        const value = take();
        if (value === undefined) {
          return false;
        }
        finish(value);
        return true;
      },
    };
    waiters.add(waiter);
    const cancelTimer = setTimer(() => finish(undefined), timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });
  }
  return {
    enqueue,
    wait: (take, timeoutMs, signal) =>
      new Promise((resolve) => enqueue(take, timeoutMs, resolve, signal)),
    notify() {
      let offered = 0;
      for (const waiter of waiters) {
        offered += 1;
        if (waiter.tryTake() || offered >= offersPerNotifyMax) {
          return;
        }
      }
    },
    get length() {
      return waiters.size;
    },
  };
}
