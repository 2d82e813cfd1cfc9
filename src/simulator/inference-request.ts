/**
 * Validates the OpenAI request bodies the simulator accepts and reduces each to the few numbers a
 * simulation needs (prompt tokens, output tokens, streaming flags). Unknown fields pass through
 * untouched, as OpenAI-compatible servers accept them, so SDK upgrades never break the simulator.
 */

import { z } from 'zod';
import { countSimulatedPromptTokens } from './fake-text.ts';
import { invalidRequestError, type SimulatorError } from './simulator-error.ts';

export type CompletionKind = 'chat' | 'completion';

export type CompletionRequest = {
  kind: CompletionKind;
  model: string;
  promptTokens: number;
  outputTokens: number;
  /** The request set its own limit: stopping there reports finish_reason `length`. */
  limitedByRequest: boolean;
  stream: boolean;
  includeUsage: boolean;
};

/** One embedding input: text, or a prompt already turned into token ids. */
export type EmbeddingInput = string | readonly number[];

export type EmbeddingRequest = {
  model: string;
  inputs: EmbeddingInput[];
  promptTokens: number;
  encodingFormat: 'float' | 'base64';
  dimensions: number | null;
};

export type ParseResult<Value> = { ok: true; value: Value } | { ok: false; error: SimulatorError };

export type OutputLimits = { outputTokensDefault: number; outputTokensMax: number };

/** How many tokens to generate, and whether that is the request's own limit. */
type OutputTokens = Pick<CompletionRequest, 'outputTokens' | 'limitedByRequest'>;

const tokenIdsSchema = z.array(z.int().min(0));

const promptSchema = z.union([
  z.string(),
  z.array(z.string()).min(1),
  tokenIdsSchema.min(1),
  z.array(tokenIdsSchema.min(1)).min(1),
]);

const contentPartSchema = z.looseObject({ type: z.string(), text: z.string().optional() });

const chatMessageSchema = z.looseObject({
  role: z.string(),
  content: z.union([z.string(), z.array(contentPartSchema), z.null()]).optional(),
});

const generationFields = {
  model: z.string().min(1),
  stream: z.boolean().nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().nullish() }).nullish(),
  max_tokens: z.int().min(0).nullish(),
};

/** The fields chat and legacy completions share, as both schemas read them. */
type GenerationRequest = z.output<z.ZodObject<typeof generationFields>>;

const chatRequestSchema = z.looseObject({
  ...generationFields,
  messages: z.array(chatMessageSchema).min(1),
  max_completion_tokens: z.int().min(0).nullish(),
});

const completionRequestSchema = z.looseObject({ ...generationFields, prompt: promptSchema });

const embeddingRequestSchema = z.looseObject({
  model: z.string().min(1),
  input: promptSchema,
  encoding_format: z.enum(['float', 'base64']).nullish(),
  dimensions: z.int().min(1).max(4096).nullish(),
});

function validationError(error: z.ZodError): SimulatorError {
  const issue = error.issues[0];
  const param = issue === undefined || issue.path.length === 0 ? null : issue.path.join('.');
  const message = issue === undefined ? 'invalid request body' : issue.message;
  return invalidRequestError(param === null ? message : `${param}: ${message}`, param);
}

/** The body as `schema` reads it, or the invalid-request error naming the first wrong field. */
function validate<Schema extends z.ZodType>(
  schema: Schema,
  body: unknown,
): ParseResult<z.output<Schema>> {
  const parsed = schema.safeParse(body);
  return parsed.success
    ? { ok: true, value: parsed.data }
    : { ok: false, error: validationError(parsed.error) };
}

type Prompt = z.infer<typeof promptSchema>;

function isTokenIds(prompt: Exclude<Prompt, string>): prompt is number[] {
  return prompt.every((item: string | number | number[]) => typeof item === 'number');
}

/** Splits a completions `prompt` or embeddings `input` into its separate inputs. */
function promptInputs(prompt: Prompt): EmbeddingInput[] {
  if (typeof prompt === 'string' || isTokenIds(prompt)) {
    return [prompt];
  }
  return prompt;
}

function countInputTokens(input: EmbeddingInput): number {
  return typeof input === 'string' ? countSimulatedPromptTokens(input) : input.length;
}

function chatPromptText(messages: z.infer<typeof chatMessageSchema>[]): string {
  const texts = messages.map((message) => {
    if (typeof message.content === 'string') {
      return message.content;
    }
    return (message.content ?? []).map((part) => part.text ?? '').join('');
  });
  return texts.join('\n');
}

function resolveOutputTokens(
  requested: number | null | undefined,
  param: string,
  limits: OutputLimits,
): ParseResult<OutputTokens> {
  if (requested === null || requested === undefined) {
    return {
      ok: true,
      value: { outputTokens: limits.outputTokensDefault, limitedByRequest: false },
    };
  }
  if (requested > limits.outputTokensMax) {
    const message = `${param} must be at most ${limits.outputTokensMax} on this simulator, got ${requested}.`;
    return { ok: false, error: invalidRequestError(message, param) };
  }
  // As a real model: the answer ends by itself at its own length, or at max_tokens if sooner.
  return requested < limits.outputTokensDefault
    ? { ok: true, value: { outputTokens: requested, limitedByRequest: true } }
    : { ok: true, value: { outputTokens: limits.outputTokensDefault, limitedByRequest: false } };
}

/** What both completion endpoints read the same way, with the tokens each counted its own way. */
function completionRequest(
  kind: CompletionKind,
  request: GenerationRequest,
  promptTokens: number,
  output: OutputTokens,
): CompletionRequest {
  return {
    kind,
    model: request.model,
    promptTokens,
    ...output,
    stream: request.stream === true,
    includeUsage: request.stream_options?.include_usage === true,
  };
}

export function parseChatCompletionRequest(
  body: unknown,
  limits: OutputLimits,
): ParseResult<CompletionRequest> {
  const parsed = validate(chatRequestSchema, body);
  if (!parsed.ok) {
    return parsed;
  }
  const request = parsed.value;
  // max_completion_tokens replaced max_tokens for chat; when both are sent the newer one wins.
  const limitParam =
    request.max_completion_tokens === undefined || request.max_completion_tokens === null
      ? 'max_tokens'
      : 'max_completion_tokens';
  const output = resolveOutputTokens(
    request.max_completion_tokens ?? request.max_tokens,
    limitParam,
    limits,
  );
  if (!output.ok) {
    return output;
  }
  const promptTokens = countSimulatedPromptTokens(chatPromptText(request.messages));
  return { ok: true, value: completionRequest('chat', request, promptTokens, output.value) };
}

/** A list of prompts is answered as one prompt: the simulator always returns a single choice. */
export function parseCompletionRequest(
  body: unknown,
  limits: OutputLimits,
): ParseResult<CompletionRequest> {
  const parsed = validate(completionRequestSchema, body);
  if (!parsed.ok) {
    return parsed;
  }
  const request = parsed.value;
  const output = resolveOutputTokens(request.max_tokens, 'max_tokens', limits);
  if (!output.ok) {
    return output;
  }
  const promptTokens = promptInputs(request.prompt).reduce(
    (total, input) => total + countInputTokens(input),
    0,
  );
  return {
    ok: true,
    value: completionRequest('completion', request, Math.max(1, promptTokens), output.value),
  };
}

export function parseEmbeddingRequest(body: unknown): ParseResult<EmbeddingRequest> {
  const parsed = validate(embeddingRequestSchema, body);
  if (!parsed.ok) {
    return parsed;
  }
  const request = parsed.value;
  const inputs = promptInputs(request.input);
  return {
    ok: true,
    value: {
      model: request.model,
      inputs,
      promptTokens: inputs.reduce((total, input) => total + countInputTokens(input), 0),
      encodingFormat: request.encoding_format ?? 'float',
      dimensions: request.dimensions ?? null,
    },
  };
}
