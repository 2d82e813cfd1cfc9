/**
 * Token counting as a port. The gateway counts tokens itself only as a fallback (a backend that
 * reports no usage, a stream cut short) and to verify what providers report; the runtime supplies
 * the BPE implementation. Counting is asynchronous because it is heavy (1.5 s of CPU per MB of
 * Chinese text was measured): the Node runtime counts on a worker thread, never on the event loop
 * that serves every other request.
 */
export type Tokenizer = {
  /** Tokens of `text` in the encoding configured for `model`. */
  countTokens(text: string, model: string): Promise<number>;
};
