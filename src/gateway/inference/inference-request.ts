/**
 * One inference request, read once at the edge: the body is parsed and validated, refused when it
 * spells a metered field another way (forwarded-fields.ts), and turned into the one value the
 * rest of the path reads (admission, rate limits, routing, forwarding and settlement): model,
 * streaming, the choices asked for, the output asked for, what the backend will be asked to read
 * (the whole body: prompt-content.ts) with its estimate and its bound, and the fields that go
 * upstream. Nothing after this reads the raw body again.
 */
import type { Context } from 'hono';
import type { z } from 'zod';
import type { Limits } from '../../config.ts';
import type { HonoEnv } from '../../deps.ts';
import { GatewayError } from '../../errors.ts';
import { estimateContentTokens } from '../../metering/estimate-prompt-tokens.ts';
import { type PromptContent, promptContentOf } from '../../metering/prompt-content.ts';
import { inputTokensBound } from '../../metering/usage-bounds.ts';
import { readJsonBody } from '../middleware/json-body.ts';
import {
  chatFieldPolicy,
  completionFieldPolicy,
  embeddingFieldPolicy,
  type FieldPolicy,
  passedFields,
  refusedField,
} from './forwarded-fields.ts';
import { chatCompletionSchema, completionSchema, embeddingSchema } from './openai-requests.ts';
import {
  isPlainChatBody,
  isPlainCompletionBody,
  isPlainEmbeddingBody,
} from './plain-request-bodies.ts';

export type InferenceBody = {
  model: string;
  stream?: boolean | null | undefined;
  stream_options?: { include_usage?: boolean | undefined } | null | undefined;
  max_tokens?: number | null | undefined;
  max_completion_tokens?: number | null | undefined;
  n?: number | null | undefined;
  best_of?: number | null | undefined;
} & Record<string, unknown>;

export type InferenceEndpoint = {
  path: '/chat/completions' | '/completions' | '/embeddings';
  schema: (limits: Limits) => z.ZodType<InferenceBody>;
  /** Passes the common bodies the schema accepts unchanged, without it (plain-request-bodies.ts). */
  isPlain: (value: unknown, limits: Limits) => value is InferenceBody;
  fields: FieldPolicy;
  /** Embeddings produce no output tokens. */
  producesOutput: boolean;
};

export const inferenceEndpoints: readonly InferenceEndpoint[] = [
  {
    path: '/chat/completions',
    schema: chatCompletionSchema,
    isPlain: isPlainChatBody,
    fields: chatFieldPolicy,
    producesOutput: true,
  },
  {
    path: '/completions',
    schema: completionSchema,
    isPlain: isPlainCompletionBody,
    fields: completionFieldPolicy,
    producesOutput: true,
  },
  {
    path: '/embeddings',
    schema: embeddingSchema,
    isPlain: isPlainEmbeddingBody,
    fields: embeddingFieldPolicy,
    producesOutput: false,
  },
];

export type InferenceRequest = {
  endpoint: InferenceEndpoint;
  model: string;
  stream: boolean;
  /**
   * A stream whose client did not ask for its usage chunk: the gateway asks the backend for it
   * anyway (upstream-body.ts) and withholds it from the client.
   */
  usageWithheld: boolean;
  /** Sequences the backend generates: `n`, or `best_of` when it asks for more. */
  choiceCount: number;
  /** max_tokens (or max_completion_tokens) per choice as asked; undefined for the default. */
  outputTokensAsked: number | undefined;
  /** The field the output cap goes upstream in: the one the client used. */
  outputField: 'max_tokens' | 'max_completion_tokens';
  prompt: PromptContent;
  promptTokensEstimate: number;
  /** The most input tokens a backend may bill for this body (usage-bounds.ts). */
  inputTokensMax: number;
  /**
   * Fields forwarded as the client gave them: the unmetered ones of the endpoint's list, the
   * prompt (validated), `n` and `best_of`. upstream-body.ts adds the model, the cap and stream.
   */
  forwardedFields: Record<string, unknown>;
};

function refuseRespelledFields(body: Record<string, unknown>): void {
  const refused = refusedField(body);
  if (refused) {
    throw new GatewayError(
      'invalid_request',
      `Unsupported parameter '${refused.field}': use '${refused.meteredField}' exactly as spelled.`,
      { param: refused.field },
    );
  }
}

/** The prompt and the choice counts, which the schema validated, as they were given. */
function promptFieldsOf(body: InferenceBody): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const name of promptFieldNames) {
    if (body[name] !== undefined && body[name] !== null) {
      fields[name] = body[name];
    }
  }
  return fields;
}

const promptFieldNames = ['messages', 'prompt', 'input', 'n', 'best_of'] as const;

export function inferenceRequestOf(
  endpoint: InferenceEndpoint,
  body: InferenceBody,
  limits: Limits,
): InferenceRequest {
  refuseRespelledFields(body);
  const prompt = promptContentOf(body);
  const choiceCount = Math.max(body.n ?? 1, body.best_of ?? 1);
  return {
    endpoint,
    model: body.model,
    stream: body.stream === true,
    usageWithheld: body.stream === true && body.stream_options?.include_usage !== true,
    choiceCount: endpoint.producesOutput ? choiceCount : 1,
    outputTokensAsked: endpoint.producesOutput
      ? (body.max_completion_tokens ?? body.max_tokens ?? undefined)
      : 0,
    outputField:
      typeof body.max_completion_tokens === 'number' ? 'max_completion_tokens' : 'max_tokens',
    prompt,
    promptTokensEstimate: estimateContentTokens(prompt, limits.imageTokensEstimate),
    inputTokensMax: inputTokensBound(prompt, limits),
    forwardedFields: { ...passedFields(body, endpoint.fields), ...promptFieldsOf(body) },
  };
}

/** Reads, validates and normalises the body of a request to `endpoint`. */
export async function readInferenceRequest(
  c: Context<HonoEnv>,
  endpoint: InferenceEndpoint,
  schema: z.ZodType<InferenceBody>,
): Promise<InferenceRequest> {
  const { limits } = c.get('deps').config;
  const { value } = await readJsonBody(c, schema, (parsed) => endpoint.isPlain(parsed, limits));
  return inferenceRequestOf(endpoint, value, limits);
}
