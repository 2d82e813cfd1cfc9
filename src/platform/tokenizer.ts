/**
 * Token counting as a port. The gateway counts tokens itself only as a fallback (a backend that
 * reports no usage, a stream cut short) and to verify what providers report; the runtime supplies
 * the BPE implementation. Counting is asynchronous because it is heavy (1.5 s of CPU per MB of
 * Chinese text was measured): the Node runtime counts on a worker thread, never on the event loop
 * that serves every other request, except texts short enough to cost microseconds.
 */
export type Tokenizer = {
  /** Tokens of `text` in the encoding configured for `model`. */
  countTokens(text: string, model: string): Promise<number>;
  /**
   * Tokens of a short text counted at once on the caller's thread (a stream's checkpoint must be
   * written as its chunk passes, not a round trip later); undefined when the text is longer than
   * the runtime counts inline.
   */
  countShortText(text: string, model: string): number | undefined;
};
