/**
 * A cheap upper estimate of a prompt's tokens, for the reservation only: linear in bytes, no BPE
 * on the hot path. BPE vocabularies give about 4 bytes per token for English and code, and about
 * one token per CJK character; a margin keeps the estimate above the real count for typical text,
 * and settlement corrects it either way.
 */
import type { PromptContent } from './prompt-content.ts';

/** Bytes of non-CJK text per token, rounded down so the estimate errs high. */
const bytesPerTokenMin = 3;
/** Fixed tokens per request for roles, separators and the reply primer. */
const overheadTokens = 8;

/** UTF-8 width of one code point, without encoding it. */
export function utf8WidthOf(codePoint: number): number {
  return codePoint < 0x80 ? 1 : codePoint < 0x800 ? 2 : codePoint > 0xffff ? 4 : 3;
}

function isCjk(codePoint: number): boolean {
  return (
    (codePoint >= 0x3000 && codePoint <= 0x9fff) ||
    (codePoint >= 0xac00 && codePoint <= 0xd7af) ||
    (codePoint >= 0xf900 && codePoint <= 0xfaff) ||
    (codePoint >= 0x20000 && codePoint <= 0x2fa1f)
  );
}

export function estimateTextTokens(text: string): number {
  let cjkCharacters = 0;
  let otherUnits = 0;
  for (let index = 0; index < text.length; index += 1) {
    const codePoint = text.codePointAt(index) ?? 0;
    if (codePoint > 0xffff) {
      index += 1;
    }
    if (isCjk(codePoint)) {
      cjkCharacters += 1;
    } else {
      // An astral code point is two UTF-16 units: the skip above steps over its second.
      otherUnits += utf8WidthOf(codePoint);
    }
  }
  return Math.ceil(otherUnits / bytesPerTokenMin) + cjkCharacters;
}

/** The estimate for a whole prompt given as its texts. */
export function estimatePromptTokens(texts: readonly string[]): number {
  let total = overheadTokens;
  for (const text of texts) {
    total += estimateTextTokens(text) + 4;
  }
  return total;
}

/** The estimate for everything a request asks the backend to read (prompt-content.ts). */
export function estimateContentTokens(content: PromptContent, imageTokensEstimate: number): number {
  return (
    estimatePromptTokens(content.texts) +
    content.tokenIdCount +
    content.imageCount * imageTokensEstimate
  );
}
