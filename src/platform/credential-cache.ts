/**
 * A bounded, time-limited cache of authenticated credentials by their hash, so the hot path does
 * not read the store on every request. A revocation in this process removes the entry at once;
 * other processes see it within the TTL.
 */
import type { Clock } from './clock.ts';

type Entry<Value> = { value: Value; expiresAtMs: number };

export class CredentialCache<Value> {
  readonly #entries = new Map<string, Entry<Value>>();
  readonly #ttlMs: number;
  readonly #entriesMax: number;
  readonly #clock: Clock;

  constructor(options: { ttlMs: number; entriesMax: number; clock: Clock }) {
    this.#ttlMs = options.ttlMs;
    this.#entriesMax = options.entriesMax;
    this.#clock = options.clock;
  }

  get(hash: string): Value | undefined {
    const entry = this.#entries.get(hash);
    if (!entry) {
      return undefined;
    }
    if (entry.expiresAtMs <= this.#clock.nowMs()) {
      this.#entries.delete(hash);
      return undefined;
    }
    return entry.value;
  }

  set(hash: string, value: Value): void {
    if (this.#ttlMs === 0) {
      return;
    }
    if (this.#entries.size >= this.#entriesMax) {
      // Maps iterate in insertion order: the first key is the oldest entry.
      const oldest = this.#entries.keys().next();
      if (!oldest.done) {
        this.#entries.delete(oldest.value);
      }
    }
    this.#entries.set(hash, { value, expiresAtMs: this.#clock.nowMs() + this.#ttlMs });
  }

  /** Drops every entry the predicate matches (a revoked key, a changed tenant). */
  deleteWhere(predicate: (value: Value) => boolean): void {
    for (const [hash, entry] of this.#entries) {
      if (predicate(entry.value)) {
        this.#entries.delete(hash);
      }
    }
  }
}
