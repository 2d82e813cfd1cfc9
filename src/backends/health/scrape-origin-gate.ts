/**
 * At most one metrics scrape per origin (scheme, host and port) per interval, however many
 * backends name that origin: a provider registering many backends at one address, or pointing
 * their metrics there, cannot turn the gateway's scrapes into a flood aimed at it.
 */
export class ScrapeOriginGate {
  readonly #intervalMs: number;
  /** When each origin may be scraped again; passed turns are forgotten. */
  readonly #nextAtMs = new Map<string, number>();

  constructor(intervalMs: number) {
    this.#intervalMs = intervalMs;
  }

  /** Takes the origin's turn when it has come: true when one scrape may go to it now. */
  take(origin: string, nowMs: number): boolean {
    const nextAtMs = this.#nextAtMs.get(origin);
    if (nextAtMs !== undefined && nextAtMs > nowMs) {
      return false;
    }
    this.#nextAtMs.set(origin, nowMs + this.#intervalMs);
    return true;
  }

  /** Drops the origins whose turn has come again, so the map holds only origins on hold. */
  forgetPassed(nowMs: number): void {
    for (const [origin, nextAtMs] of this.#nextAtMs) {
      if (nextAtMs <= nowMs) {
        this.#nextAtMs.delete(origin);
      }
    }
  }
}
