/**
 * Hand-written checks of the common inference bodies, run before the zod schemas of
 * openai-requests.ts: zod copied every body and every message on each request, the bulk of the
 * body stage's CPU. A check answers true only for a body its schema accepts unchanged (same
 * fields, same values), and is stricter than the schema where that is simpler (lengths in UTF-16
 * units, safe integers, only the plainest prompt shapes). Any body it does not pass, valid or
 * not, goes through the schema, so every refusal keeps the schema's exact 400 answer.
 */
import type { Limits } from '../../config.ts';
import type {
  ChatCompletionRequest,
  CompletionRequest,
  EmbeddingRequest,
} from './openai-requests.ts';

type Fields = Record<string, unknown>;

const modelNameLengthMax = 256;
const roleLengthMax = 64;
const choiceCountMax = 128;

function isObject(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isStringOfLength(value: unknown, lengthMin: number, lengthMax: number): boolean {
  return typeof value === 'string' && value.length >= lengthMin && value.length <= lengthMax;
}

/** Absent, null, or a whole number from 1 to `maximum`. */
function isCountOrNothing(value: unknown, maximum: number): boolean {
  return (
    value === undefined ||
    value === null ||
    (Number.isSafeInteger(value) && (value as number) >= 1 && (value as number) <= maximum)
  );
}

function isOptionalBoolean(value: unknown): boolean {
  return value === undefined || value === null || typeof value === 'boolean';
}

function isStreamOptions(value: unknown): boolean {
  return (
    value === undefined ||
    value === null ||
    (isObject(value) &&
      (value.include_usage === undefined || typeof value.include_usage === 'boolean'))
  );
}

/** model, stream and stream_options, as every generating endpoint checks them. */
function hasPlainStreamFields(body: Fields): boolean {
  return (
    isStringOfLength(body.model, 1, modelNameLengthMax) &&
    isOptionalBoolean(body.stream) &&
    isStreamOptions(body.stream_options)
  );
}

function isStringArray(value: unknown, lengthMin: number, lengthMax: number): boolean {
  if (!Array.isArray(value) || value.length < lengthMin || value.length > lengthMax) {
    return false;
  }
  for (const item of value) {
    if (typeof item !== 'string') {
      return false;
    }
  }
  return true;
}

function hasPlainMessages(value: unknown, limits: Limits): boolean {
  if (!Array.isArray(value) || value.length < 1 || value.length > limits.messagesCountMax) {
    return false;
  }
  for (const message of value) {
    if (!isObject(message) || !isStringOfLength(message.role, 1, roleLengthMax)) {
      return false;
    }
  }
  return true;
}

export function isPlainChatBody(value: unknown, limits: Limits): value is ChatCompletionRequest {
  return (
    isObject(value) &&
    hasPlainStreamFields(value) &&
    hasPlainMessages(value.messages, limits) &&
    isCountOrNothing(value.max_tokens, limits.outputTokensMax) &&
    isCountOrNothing(value.max_completion_tokens, limits.outputTokensMax) &&
    isCountOrNothing(value.n, choiceCountMax)
  );
}

/** A prompt given as one text or a list of texts; token arrays go through the schema. */
export function isPlainCompletionBody(value: unknown, limits: Limits): value is CompletionRequest {
  return (
    isObject(value) &&
    hasPlainStreamFields(value) &&
    (typeof value.prompt === 'string' || isStringArray(value.prompt, 1, limits.messagesCountMax)) &&
    isCountOrNothing(value.max_tokens, limits.outputTokensMax) &&
    isCountOrNothing(value.n, choiceCountMax) &&
    isCountOrNothing(value.best_of, choiceCountMax)
  );
}

/** An input given as one text or a list of texts; token arrays go through the schema. */
export function isPlainEmbeddingBody(value: unknown, limits: Limits): value is EmbeddingRequest {
  return (
    isObject(value) &&
    isStringOfLength(value.model, 1, modelNameLengthMax) &&
    (isStringOfLength(value.input, 1, Number.POSITIVE_INFINITY) ||
      isStringArray(value.input, 1, limits.embeddingInputsMax))
  );
}
