/**
 * The document built from route docs: OpenAPI paths and parameters from Hono's, the input side of
 * the handler's schemas, the credential and the statuses a route answers.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { openApiDocument, openApiPath } from './openapi-document.ts';
import { routeDocsFor } from './route-doc.ts';

const route = routeDocsFor('admin');

describe('openApiDocument', () => {
  it("writes Hono's paths in OpenAPI's form, a rest-of-path parameter said to hold slashes", () => {
    expect(openApiPath('/admin/v1/prices/:model{.+}')).toBe('/admin/v1/prices/{model}');
    expect(openApiPath('/admin/v1/tenants/:id/keys')).toBe('/admin/v1/tenants/{id}/keys');
    const document = openApiDocument([route('put', '/admin/v1/prices/:model{.+}', 'Price')]);
    const operation = document.paths['/admin/v1/prices/{model}']?.put as {
      operationId: string;
      parameters: { name: string; description?: string }[];
      security: unknown[];
    };
    expect(operation.operationId).toBe('putAdminV1PricesModel');
    expect(operation.parameters[0]).toMatchObject({ name: 'model', in: 'path', required: true });
    expect(operation.parameters[0]?.description).toContain('/');
    expect(operation.security).toEqual([{ adminToken: [] }]);
  });

  it('gives the input side of the handler schema, each query field as a parameter', () => {
    const body = z.strictObject({ amount: z.string(), note: z.string().nullable().optional() });
    const query = z.object({ limit: z.string().regex(/^\d+$/).optional(), tenant: z.string() });
    const document = openApiDocument([
      route('post', '/admin/v1/things', 'Make', {
        body,
        query,
        successStatus: 201,
        byReference: true,
      }),
    ]);
    const operation = document.paths['/admin/v1/things']?.post as {
      parameters: { name: string; required: boolean; schema: unknown }[];
      requestBody: { content: { 'application/json': { schema: Record<string, unknown> } } };
      responses: Record<string, unknown>;
    };
    expect(operation.parameters).toEqual([
      {
        name: 'limit',
        in: 'query',
        required: false,
        schema: { type: 'string', pattern: '^\\d+$' },
      },
      { name: 'tenant', in: 'query', required: true, schema: { type: 'string' } },
    ]);
    const schema = operation.requestBody.content['application/json'].schema;
    expect(schema).toMatchObject({ required: ['amount'], additionalProperties: false });
    expect(schema.$schema).toBeUndefined();
    expect(Object.keys(operation.responses)).toEqual(['200', '201', 'default']);
  });
});
