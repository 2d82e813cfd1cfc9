/**
 * The Tokenizer port over tiktoken (WASM): steady on Chinese text, exact for OpenAI encodings and
 * a close count for others. Each encoding is built once, on first use, and kept for the process.
 */
import { get_encoding, type Tiktoken, type TiktokenEncoding } from 'tiktoken';
import type { Tokenizer } from '../../platform/tokenizer.ts';

export function createTiktokenTokenizer(options: {
  encodingDefault: TiktokenEncoding;
  modelEncodings: Readonly<Record<string, TiktokenEncoding>>;
}): Tokenizer {
  const encoders = new Map<TiktokenEncoding, Tiktoken>();
  const encoderFor = (model: string): Tiktoken => {
    const encoding = options.modelEncodings[model] ?? options.encodingDefault;
    let encoder = encoders.get(encoding);
    if (!encoder) {
      encoder = get_encoding(encoding);
      encoders.set(encoding, encoder);
    }
    return encoder;
  };
  return {
    countTokens(text, model) {
      // Special-token text in user content is ordinary text here, never a control token.
      return text.length === 0 ? 0 : encoderFor(model).encode_ordinary(text).length;
    },
  };
}
