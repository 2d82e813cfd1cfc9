/**
 * One GPU server of the simulation, modelled as a continuous-batching engine (research/routing.md
 * §7.2): at most `slots` sequences run; a sequence is admitted when a slot and KV room for its
 * prompt and output are free; each step prefills up to a token budget (chunked prefill) and
 * decodes one token of every sequence past its prefill, and lasts
 *
 *   (base + perSequence x decoding) / decodeSpeed + perPrefillToken x prefilled / speed
 *
 * (a step that decodes nothing: (base + perPrefillToken x prefilled) / speed). `decodeSpeed` is
 * `speed` for an ordinary server; a memory-bound one decodes slower than it prefills. The last
 * prefill chunk yields the first token. The server counts the seconds it spent per decoded token,
 * as vLLM's inter-token histogram does. Events are per step, never per token: finishing
 * steps sit in a heap. Faults change what the server does with new requests (refuse them, answer
 * 503 or 429 at once, swallow them) or how fast it runs.
 */
import type { EventQueue } from './event-queue.ts';
import { MinHeap } from './min-heap.ts';

export type BackendKind = {
  name: string;
  speed: number;
  decodeSpeed: number;
  slots: number;
  kvTokens: number;
};

export type BackendTimings = {
  stepBaseMs: number;
  stepPerSequenceMs: number;
  stepPerPrefillTokenMs: number;
  prefillTokensPerStepMax: number;
};

export const defaultTimings: BackendTimings = {
  stepBaseMs: 10,
  stepPerSequenceMs: 0.3,
  stepPerPrefillTokenMs: 0.05,
  prefillTokensPerStepMax: 2048,
};

/** What the server does with a new request. */
export type BackendMode = 'up' | 'crashed' | 'black_hole' | 'fast_503' | 'rate_limited';

export type SequenceCallbacks = {
  firstToken(): void;
  done(): void;
  /** The server died under it; `afterFirstToken` says whether the client had output already. */
  cut(afterFirstToken: boolean): void;
};

type Sequence = {
  promptTokens: number;
  outputTokens: number;
  prefillLeftTokens: number;
  finishStep: number;
  state: 'waiting' | 'prefill' | 'decode' | 'ended';
  callbacks: SequenceCallbacks;
};

export type SequenceHandle = { cancel(): void };

export class SimulatedBackend {
  readonly id: string;
  readonly region: string;
  readonly kind: BackendKind;
  mode: BackendMode = 'up';
  /** Multiplies step time: 5 is a gray failure running at a fifth of its speed. */
  slowdown = 1;
  readonly #events: EventQueue;
  readonly #timings: BackendTimings;
  #waiting: Sequence[] = [];
  #waitingHead = 0;
  #prefilling: Sequence[] = [];
  readonly #decodeHeap = new MinHeap<Sequence>(
    (first, second) => first.finishStep < second.finishStep,
  );
  #decodingCount = 0;
  #runningCount = 0;
  #kvUsedTokens = 0;
  #step = 0;
  #stepping = false;
  #decodeSeconds = 0;
  #decodedTokens = 0;

  constructor(
    id: string,
    region: string,
    kind: BackendKind,
    events: EventQueue,
    timings = defaultTimings,
  ) {
    this.id = id;
    this.region = region;
    this.kind = kind;
    this.#events = events;
    this.#timings = timings;
  }

  /**
   * Requests running and waiting, the KV cache in use, and the running totals of decode time
   * and decoded tokens: what `/metrics` would say.
   */
  load(): {
    running: number;
    waiting: number;
    kvCacheUsage: number;
    decodeSeconds: number;
    decodedTokens: number;
  } {
    return {
      running: this.#runningCount,
      waiting: this.#waiting.length - this.#waitingHead,
      kvCacheUsage: this.#kvUsedTokens / this.kind.kvTokens,
      decodeSeconds: this.#decodeSeconds,
      decodedTokens: this.#decodedTokens,
    };
  }

  submit(promptTokens: number, outputTokens: number, callbacks: SequenceCallbacks): SequenceHandle {
    const sequence: Sequence = {
      promptTokens,
      outputTokens: Math.max(1, outputTokens),
      prefillLeftTokens: promptTokens,
      finishStep: 0,
      state: 'waiting',
      callbacks,
    };
    this.#waiting.push(sequence);
    this.#ensureStepping();
    return { cancel: () => this.#end(sequence) };
  }

  /** Everything queued or running is cut, as a process crash does. */
  cutEverything(): void {
    const all = [
      ...this.#waiting.slice(this.#waitingHead),
      ...this.#prefilling,
      ...this.#decodeHeap.items(),
    ];
    for (const sequence of all) {
      if (sequence.state !== 'ended') {
        const afterFirstToken = sequence.state === 'decode';
        this.#end(sequence);
        sequence.callbacks.cut(afterFirstToken);
      }
    }
    this.#waiting = [];
    this.#waitingHead = 0;
    this.#prefilling = [];
    this.#decodeHeap.clear();
  }

  #end(sequence: Sequence): void {
    if (sequence.state === 'prefill' || sequence.state === 'decode') {
      this.#runningCount -= 1;
      this.#kvUsedTokens -= sequence.promptTokens + sequence.outputTokens;
    }
    if (sequence.state === 'decode') {
      this.#decodingCount -= 1;
    }
    sequence.state = 'ended';
  }

  #ensureStepping(): void {
    if (!this.#stepping) {
      this.#stepping = true;
      this.#startStep();
    }
  }

  #admit(): void {
    while (this.#waitingHead < this.#waiting.length && this.#runningCount < this.kind.slots) {
      const next = this.#waiting[this.#waitingHead] as Sequence;
      if (next.state === 'ended') {
        this.#waitingHead += 1;
        continue;
      }
      const kvTokens = next.promptTokens + next.outputTokens;
      if (this.#kvUsedTokens + kvTokens > this.kind.kvTokens && this.#runningCount > 0) {
        break;
      }
      this.#waitingHead += 1;
      next.state = 'prefill';
      this.#runningCount += 1;
      this.#kvUsedTokens += kvTokens;
      this.#prefilling.push(next);
    }
    if (this.#waitingHead > 1024 && this.#waitingHead * 2 > this.#waiting.length) {
      this.#waiting = this.#waiting.slice(this.#waitingHead);
      this.#waitingHead = 0;
    }
  }

  #startStep(): void {
    this.#admit();
    if (this.#runningCount === 0) {
      this.#stepping = false;
      return;
    }
    const timings = this.#timings;
    let budget = timings.prefillTokensPerStepMax;
    const chunks: [Sequence, number][] = [];
    for (const sequence of this.#prefilling) {
      if (budget <= 0) {
        break;
      }
      if (sequence.state !== 'prefill') {
        continue;
      }
      const chunk = Math.min(budget, sequence.prefillLeftTokens);
      chunks.push([sequence, chunk]);
      budget -= chunk;
    }
    const prefilledTokens = timings.prefillTokensPerStepMax - budget;
    const decoding = this.#decodingCount;
    const prefillMs = (timings.stepPerPrefillTokenMs * prefilledTokens) / this.kind.speed;
    const stepMs =
      (decoding > 0
        ? (timings.stepBaseMs + timings.stepPerSequenceMs * decoding) / this.kind.decodeSpeed +
          prefillMs
        : timings.stepBaseMs / this.kind.speed + prefillMs) * this.slowdown;
    this.#events.after(stepMs, () => this.#finishStep(chunks, stepMs, decoding));
  }

  #finishStep(chunks: readonly [Sequence, number][], stepMs: number, decoding: number): void {
    this.#step += 1;
    this.#decodeSeconds += (stepMs * decoding) / 1000;
    this.#decodedTokens += decoding;
    const step = this.#step;
    for (const [sequence, chunk] of chunks) {
      if (sequence.state !== 'prefill') {
        continue;
      }
      sequence.prefillLeftTokens -= chunk;
      if (sequence.prefillLeftTokens <= 0) {
        sequence.state = 'decode';
        sequence.finishStep = step + sequence.outputTokens - 1;
        this.#decodingCount += 1;
        this.#decodeHeap.push(sequence);
        sequence.callbacks.firstToken();
      }
    }
    this.#prefilling = this.#prefilling.filter((sequence) => sequence.state === 'prefill');
    for (
      let top = this.#decodeHeap.peek();
      top !== undefined && top.finishStep <= step;
      top = this.#decodeHeap.peek()
    ) {
      this.#decodeHeap.pop();
      if (top.state === 'decode') {
        this.#end(top);
        top.callbacks.done();
      }
    }
    this.#startStep();
  }
}
