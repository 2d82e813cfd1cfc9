/**
 * An abort as the gateway listens for it: the part of an AbortSignal it uses (whether it
 * happened, a listener added and removed). An AbortSignal is one; so are the lighter ones here
 * and in the runtimes, since creating an AbortSignal costs about 4 µs on Node 20 (and more to
 * collect) where the gateway needs one per request and one per attempt.
 */
export type AbortNotice = {
  /** Whether the abort happened. */
  readonly aborted: boolean;
  /** `listener` runs once when the abort happens; never for one that already happened. */
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
};

/** An abort its owner sets off, for its listeners: an AbortController without the AbortSignal. */
export class AbortSwitch implements AbortNotice {
  #aborted = false;
  #listeners: Array<() => void> = [];

  get aborted(): boolean {
    return this.#aborted;
  }

  /** Every listener runs at most once: the switch flips once. */
  addEventListener(_type: 'abort', listener: () => void, _options?: { once?: boolean }): void {
    if (!this.#aborted) {
      this.#listeners.push(listener);
    }
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    const index = this.#listeners.indexOf(listener);
    if (index >= 0) {
      this.#listeners.splice(index, 1);
    }
  }

  /** Aborts and tells the listeners, in the order they came; a second call does nothing. */
  abort(): void {
    if (this.#aborted) {
      return;
    }
    this.#aborted = true;
    const listeners = this.#listeners;
    this.#listeners = [];
    for (const listener of listeners) {
      listener();
    }
  }
}
