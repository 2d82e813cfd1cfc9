/**
 * The JSON bodies and stream chunks of chat completions and legacy completions, in OpenAI's exact
 * shapes. Kept apart from timing and HTTP so the two endpoints share one generation loop and differ
 * only here.
 */

import type { CompletionKind } from './inference-request.ts';

export type Usage = { prompt_tokens: number; completion_tokens: number; total_tokens: number };

export type FinishReason = 'stop' | 'length';

export type JsonObject = Record<string, unknown>;

export type CompletionPayloads = {
  /** Chunks sent before the first token: chat announces the assistant role, completions nothing. */
  openingChunks(): JsonObject[];
  tokenChunk(text: string): JsonObject;
  finishChunk(reason: FinishReason): JsonObject;
  /** The extra chunk of `stream_options.include_usage`: no choices, only usage. */
  usageChunk(usage: Usage): JsonObject;
  /** The non-streaming body; `usage` null leaves the field out entirely (the no-usage fault). */
  fullResponse(text: string, reason: FinishReason, usage: Usage | null): JsonObject;
};

export type CompletionPayloadsSetup = {
  kind: CompletionKind;
  id: string;
  createdSeconds: number;
  model: string;
  /** OpenAI sends `usage: null` on every chunk but the last when the client asked for usage. */
  usageNullOnChunks: boolean;
};

const systemFingerprint = 'fp_tokenbank_sim';

export function createUsage(promptTokens: number, completionTokens: number): Usage {
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
  };
}

/** `chatcmpl-…` or `cmpl-…`, unique across restarts like OpenAI's ids. */
export function createCompletionId(kind: CompletionKind): string {
  const prefix = kind === 'chat' ? 'chatcmpl-' : 'cmpl-';
  return `${prefix}${crypto.randomUUID().replaceAll('-', '')}`;
}

export function createCompletionPayloads(setup: CompletionPayloadsSetup): CompletionPayloads {
  return setup.kind === 'chat' ? createChatPayloads(setup) : createTextCompletionPayloads(setup);
}

/** The fields every body and chunk of one completion opens with, in OpenAI's order. */
function openingFields(setup: CompletionPayloadsSetup, object: string): JsonObject {
  return { id: setup.id, object, created: setup.createdSeconds, model: setup.model };
}

function createChatPayloads(setup: CompletionPayloadsSetup): CompletionPayloads {
  /** Chat bodies and chunks also name the system that answered. */
  const chatOpeningFields = (object: string): JsonObject => ({
    ...openingFields(setup, object),
    system_fingerprint: systemFingerprint,
  });
  const chunk = (delta: JsonObject, finishReason: FinishReason | null): JsonObject => ({
    ...chatOpeningFields('chat.completion.chunk'),
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
    ...(setup.usageNullOnChunks ? { usage: null } : {}),
  });
  return {
    openingChunks: () => [chunk({ role: 'assistant', content: '' }, null)],
    tokenChunk: (text) => chunk({ content: text }, null),
    finishChunk: (reason) => chunk({}, reason),
    usageChunk: (usage) => ({ ...chatOpeningFields('chat.completion.chunk'), choices: [], usage }),
    fullResponse: (text, reason, usage) => ({
      ...chatOpeningFields('chat.completion'),
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: text, refusal: null },
          logprobs: null,
          finish_reason: reason,
        },
      ],
      ...(usage === null ? {} : { usage }),
    }),
  };
}

function createTextCompletionPayloads(setup: CompletionPayloadsSetup): CompletionPayloads {
  const chunk = (text: string, finishReason: FinishReason | null): JsonObject => ({
    ...openingFields(setup, 'text_completion'),
    choices: [{ text, index: 0, logprobs: null, finish_reason: finishReason }],
    ...(setup.usageNullOnChunks ? { usage: null } : {}),
  });
  return {
    openingChunks: () => [],
    tokenChunk: (text) => chunk(text, null),
    finishChunk: (reason) => chunk('', reason),
    usageChunk: (usage) => ({ ...openingFields(setup, 'text_completion'), choices: [], usage }),
    fullResponse: (text, reason, usage) => ({
      ...openingFields(setup, 'text_completion'),
      choices: [{ text, index: 0, logprobs: null, finish_reason: reason }],
      ...(usage === null ? {} : { usage }),
    }),
  };
}
