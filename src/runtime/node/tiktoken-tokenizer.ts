/**
 * The Tokenizer port over tiktoken (WASM): steady on Chinese text, exact for OpenAI encodings and
 * a close count for others. Each encoding is built once, on first use, and kept for the process.
 *
 * Memory: nothing is loaded until the first count, and then only what that encoding needs. The
 * package's main entry compiles a 5.6 MB WASM module that embeds every encoding the moment it is
 * imported (+16 MB RSS in a process that may never count a token) and copies all of them into
 * WASM memory on first use (+73 MB); `tiktoken/lite` with the one rank file asked for costs
 * +8 MB on load and about +60 MB once the encoding is built, and the rank text is dropped after.
 * WASM memory never shrinks, so nothing is freed per request, or at all.
 *
 * Text is encoded in pieces of at most `pieceLengthMax` characters, cut before a space where
 * there is one. tiktoken's merge loop is quadratic in the length of a run its pre-tokenizer does
 * not split: 36,000 Chinese characters without a space took 11 s, 200,000 repeated letters 40 s,
 * all of it blocking the event loop, and any client can send that much. A cut inside such a run
 * changes the count by at most a token per cut, a few per 10,000 characters.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Tiktoken, TiktokenEncoding } from 'tiktoken';

const pieceLengthMax = 512;

/** `text` in pieces of at most pieceLengthMax UTF-16 units, never inside a surrogate pair. */
export function* tokenizerPieces(text: string): Generator<string> {
  let start = 0;
  while (text.length - start > pieceLengthMax) {
    let end = start + pieceLengthMax;
    const space = text.lastIndexOf(' ', end);
    if (space > start + pieceLengthMax / 2) {
      // The pre-tokenizer starts a word with its leading space, so the cut loses nothing there.
      end = space;
    } else {
      const code = text.charCodeAt(end - 1);
      if (code >= 0xd800 && code <= 0xdbff) {
        end -= 1;
      }
    }
    yield text.slice(start, end);
    start = end;
  }
  yield text.slice(start);
}

type EncodingFile = {
  bpe_ranks: string;
  special_tokens: Record<string, number>;
  pat_str: string;
};

type TiktokenLite = {
  Tiktoken: new (ranks: string, special: Record<string, number>, pattern: string) => Tiktoken;
};

const requireHere = createRequire(import.meta.url);

/**
 * Builds one encoding from its rank file. The file is read and parsed here, not `require`d, so
 * its 2.3 MB of text is garbage once the encoder holds the ranks (require would cache it).
 */
function buildEncoder(encoding: TiktokenEncoding): Tiktoken {
  const { Tiktoken: Encoder } = requireHere('tiktoken/lite') as TiktokenLite;
  const path = requireHere.resolve(`tiktoken/encoders/${encoding}.json`);
  const file = JSON.parse(readFileSync(path, 'utf8')) as EncodingFile;
  return new Encoder(file.bpe_ranks, file.special_tokens, file.pat_str);
}

/**
 * Counts text in a named encoding; each encoding is built on first use and kept. It runs on the
 * tokenizer's worker thread (worker-tokenizer.ts), never on the thread that serves requests.
 */
export function createEncodingCounter(): (text: string, encoding: TiktokenEncoding) => number {
  const encoders = new Map<TiktokenEncoding, Tiktoken>();
  return (text, encoding) => {
    let encoder = encoders.get(encoding);
    if (!encoder) {
      encoder = buildEncoder(encoding);
      encoders.set(encoding, encoder);
    }
    let count = 0;
    for (const piece of tokenizerPieces(text)) {
      // Special-token text in user content is ordinary text here, never a control token.
      count += piece.length === 0 ? 0 : encoder.encode_ordinary(piece).length;
    }
    return count;
  };
}
