/**
 * What a backend may claim (DESIGN.md §4): the bank trusts no party on the far side of the
 * gateway, so reported usage is billed only up to what the request could have produced.
 * - Output: at most the choices asked for (`n`, `best_of`) times the max tokens forwarded.
 * - Input: at most one token per UTF-8 byte of every text the body carries (byte-level BPE and
 *   byte-fallback tokenizers never produce more), plus the chat template's own tokens per text
 *   and per request, plus each image at the model's largest image cost, plus token ids as given.
 *   This bound is provable rather than estimated, so an honest backend is never cut by it and a
 *   backend that exceeds it has certainly lied.
 * - Cached input: at most the input.
 * A claim beyond a bound is billed at the bound and kept as evidence on the usage record.
 */
import { utf8WidthOf } from './estimate-prompt-tokens.ts';
import type { PromptContent } from './prompt-content.ts';

export type UsageBound = {
  inputTokensMax: number;
  outputTokensMax: number;
};

export type BoundSettings = {
  /** Template tokens a backend may add around each text it renders (roles, separators). */
  templateTokensPerText: number;
  /** Template tokens a backend may add once per request (a default system prompt, primers). */
  templateTokensPerRequest: number;
  /** The most tokens one image may cost on any model served. */
  imageTokensMax: number;
};

/** UTF-8 length of a text, without encoding it (a lone surrogate counts as its replacement). */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let index = 0; index < text.length; index += 1) {
    const codePoint = text.codePointAt(index) ?? 0;
    if (codePoint > 0xffff) {
      // Two UTF-16 units: step over the second.
      index += 1;
    }
    bytes += utf8WidthOf(codePoint);
  }
  return bytes;
}

export function inputTokensBound(prompt: PromptContent, settings: BoundSettings): number {
  let bound = settings.templateTokensPerRequest + prompt.tokenIdCount;
  bound += prompt.imageCount * settings.imageTokensMax;
  for (const text of prompt.texts) {
    bound += utf8Length(text) + settings.templateTokensPerText;
  }
  return bound;
}

export type ClaimedTokens = { inputTokens: number; outputTokens: number };

export type BoundedCounts = {
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
  /** What was claimed, when a claim went past a bound; undefined when every count was within. */
  claimed: ClaimedTokens | undefined;
};

export function boundUsage(
  counts: { inputTokens: number; cachedInputTokens: number; outputTokens: number },
  bound: UsageBound,
): BoundedCounts {
  const inputTokens = Math.min(counts.inputTokens, bound.inputTokensMax);
  const outputTokens = Math.min(counts.outputTokens, bound.outputTokensMax);
  const exceeded =
    counts.inputTokens > bound.inputTokensMax || counts.outputTokens > bound.outputTokensMax;
  return {
    inputTokens,
    cachedInputTokens: Math.min(counts.cachedInputTokens, inputTokens),
    outputTokens,
    claimed: exceeded
      ? { inputTokens: counts.inputTokens, outputTokens: counts.outputTokens }
      : undefined,
  };
}
