/**
 * The simulator's output text and its token accounting. The text is clearly fake, and every word
 * is exactly one token, so the usage the simulator reports always matches what it streamed: a
 * gateway that counts streamed tokens itself must arrive at the same number.
 */

/**
 * Common English words, each with its leading space. Each is a single token in OpenAI's
 * o200k_base (and cl100k_base) encoding, and the encodings split text before every space-led word,
 * so N words joined together are also N tokens. Checked with gpt-tokenizer's o200k_base encoder.
 */
export const fakeTextVocabulary: readonly string[] = [
  ' sim',
  ' token',
  ' data',
  ' text',
  ' model',
  ' server',
  ' test',
  ' demo',
  ' fake',
  ' output',
  ' bank',
  ' compute',
  ' power',
  ' request',
  ' reply',
  ' sample',
  ' value',
  ' system',
  ' simple',
  ' small',
  ' fast',
  ' new',
  ' first',
  ' next',
  ' word',
  ' line',
  ' answer',
  ' result',
  ' time',
  ' light',
  ' river',
  ' stone',
];

/** The word at a position of the output: the same position always gives the same word. */
export function fakeTokenAt(position: number): string {
  const word = fakeTextVocabulary[position % fakeTextVocabulary.length];
  // The modulo keeps the index in range; the fallback only satisfies the type checker.
  return word ?? ' sim';
}

/** The full output of `tokenCount` tokens, as a non-streaming response returns it. */
export function fakeText(tokenCount: number): string {
  let text = '';
  for (let position = 0; position < tokenCount; position++) {
    text += fakeTokenAt(position);
  }
  return text;
}

const utf8Encoder = new TextEncoder();

/**
 * Prompt tokens the simulator charges for a text: about four bytes per token, the usual rule of
 * thumb for English, and never less than one. Cheap and deterministic, which is all a fake needs.
 */
export function countSimulatedPromptTokens(text: string): number {
  const byteCount = utf8Encoder.encode(text).byteLength;
  return Math.max(1, Math.ceil(byteCount / 4));
}
