/**
 * Token counting as a port. The gateway counts tokens itself only as a fallback (a backend that
 * reports no usage, a stream cut short) and to verify what providers report; the runtime supplies
 * the BPE implementation, encoders are built once per encoding.
 */
export type Tokenizer = {
  /** Tokens of `text` in the encoding configured for `model`. */
  countTokens(text: string, model: string): number;
};
