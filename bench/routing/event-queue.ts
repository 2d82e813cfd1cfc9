/**
 * The discrete-event simulation's clock and agenda: events in a binary heap ordered by virtual
 * time, then by the order they were scheduled, so equal times replay in the same order on every
 * run. Nothing sleeps; `run` jumps from one event to the next.
 */
import type { Clock } from '../../src/platform/clock.ts';
import { MinHeap } from './min-heap.ts';

type ScheduledEvent = { atMs: number; order: number; action: () => void };

export class EventQueue implements Clock {
  readonly #heap = new MinHeap<ScheduledEvent>(earlier);
  #order = 0;
  #nowMs = 0;
  processedCount = 0;

  nowMs(): number {
    return this.#nowMs;
  }

  /** Runs `action` `delayMs` from now (never in the past). */
  after(delayMs: number, action: () => void): void {
    this.at(this.#nowMs + Math.max(0, delayMs), action);
  }

  at(atMs: number, action: () => void): void {
    this.#heap.push({ atMs: Math.max(atMs, this.#nowMs), order: this.#order++, action });
  }

  /** Processes events up to `untilMs`; the clock then reads `untilMs`. */
  run(untilMs: number): void {
    for (
      let next = this.#heap.peek();
      next !== undefined && next.atMs <= untilMs;
      next = this.#heap.peek()
    ) {
      this.#heap.pop();
      this.#nowMs = next.atMs;
      this.processedCount += 1;
      next.action();
    }
    this.#nowMs = untilMs;
  }
}

function earlier(first: ScheduledEvent, second: ScheduledEvent): boolean {
  return first.atMs < second.atMs || (first.atMs === second.atMs && first.order < second.order);
}
