/**
 * Validation of a batch's input file, all of it before any line runs: every line must be a JSON
 * object `{custom_id, method: "POST", url, body}` whose url is the batch's endpoint, whose
 * custom_id is unique, and whose body the endpoint would accept for a model the key may use. A
 * file with any bad line fails the batch with OpenAI's `errors` (up to a listed maximum) and
 * nothing runs, so nothing is charged.
 */
import { z } from 'zod';
import type { Limits } from '../../config.ts';
import type { NewBatchLine } from '../../db/batch-store.ts';
import type { BatchErrorItem } from '../../db/enums.ts';
import { GatewayError } from '../../errors.ts';
import { parseJsonObject, validateJson } from '../middleware/json-body.ts';
import type { BatchEndpoint, BatchEndpointRule } from './batch-endpoints.ts';

export type BatchInputContext = {
  endpoint: BatchEndpoint;
  rule: BatchEndpointRule;
  limits: Limits;
  /** Whether the batch's key may use this model and the pool serves it. */
  modelAvailable(model: string): boolean;
};

export type BatchInput =
  | { ok: true; lines: NewBatchLine[] }
  | { ok: false; errors: BatchErrorItem[]; errorCount: number };

const utf8 = new TextDecoder('utf-8', { fatal: true });

function lineSchema(limits: Limits) {
  return z.strictObject({
    custom_id: z.string().min(1).max(limits.batchCustomIdCharsMax),
    method: z.literal('POST'),
    url: z.string().max(256),
    body: z.looseObject({ model: z.string().min(1).max(256) }),
  });
}

type LineSchema = ReturnType<typeof lineSchema>;

/** The file's lines, blank ones (a trailing newline) left out, each with its 1-based number. */
function textLines(text: string): Array<{ number: number; text: string }> {
  const lines: Array<{ number: number; text: string }> = [];
  let number = 0;
  for (const raw of text.split('\n')) {
    number += 1;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() !== '') {
      lines.push({ number, text: line });
    }
  }
  return lines;
}

function errorOf(code: string, message: string, line: number | null, param: string | null) {
  return { code, message, line, param };
}

/** One line read and checked; the error it has, if any. */
function readLine(
  context: BatchInputContext,
  schema: LineSchema,
  line: { number: number; text: string },
  seen: Set<string>,
): NewBatchLine | BatchErrorItem {
  const encoder = new TextEncoder();
  let value: z.infer<LineSchema>;
  try {
    value = validateJson(
      parseJsonObject(encoder.encode(line.text), context.limits.jsonDepthMax),
      schema,
    );
  } catch (error) {
    return errorOf('invalid_json_line', messageOf(error), line.number, paramOf(error));
  }
  if (value.url !== context.endpoint) {
    return errorOf(
      'mismatched_url',
      `The line's url '${value.url}' is not the batch's endpoint '${context.endpoint}'.`,
      line.number,
      'url',
    );
  }
  if (seen.has(value.custom_id)) {
    return errorOf(
      'duplicate_custom_id',
      `The custom_id '${value.custom_id}' is used by an earlier line; each must be unique.`,
      line.number,
      'custom_id',
    );
  }
  seen.add(value.custom_id);
  if (!context.modelAvailable(value.body.model)) {
    return errorOf(
      'model_not_found',
      `The model '${value.body.model}' does not exist or you do not have access to it.`,
      line.number,
      'body.model',
    );
  }
  try {
    context.rule.read(value.body);
  } catch (error) {
    return errorOf('invalid_request', messageOf(error), line.number, paramOf(error, 'body.'));
  }
  return {
    lineIndex: line.number,
    customId: value.custom_id,
    model: value.body.model,
    body: value.body,
  };
}

function messageOf(error: unknown): string {
  if (error instanceof GatewayError) {
    return error.message;
  }
  throw error;
}

function paramOf(error: unknown, prefix = ''): string | null {
  return error instanceof GatewayError && error.param !== undefined
    ? `${prefix}${error.param}`
    : null;
}

/** Reads a whole input file: its lines, or why the batch fails. */
export function readBatchInput(content: Uint8Array, context: BatchInputContext): BatchInput {
  const { limits } = context;
  let text: string;
  try {
    text = utf8.decode(content);
  } catch {
    return refused(errorOf('invalid_file', 'The input file is not valid UTF-8.', null, null));
  }
  const lines = textLines(text);
  if (lines.length === 0) {
    return refused(errorOf('empty_file', 'The input file has no lines.', null, null));
  }
  if (lines.length > limits.batchLinesMax) {
    return refused(
      errorOf(
        'too_many_lines',
        `The input file has ${lines.length} lines; a batch takes at most ${limits.batchLinesMax}.`,
        null,
        null,
      ),
    );
  }
  const schema = lineSchema(limits);
  const seen = new Set<string>();
  const read: NewBatchLine[] = [];
  const errors: BatchErrorItem[] = [];
  let errorCount = 0;
  for (const line of lines) {
    const result = readLine(context, schema, line, seen);
    if ('code' in result) {
      errorCount += 1;
      if (errors.length < limits.batchErrorsListedMax) {
        errors.push(result);
      }
    } else {
      read.push(result);
    }
  }
  return errorCount === 0 ? { ok: true, lines: read } : { ok: false, errors, errorCount };
}

function refused(error: BatchErrorItem): BatchInput {
  return { ok: false, errors: [error], errorCount: 1 };
}
