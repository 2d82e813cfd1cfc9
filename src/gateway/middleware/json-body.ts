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

/**
 * `isPlain`, when given, passes bodies the schema would accept unchanged without running it (a
 * hot route's cheap check); whatever it does not pass is validated by the schema.
 */
export async function readJsonBody<Schema extends z.ZodType>(
  c: Context<HonoEnv>,
  schema: Schema,
  isPlain?: (value: unknown) => value is z.infer<Schema>,
): Promise<JsonBody<z.infer<Schema>>> {
  const { limits } = c.get('deps').config;
  const bytes = await c.get('deps').request.readBody(c, limits.requestBodyBytesMax);
  const parsed = parseJsonObject(bytes, limits.jsonDepthMax);
  return { bytes, value: isPlain?.(parsed) ? parsed : validateJson(parsed, schema) };
}

/**
 * The top-level field under which a parsed object nests deeper than `depthMax`, or undefined.
 * Counted without recursion: a body nested 100,000 deep parses, but every recursive walk after
 * it (validation, serialisation) would overflow the stack.
 */
function tooDeepField(value: Record<string, unknown>, depthMax: number): string | undefined {
  for (const [field, child] of Object.entries(value)) {
    const pending: Array<{ value: unknown; depth: number }> = [{ value: child, depth: 2 }];
    for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
      if (typeof next.value !== 'object' || next.value === null) {
        continue;
      }
      if (next.depth > depthMax) {
        return field;
      }
      for (const grandchild of Object.values(next.value)) {
        pending.push({ value: grandchild, depth: next.depth + 1 });
      }
    }
  }
  return undefined;
}

export function parseJsonObject(bytes: Uint8Array, depthMax: number): unknown {
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
  const field = tooDeepField(parsed as Record<string, unknown>, depthMax);
  if (field !== undefined) {
    throw new GatewayError(
      'invalid_request',
      `${field}: objects and arrays nest deeper than ${depthMax} levels.`,
      { param: field },
    );
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
