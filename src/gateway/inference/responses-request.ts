/**
 * A Responses API request (POST /v1/responses), validated and turned into the chat completion the
 * backends serve: `instructions` become a system message first, the input items chat messages,
 * `max_output_tokens` the chat output cap. The schema is strict, so a client learns at once with a
 * 400 naming the field that a feature does nothing here: tools (the pool serves plain chat
 * models), anything that needs a stored response or conversation (nothing is stored), background
 * runs, reasoning summaries, and every field this file does not know.
 */
import { z } from 'zod';
import type { Limits } from '../../config.ts';
import { validateJson } from '../middleware/json-body.ts';
import {
  type InferenceRequest,
  inferenceEndpoints,
  inferenceRequestOf,
} from './inference-request.ts';

/** OpenAI's own limits on metadata: 16 pairs, keys up to 64 characters, values up to 512. */
const metadataPairsMax = 16;
const metadataKeyLengthMax = 64;
const metadataValueLengthMax = 512;
/** Names and ids a client passes back (`user`, an output message's `id`, a schema's `name`). */
const nameLengthMax = 256;

const noStore =
  'is not supported: this gateway stores no responses or conversations; send the whole conversation as input';

const textPart = z.strictObject({ type: z.literal('input_text'), text: z.string() });

/** An output text passed back as input (`[...previous.output, next]`): its text is what counts. */
const passedBackTextPart = z.strictObject({
  type: z.literal('output_text'),
  text: z.string(),
  annotations: z.array(z.unknown()).max(0).optional(),
  logprobs: z.array(z.unknown()).max(0).optional(),
});

const imagePart = z.strictObject({
  type: z.literal('input_image'),
  image_url: z.string().min(1),
  detail: z.enum(['low', 'high', 'auto']).optional(),
  file_id: z
    .null({
      error: 'images by file id are not supported: no files are kept for it; pass image_url',
    })
    .optional(),
});

const contentPart = z.discriminatedUnion('type', [textPart, passedBackTextPart, imagePart], {
  error: 'content parts may be input_text, output_text or input_image',
});

/** A string stands for one text part, so errors inside parts name the part. */
const asTextParts = (value: unknown) =>
  typeof value === 'string' ? [{ type: 'input_text', text: value }] : value;

function messageItem(limits: Limits) {
  return z.strictObject({
    type: z
      .literal('message', {
        error: 'only message items are supported: no tool calls, reasoning or item references',
      })
      .optional(),
    role: z.enum(['user', 'assistant', 'system', 'developer']),
    content: z.preprocess(asTextParts, z.array(contentPart).min(1).max(limits.messagesCountMax)),
    id: z.string().max(nameLengthMax).optional(),
    status: z.enum(['in_progress', 'completed', 'incomplete']).optional(),
  });
}

const textFormat = z.discriminatedUnion(
  'type',
  [
    z.strictObject({ type: z.literal('text') }),
    z.strictObject({ type: z.literal('json_object') }),
    z.strictObject({
      type: z.literal('json_schema'),
      name: z.string().min(1).max(nameLengthMax),
      schema: z.record(z.string(), z.unknown()),
      description: z.string().optional(),
      strict: z.boolean().nullable().optional(),
    }),
  ],
  { error: 'text.format may be text, json_object or json_schema' },
);

const reasoningEffort = z.enum(['none', 'minimal', 'low', 'medium', 'high', 'xhigh']);

const metadata = z
  .record(z.string().max(metadataKeyLengthMax), z.string().max(metadataValueLengthMax))
  .refine((pairs) => Object.keys(pairs).length <= metadataPairsMax, {
    error: `at most ${metadataPairsMax} pairs`,
  });

/** `input` as a list of messages; a string alone is one user message (responsesBodySchema). */
export function responsesInputItems(limits: Limits) {
  return z.array(messageItem(limits)).min(1).max(limits.messagesCountMax);
}

export function responsesBodySchema(limits: Limits) {
  return z.strictObject({
    model: z.string().min(1).max(nameLengthMax),
    input: z.preprocess(
      (value) => (typeof value === 'string' ? [{ role: 'user', content: value }] : value),
      responsesInputItems(limits),
    ),
    instructions: z.string().nullable().optional(),
    max_output_tokens: z.number().int().min(1).max(limits.outputTokensMax).nullable().optional(),
    temperature: z.number().min(0).max(2).nullable().optional(),
    top_p: z.number().min(0).max(1).nullable().optional(),
    metadata: metadata.nullable().optional(),
    stream: z.boolean().nullable().optional(),
    // Obfuscation pads deltas against side channels on OpenAI's own network; nothing to pad here.
    stream_options: z
      .strictObject({ include_obfuscation: z.boolean().optional() })
      .nullable()
      .optional(),
    user: z.string().max(nameLengthMax).optional(),
    store: z.boolean().nullable().optional(),
    text: z.strictObject({ format: textFormat.optional() }).nullable().optional(),
    reasoning: z
      .strictObject({
        effort: reasoningEffort.nullable().optional(),
        summary: z
          .null({ error: 'reasoning summaries are not produced by the backends' })
          .optional(),
        generate_summary: z
          .null({ error: 'reasoning summaries are not produced by the backends' })
          .optional(),
      })
      .nullable()
      .optional(),
    tools: z
      .array(z.unknown())
      .max(0, {
        error:
          'tools are not supported: the pool serves plain chat models here; use /v1/chat/completions for function calling',
      })
      .optional(),
    tool_choice: z
      .enum(['none', 'auto'], {
        error: "tool_choice may only be 'none' or 'auto': no tools are served",
      })
      .nullable()
      .optional(),
    parallel_tool_calls: z.boolean().nullable().optional(),
    previous_response_id: z.null({ error: `previous_response_id ${noStore}` }).optional(),
    conversation: z.null({ error: `conversation ${noStore}` }).optional(),
    background: z
      .literal(false, {
        error: 'background responses are not supported: nothing is stored to poll',
      })
      .nullable()
      .optional(),
  });
}

export type ResponsesBody = z.infer<ReturnType<typeof responsesBodySchema>>;

type TextFormat = z.infer<typeof textFormat>;

/**
 * The request's settings as every response object repeats them (OpenAI echoes them so a client
 * sees what produced the answer); null where the request left the backend's default. `store`
 * is accepted and not echoed: nothing is stored either way.
 */
export type EchoedSettings = {
  model: string;
  instructions: string | null;
  max_output_tokens: number | null;
  temperature: number | null;
  top_p: number | null;
  metadata: Record<string, string>;
  parallel_tool_calls: boolean;
  tool_choice: 'none' | 'auto';
  tools: never[];
  text: { format: TextFormat };
  reasoning: { effort: z.infer<typeof reasoningEffort> | null; summary: null };
  previous_response_id: null;
  background: false;
  truncation: 'disabled';
  user?: string;
};

export type ResponsesRequest = {
  /** The chat completion that answers it, normalised like any chat request. */
  chat: InferenceRequest;
  settings: EchoedSettings;
};

const chatEndpoint = (() => {
  const endpoint = inferenceEndpoints.find((candidate) => candidate.path === '/chat/completions');
  if (endpoint === undefined) {
    throw new Error('the chat completions endpoint is missing from inferenceEndpoints');
  }
  return endpoint;
})();

type ContentPart = z.infer<typeof contentPart>;
type MessageItem = ResponsesBody['input'][number];

function chatPartOf(part: ContentPart): Record<string, unknown> {
  if (part.type === 'input_image') {
    const imageUrl =
      part.detail === undefined
        ? { url: part.image_url }
        : { url: part.image_url, detail: part.detail };
    return { type: 'image_url', image_url: imageUrl };
  }
  return { type: 'text', text: part.text };
}

/**
 * One chat message per item. Developer messages go as system messages: open servers' chat
 * templates know `system`, and many fail on a role they do not. One text part goes as a plain
 * string, which every server reads.
 */
function chatMessageOf(item: MessageItem): Record<string, unknown> {
  const role = item.role === 'developer' ? 'system' : item.role;
  const [first] = item.content;
  if (item.content.length === 1 && first !== undefined && first.type !== 'input_image') {
    return { role, content: first.text };
  }
  return { role, content: item.content.map(chatPartOf) };
}

function responseFormatOf(format: TextFormat | undefined): Record<string, unknown> | undefined {
  if (format === undefined || format.type === 'text') {
    return undefined;
  }
  if (format.type === 'json_object') {
    return { type: 'json_object' };
  }
  const { type, ...jsonSchema } = format;
  return { type, json_schema: jsonSchema };
}

/** The chat body answering `body`: only what the chat path forwards, nothing of the echo. */
export function chatBodyOf(body: ResponsesBody): Record<string, unknown> & { model: string } {
  const messages = body.input.map(chatMessageOf);
  if (body.instructions) {
    messages.unshift({ role: 'system', content: body.instructions });
  }
  const chat: Record<string, unknown> & { model: string } = { model: body.model, messages };
  const optional: Record<string, unknown> = {
    max_tokens: body.max_output_tokens,
    temperature: body.temperature,
    top_p: body.top_p,
    user: body.user,
    reasoning_effort: body.reasoning?.effort,
    response_format: responseFormatOf(body.text?.format),
  };
  for (const [name, value] of Object.entries(optional)) {
    if (value !== undefined && value !== null) {
      chat[name] = value;
    }
  }
  if (body.stream === true) {
    // The usage chunk is asked for and kept: response.completed carries the usage.
    chat.stream = true;
    chat.stream_options = { include_usage: true };
  }
  return chat;
}

function settingsOf(body: ResponsesBody): EchoedSettings {
  return {
    model: body.model,
    instructions: body.instructions ?? null,
    max_output_tokens: body.max_output_tokens ?? null,
    temperature: body.temperature ?? null,
    top_p: body.top_p ?? null,
    metadata: body.metadata ?? {},
    parallel_tool_calls: body.parallel_tool_calls ?? true,
    tool_choice: body.tool_choice ?? 'auto',
    tools: [],
    text: { format: body.text?.format ?? { type: 'text' } },
    reasoning: { effort: body.reasoning?.effort ?? null, summary: null },
    previous_response_id: null,
    background: false,
    truncation: 'disabled',
    ...(body.user === undefined ? {} : { user: body.user }),
  };
}

/** Built once per set of limits: a batch runner reads every line through the same schema. */
const schemas = new WeakMap<Limits, ReturnType<typeof responsesBodySchema>>();

function schemaFor(limits: Limits): ReturnType<typeof responsesBodySchema> {
  let schema = schemas.get(limits);
  if (schema === undefined) {
    schema = responsesBodySchema(limits);
    schemas.set(limits, schema);
  }
  return schema;
}

/**
 * Validates a parsed JSON body (a 400 naming the field when it is wrong) and builds the chat
 * request that answers it.
 */
export function responsesRequestOf(parsed: unknown, limits: Limits): ResponsesRequest {
  const body = validateJson(parsed, schemaFor(limits));
  return {
    chat: inferenceRequestOf(chatEndpoint, chatBodyOf(body), limits),
    settings: settingsOf(body),
  };
}
