/**
 * Usage as a backend reports it, normalised; a count that is not reported stays undefined, never
 * 0 (a missing number must not bill as zero tokens). OpenAI counts cached input inside
 * prompt_tokens, and reasoning inside completion_tokens.
 */

export type ReportedUsage = {
  inputTokens: number | undefined;
  cachedInputTokens: number | undefined;
  outputTokens: number | undefined;
  reasoningTokens: number | undefined;
};

function count(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}

function field(value: unknown, name: string): unknown {
  return typeof value === 'object' && value !== null
    ? (value as Record<string, unknown>)[name]
    : undefined;
}

/** Reads the `usage` object of a response or stream chunk; undefined when there is none. */
export function readReportedUsage(body: unknown): ReportedUsage | undefined {
  const usage = field(body, 'usage');
  if (typeof usage !== 'object' || usage === null) {
    return undefined;
  }
  const inputTokens = count(field(usage, 'prompt_tokens'));
  const outputTokens = count(field(usage, 'completion_tokens'));
  const cachedInputTokens = count(field(field(usage, 'prompt_tokens_details'), 'cached_tokens'));
  return {
    inputTokens,
    // A backend reporting more cached tokens than input tokens is inconsistent: trust neither.
    cachedInputTokens:
      cachedInputTokens !== undefined &&
      inputTokens !== undefined &&
      cachedInputTokens > inputTokens
        ? undefined
        : cachedInputTokens,
    outputTokens,
    reasoningTokens: count(field(field(usage, 'completion_tokens_details'), 'reasoning_tokens')),
  };
}
