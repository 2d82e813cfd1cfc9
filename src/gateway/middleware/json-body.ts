/**
 * Reads a request's JSON body once and validates it with a zod schema. Every way a body can be
 * wrong ends in a 400 (or 413) in OpenAI's envelope that names the offending field.
 */
import type { Context } from 'hono';
import type { z } from 'zod';
import type { HonoEnv } from '../../deps.ts';
import { GatewayError } from '../../errors.ts';

const utf8 = new TextDecoder('utf-8', { fatal: true });

export type JsonBody<Value> = { bytes: Uint8Array; value: Value };

export async function readJsonBody<Schema extends z.ZodType>(
  c: Context<HonoEnv>,
  schema: Schema,
): Promise<JsonBody<z.infer<Schema>>> {
  const deps = c.get('deps');
  const bytes = await deps.request.readBody(c, deps.config.limits.requestBodyBytesMax);
  return { bytes, value: validateJson(parseJsonObject(bytes), schema) };
}

export function parseJsonObject(bytes: Uint8Array): unknown {
  if (bytes.byteLength === 0) {
    // An empty body means "no fields", as for a key created with every default.
    return {};
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(utf8.decode(bytes));
  } catch {
    throw new GatewayError('invalid_request', 'The request body is not valid UTF-8 JSON.');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new GatewayError('invalid_request', 'The request body must be a JSON object.');
  }
  return parsed;
}

export function validateJson<Schema extends z.ZodType>(
  value: unknown,
  schema: Schema,
): z.infer<Schema> {
  const result = schema.safeParse(value);
  if (result.success) {
    return result.data;
  }
  const issue = result.error.issues[0];
  // An unknown field is reported at its object; the field itself is what the client must fix.
  const path =
    issue?.code === 'unrecognized_keys' ? [...issue.path, ...issue.keys.slice(0, 1)] : issue?.path;
  const param = path?.map(String).join('.') || undefined;
  const message = `${param ?? 'body'}: ${issue?.message ?? 'invalid value'}`;
  throw new GatewayError('invalid_request', message, param === undefined ? {} : { param });
}
