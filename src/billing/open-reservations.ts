/**
 * The reservations this process made and has not yet ended, with their holds: settling one in the
 * same process then needs no read of what it wrote itself. Only a shortcut: the store's guarded
 * "end once" update still decides whether a settle is the first, so another process (a sweeper)
 * ending the reservation first is always seen. Bounded: past `entriesMax`, the oldest entry is
 * forgotten and its settle reads the store instead.
 */
import { assert } from '../assert.ts';

export class OpenReservations<Entry> {
  readonly #entries = new Map<string, Entry>();
  readonly #entriesMax: number;

  constructor(entriesMax: number) {
    assert(Number.isInteger(entriesMax) && entriesMax > 0, 'entriesMax is a positive integer');
    this.#entriesMax = entriesMax;
  }

  remember(requestId: string, open: Entry): void {
    if (this.#entries.size >= this.#entriesMax) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) {
        this.#entries.delete(oldest.value);
      }
    }
    this.#entries.set(requestId, open);
  }

  get(requestId: string): Entry | undefined {
    return this.#entries.get(requestId);
  }

  forget(requestId: string): void {
    this.#entries.delete(requestId);
  }

  get size(): number {
    return this.#entries.size;
  }
}
