/**
 * The text a stream delivered, held only for the count its settlement may need (a backend that
 * reported no usage, a stream cut short, the sampled recount of reported usage), and bounded.
 * Once more than `charsMax` characters are held, all but the last word is counted at once and let
 * go, so a stream holds at most about `charsMax` characters however long it runs. Deltas are
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
  /** Counts text in the stream's encoding; called only once the bound is passed. */
  countTokens: (text: string) => Promise<number>;
};

function sumOf(first: Promise<number>, second: Promise<number>): Promise<number> {
  return Promise.all([first, second]).then(([a, b]) => a + b);
}

/** A class, not closures: one lives per open stream and its methods are shared. */
class BoundedTextBuffer implements DeliveredTextBuffer {
  #pieces: string[] = [];
  #heldChars = 0;
  #countedTokens: Promise<number> = noTokens;
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
      const held = this.#joined();
      const cut = cutIndex(held);
      // Counts run while the stream goes on; the sum is awaited only when it is billed.
      this.#countedTokens = sumOf(
        this.#countedTokens,
        this.#options.countTokens(held.slice(0, cut)),
      );
      // The slice may keep `held` alive until the next join: twice the bound at worst.
      const rest = held.slice(cut);
      this.#pieces = [rest];
      this.#heldChars = rest.length;
    } else if (this.#pieces.length >= piecesJoinedAt) {
      this.#joined();
    }
  }

  current(): DeliveredText {
    return { countedTokens: this.#countedTokens, text: this.#joined() };
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
