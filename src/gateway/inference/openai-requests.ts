/**
 * Minimal schemas of the OpenAI requests the gateway forwards: only the fields it reads or must
 * bound are checked here. What goes upstream is rebuilt from known fields (forwarded-fields.ts).
 */
import { z } from 'zod';
import type { Limits } from '../../config.ts';

const modelName = z.string().min(1).max(256);

const tokenCount = (limits: Limits) =>
  z.number().int().min(1).max(limits.outputTokensMax).nullable().optional();

const streamOptions = z
  .looseObject({ include_usage: z.boolean().optional() })
  .nullable()
  .optional();

/** Choices generated per request (`n`, `best_of`): each may produce max_tokens of output. */
const choiceCount = z.number().int().min(1).max(128).nullable().optional();

const tokenArray = z.array(z.number().int().min(0)).min(1);

export function chatCompletionSchema(limits: Limits) {
  return z.looseObject({
    model: modelName,
    messages: z
      .array(z.looseObject({ role: z.string().min(1).max(64) }))
      .min(1)
      .max(limits.messagesCountMax),
    stream: z.boolean().nullable().optional(),
    stream_options: streamOptions,
    max_tokens: tokenCount(limits),
    max_completion_tokens: tokenCount(limits),
    n: choiceCount,
  });
}

export function completionSchema(limits: Limits) {
  return z.looseObject({
    model: modelName,
    prompt: z.union([
      z.string(),
      z.array(z.string()).min(1).max(limits.messagesCountMax),
      tokenArray,
      z.array(tokenArray).min(1).max(limits.messagesCountMax),
    ]),
    stream: z.boolean().nullable().optional(),
    stream_options: streamOptions,
    max_tokens: tokenCount(limits),
    n: choiceCount,
    best_of: choiceCount,
  });
}

export function embeddingSchema(limits: Limits) {
  return z.looseObject({
    model: modelName,
    input: z.union([
      z.string().min(1),
      z.array(z.string()).min(1).max(limits.embeddingInputsMax),
      tokenArray,
      z.array(tokenArray).min(1).max(limits.embeddingInputsMax),
    ]),
  });
}

export type ChatCompletionRequest = z.infer<ReturnType<typeof chatCompletionSchema>>;
export type CompletionRequest = z.infer<ReturnType<typeof completionSchema>>;
export type EmbeddingRequest = z.infer<ReturnType<typeof embeddingSchema>>;
