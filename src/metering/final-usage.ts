/**
 * Which usage a request is billed for, and how much of it a backend may claim. In order: what
 * the backend reported, when it reported both input and output; else the gateway's own count of
 * the prompt and of what was delivered (never less than the prompt). Either way the counts are
 * held to the request's bound (usage-bounds.ts), and a claim beyond it is kept as evidence.
 */
import type { FinalUsage } from '../billing/ledger.ts';
import type { Tokenizer } from '../platform/tokenizer.ts';
import type { DeliveredText } from './delivered-text-buffer.ts';
import type { PromptContent } from './prompt-content.ts';
import type { ReportedUsage } from './usage.ts';
import { boundUsage, type UsageBound } from './usage-bounds.ts';

export type MeteredRequest = {
  model: string;
  prompt: PromptContent;
  /** Tokens an image is counted at when the gateway counts the prompt itself. */
  imageTokensEstimate: number;
  /** Embeddings produce no output: their reported input is the whole usage. */
  producesOutput: boolean;
  bound: UsageBound;
};

/** Tokens of the prompt as the gateway counts them: texts, token ids and images. */
export async function countPromptTokens(
  tokenizer: Tokenizer,
  request: MeteredRequest,
): Promise<number> {
  const textTokens = await tokenizer.countTokens(request.prompt.texts.join('\n'), request.model);
  return (
    textTokens +
    request.prompt.tokenIdCount +
    request.prompt.imageCount * request.imageTokensEstimate
  );
}

/** Output tokens of what was delivered: those counted as the stream went, and the rest now. */
export async function countDeliveredTokens(
  tokenizer: Tokenizer,
  model: string,
  delivered: DeliveredText,
): Promise<number> {
  const [counted, rest] = await Promise.all([
    delivered.countedTokens,
    tokenizer.countTokens(delivered.text, model),
  ]);
  return counted + rest;
}

export async function finalUsage(
  tokenizer: Tokenizer,
  request: MeteredRequest,
  reported: ReportedUsage | undefined,
  delivered: DeliveredText,
): Promise<FinalUsage> {
  const outputKnown = reported?.outputTokens !== undefined || !request.producesOutput;
  if (reported?.inputTokens !== undefined && outputKnown) {
    const bounded = boundUsage(
      {
        inputTokens: reported.inputTokens,
        cachedInputTokens: reported.cachedInputTokens ?? 0,
        outputTokens: request.producesOutput ? (reported.outputTokens ?? 0) : 0,
      },
      request.bound,
    );
    return {
      inputTokens: bounded.inputTokens,
      cachedInputTokens: bounded.cachedInputTokens,
      outputTokens: bounded.outputTokens,
      reasoningTokens:
        reported.reasoningTokens === undefined
          ? undefined
          : Math.min(reported.reasoningTokens, bounded.outputTokens),
      source: 'provider',
      claimed: bounded.claimed,
    };
  }
  // Counted only when not reported: a count costs CPU in proportion to the text.
  const [inputTokens, outputTokens] = await Promise.all([
    reported?.inputTokens ?? countPromptTokens(tokenizer, request),
    request.producesOutput ? countDeliveredTokens(tokenizer, request.model, delivered) : 0,
  ]);
  const bounded = boundUsage({ inputTokens, cachedInputTokens: 0, outputTokens }, request.bound);
  return {
    inputTokens: bounded.inputTokens,
    cachedInputTokens: 0,
    outputTokens: bounded.outputTokens,
    reasoningTokens: undefined,
    source: 'gateway_count',
    claimed: bounded.claimed,
  };
}
