/**
 * A Map with a bound on its entries: past `entriesMax`, the oldest entry is forgotten. For the
 * in-memory shortcuts of the stores (reservations this process made, coupon terms, payout
 * rates), where a forgotten entry only means reading the store again.
 */
import { assert } from '../assert.ts';

export class BoundedMap<Entry> {
  readonly #entries = new Map<string, Entry>();
  readonly #entriesMax: number;

  constructor(entriesMax: number) {
    assert(Number.isInteger(entriesMax) && entriesMax > 0, 'entriesMax is a positive integer');
    this.#entriesMax = entriesMax;
  }

  remember(key: string, entry: Entry): void {
    if (this.#entries.size >= this.#entriesMax) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) {
        this.#entries.delete(oldest.value);
      }
    }
    this.#entries.set(key, entry);
  }

  get(key: string): Entry | undefined {
    return this.#entries.get(key);
  }

  forget(key: string): void {
    this.#entries.delete(key);
  }

  /** Forgets every entry: what they said may no longer hold. */
  clear(): void {
    this.#entries.clear();
  }

  entries(): IterableIterator<[string, Entry]> {
    return this.#entries.entries();
  }

  get size(): number {
    return this.#entries.size;
  }
}
