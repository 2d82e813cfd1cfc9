/**
 * The text a stream delivered, held only for the count its settlement may need (a backend that
 * reported no usage, a stream cut short, the sampled recount of reported usage), and bounded.
 * Once more than `charsMax` characters are held, all but the last word is counted and let go, so
 * a stream holds at most about `charsMax` characters however long it runs; a checkpoint
 * (`countHeld`) counts and lets go of all of it, so its count is of everything delivered. Each
 * delivered character is counted once: as the stream goes, and what is left at its end. Deltas are
 * joined as they come: kept as an array of small strings they cost 9 to 29 bytes per token on
 * top of the text (36 to 115 KB for a 4,000-token answer, per open stream).
 */

/**
 * What a response delivered: tokens counted from text already let go (counted off the event
 * loop, so a promise), and the text since.
 */
export type DeliveredText = {
  countedTokens: Promise<number>;
  text: string;
};

const noTokens = Promise.resolve(0);

export const nothingDelivered: DeliveredText = { countedTokens: noTokens, text: '' };

/** A whole delivered text, none of it counted yet (a buffered answer). */
export function deliveredWhole(text: string): DeliveredText {
  return { countedTokens: noTokens, text };
}

export type DeliveredTextBuffer = {
  append(text: string): void;
  /**
   * Counts everything held now and lets it go; returns the tokens counted so far: a number when
   * every count was short enough to run at once, else a promise of it.
   */
  countHeld(): number | Promise<number>;
  current(): DeliveredText;
};

/** Pieces held before they are joined into one string: the per-piece overhead stays bounded. */
const piecesJoinedAt = 64;

/**
 * Where held text is cut: before its last space when that is in the second half (a word keeps its
 * leading space, as the pre-tokenizer wants it), else at the end, never inside a surrogate pair.
 * Counting the two sides apart then differs from counting them together by a token at most.
 */
function cutIndex(text: string): number {
  const space = text.lastIndexOf(' ');
  if (space > text.length / 2) {
    return space;
  }
  const code = text.charCodeAt(text.length - 1);
  return code >= 0xd800 && code <= 0xdbff ? text.length - 1 : text.length;
}

type BufferOptions = {
  charsMax: number;
  /** Counts text in the stream's encoding, off the caller's thread when it is long. */
  countTokens: (text: string) => Promise<number>;
  /** Counts a short text at once; undefined when it is too long for that (or not offered). */
  countShortText?: (text: string) => number | undefined;
};

/** A class, not closures: one lives per open stream and its methods are shared. */
class BoundedTextBuffer implements DeliveredTextBuffer {
  #pieces: string[] = [];
  #heldChars = 0;
  #countedTokens: number | Promise<number> = 0;
  readonly #options: BufferOptions;

  constructor(options: BufferOptions) {
    this.#options = options;
  }

  append(text: string): void {
    if (text === '') {
      return;
    }
    this.#pieces.push(text);
    this.#heldChars += text.length;
    if (this.#heldChars > this.#options.charsMax) {
      this.#countAndLetGo(cutIndex);
    } else if (this.#pieces.length >= piecesJoinedAt) {
      this.#joined();
    }
  }

  countHeld(): number | Promise<number> {
    this.#countAndLetGo((held) => held.length);
    return this.#countedTokens;
  }

  /** Counts the held text up to `cutOf(held)` and keeps only the rest. */
  #countAndLetGo(cutOf: (held: string) => number): void {
    const held = this.#joined();
    const cut = cutOf(held);
    this.#count(held.slice(0, cut));
    // The slice may keep `held` alive until the next join: twice the bound at worst.
    const rest = held.slice(cut);
    this.#pieces = [rest];
    this.#heldChars = rest.length;
  }

  current(): DeliveredText {
    return { countedTokens: Promise.resolve(this.#countedTokens), text: this.#joined() };
  }

  /** Adds `text`'s tokens to the count: at once when short, else when its count is done. */
  #count(text: string): void {
    if (text === '') {
      return;
    }
    const counted = this.#countedTokens;
    const short = typeof counted === 'number' ? this.#options.countShortText?.(text) : undefined;
    if (typeof counted === 'number' && short !== undefined) {
      this.#countedTokens = counted + short;
      return;
    }
    // Counts run while the stream goes on; the sum is awaited only where it is needed.
    const pending = Promise.all([counted, this.#options.countTokens(text)]).then(
      ([before, more]) => before + more,
    );
    this.#countedTokens = pending;
    // Once done, and nothing was added meanwhile, the next counts may run at once again.
    void pending.then((total) => {
      if (this.#countedTokens === pending) {
        this.#countedTokens = total;
      }
    });
  }

  #joined(): string {
    const text = this.#pieces.join('');
    this.#pieces = [text];
    return text;
  }
}

export function createDeliveredTextBuffer(options: BufferOptions): DeliveredTextBuffer {
  return new BoundedTextBuffer(options);
}
