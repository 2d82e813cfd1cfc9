/**
 * The OpenAPI 3.1 document of the gateway, built from the route docs kept beside each router:
 * paths in OpenAPI's `{param}` form, the credential each takes, query parameters and request
 * bodies as the JSON Schema of the zod schemas the handlers validate with (their input side:
 * what a client may send), and OpenAI's error envelope for every failure.
 */
import { z } from 'zod';
import { errorTable } from '../../errors.ts';
import type { AuthKind, RouteDoc } from './route-doc.ts';

type JsonSchema = Record<string, unknown>;

/** OpenAI's error envelope, as toErrorBody writes it. */
export const errorBodySchema = z.strictObject({
  error: z.strictObject({
    message: z.string(),
    type: z.string(),
    param: z.string().nullable(),
    code: z.enum(Object.keys(errorTable) as [keyof typeof errorTable]),
  }),
});

const securitySchemes = {
  adminToken: {
    type: 'http',
    scheme: 'bearer',
    description: 'The operator’s admin token, on /admin/v1.',
  },
  providerToken: {
    type: 'http',
    scheme: 'bearer',
    description: 'A provider’s token (tbp-…), on /provider/v1.',
  },
  apiKey: {
    type: 'http',
    scheme: 'bearer',
    description: 'A tenant’s API key (tbk-…), on /v1, as OpenAI’s SDKs send it.',
  },
} as const;

const schemeOf: Record<AuthKind, keyof typeof securitySchemes | undefined> = {
  admin: 'adminToken',
  provider: 'providerToken',
  apiKey: 'apiKey',
  none: undefined,
};

const tagOf: Record<AuthKind, string> = {
  admin: 'Admin',
  provider: 'Provider',
  apiKey: 'Tenant (API key)',
  none: 'Operations',
};

/** The JSON Schema a client's input must meet; `$schema` is the document's own dialect. */
export function inputJsonSchema(schema: z.ZodType): JsonSchema {
  const { $schema: _dialect, ...json } = z.toJSONSchema(schema, {
    io: 'input',
    unrepresentable: 'any',
  }) as JsonSchema;
  return json;
}

/** Hono's `/prices/:model{.+}` as OpenAPI's `/prices/{model}`. */
export function openApiPath(honoPath: string): string {
  return honoPath.replace(/:(\w+)(\{[^}]*\})?/g, '{$1}');
}

function pathParameters(honoPath: string) {
  return [...honoPath.matchAll(/:(\w+)(\{\.\+\})?/g)].map((match) => ({
    name: match[1],
    in: 'path',
    required: true,
    schema: { type: 'string' },
    // Hono's `{.+}` takes the rest of the path: a model name such as `org/model` is one id.
    ...(match[2] === undefined ? {} : { description: 'The rest of the path; it may hold "/".' }),
  }));
}

function queryParameters(query: z.ZodObject | undefined) {
  if (query === undefined) {
    return [];
  }
  const json = inputJsonSchema(query);
  const properties = (json.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((json.required ?? []) as string[]);
  return Object.entries(properties).map(([name, schema]) => ({
    name,
    in: 'query',
    required: required.has(name),
    schema,
  }));
}

function requestBody(doc: RouteDoc) {
  if (doc.body !== undefined) {
    return {
      required: true,
      content: { 'application/json': { schema: inputJsonSchema(doc.body) } },
    };
  }
  if (doc.form !== undefined) {
    return {
      required: true,
      content: { 'multipart/form-data': { schema: inputJsonSchema(doc.form) } },
    };
  }
  return undefined;
}

/** `post /admin/v1/tenants/{id}/keys` as `postAdminV1TenantsIdKeys`: unique per route. */
function operationIdOf(doc: RouteDoc): string {
  const words = openApiPath(doc.path)
    .split(/[^A-Za-z0-9]+/)
    .filter((word) => word !== '');
  return [doc.method, ...words.map((word) => word[0]?.toUpperCase() + word.slice(1))].join('');
}

function operationOf(doc: RouteDoc) {
  const scheme = schemeOf[doc.auth];
  const successTypes = doc.successTypes ?? ['application/json'];
  const body = requestBody(doc);
  const parameters = [...pathParameters(doc.path), ...queryParameters(doc.query)];
  return {
    operationId: operationIdOf(doc),
    summary: doc.summary,
    tags: [tagOf[doc.auth]],
    security: scheme === undefined ? [] : [{ [scheme]: [] }],
    ...(parameters.length === 0 ? {} : { parameters }),
    ...(body === undefined ? {} : { requestBody: body }),
    responses: {
      [String(doc.successStatus ?? 200)]: {
        description: doc.successStatus === 201 ? 'Created.' : 'Success.',
        content: Object.fromEntries(successTypes.map((type) => [type, {}])),
      },
      ...(doc.byReference === true
        ? {
            '200': {
              description:
                'The same reference again: the first answer, `duplicate: true`, nothing moved.',
              content: { 'application/json': {} },
            },
          }
        : {}),
      default: {
        description: 'A failure in OpenAI’s error envelope.',
        content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
      },
    },
  };
}

export function openApiDocument(docs: readonly RouteDoc[]) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const doc of docs) {
    const path = openApiPath(doc.path);
    paths[path] = { ...paths[path], [doc.method]: operationOf(doc) };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'tokenbank',
      version: '1',
      description:
        'Token-metered, OpenAI-compatible inference gateway: the admin, provider and tenant APIs. Money is a decimal string in the deployment currency.',
    },
    tags: Object.values(tagOf).map((name) => ({ name })),
    paths,
    components: {
      securitySchemes,
      schemas: { Error: inputJsonSchema(errorBodySchema) },
    },
  };
}
