/**
 * The edges every API surface shares: the three credentials of API.md are never mixed up (each
 * surface takes only its own, malformed headers are refused, refused writes change nothing),
 * unknown routes and bad bodies end in OpenAI's envelope, and no answer is ever a server error.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { limitsSchema } from '../src/config.ts';
import {
  answeredRequests,
  type ErrorBody,
  expectError,
  type ListBody,
  readJson,
} from './support/api-assertions.ts';
import {
  bearerJson,
  type InProcessGateway,
  startInProcessGateway,
  testAdminToken,
} from './support/in-process-gateway.ts';

/** What the fixture created, for routes that need real ids. */
type Fixture = {
  tenantId: string;
  keyId: string;
  clientKey: string;
  providerToken: string;
  backendId: string;
};

type Route = { method: string; path: string; body?: unknown };

let gateway: InProcessGateway;
let fixture: Fixture;

const { send } = answeredRequests(() => gateway);

/** Every failure here is also sent as JSON. */
async function expectJsonError(
  response: Response,
  status: number,
  code: string,
  param: string | null = null,
): Promise<ErrorBody['error']> {
  const error = await expectError(response, status, code, param);
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  return error;
}

async function createFixture(): Promise<Fixture> {
  const tenant = await readJson<{ id: string }>(
    await gateway.admin('POST', '/admin/v1/tenants', { name: 'Acme' }),
    201,
  );
  const key = await readJson<{ id: string; key: string }>(
    await gateway.admin('POST', `/admin/v1/tenants/${tenant.id}/keys`, {}),
    201,
  );
  const provider = await readJson<{ token: string }>(
    await gateway.admin('POST', '/admin/v1/providers', { name: 'GPU Farm', payout_bps: 8000 }),
    201,
  );
  const backend = await readJson<{ id: string }>(
    await gateway.app.request(
      '/provider/v1/backends',
      bearerJson(provider.token, 'POST', {
        url: 'https://gpu.example.com/v1',
        region: 'cn-east',
        models: ['m'],
      }),
    ),
    201,
  );
  return {
    tenantId: tenant.id,
    keyId: key.id,
    clientKey: key.key,
    providerToken: provider.token,
    backendId: backend.id,
  };
}

/** `{tenant}`, `{key}` and `{backend}` in a path become the fixture's ids. */
function pathOf(route: Route): string {
  return route.path
    .replace('{tenant}', fixture.tenantId)
    .replace('{key}', fixture.keyId)
    .replace('{backend}', fixture.backendId);
}

function label(route: Route): string {
  return `${route.method} ${route.path}`;
}

const adminRoutes: Route[] = [
  { method: 'POST', path: '/admin/v1/tenants', body: { name: 'Intruder' } },
  { method: 'GET', path: '/admin/v1/tenants' },
  { method: 'GET', path: '/admin/v1/tenants/{tenant}' },
  { method: 'POST', path: '/admin/v1/tenants/{tenant}/keys', body: {} },
  { method: 'GET', path: '/admin/v1/tenants/{tenant}/keys' },
  { method: 'DELETE', path: '/admin/v1/keys/{key}' },
  {
    method: 'POST',
    path: '/admin/v1/tenants/{tenant}/topups',
    body: { amount: '100.00', reference: 'r1' },
  },
  {
    method: 'POST',
    path: '/admin/v1/tenants/{tenant}/coupons',
    body: { kind: 'credit', amount: '10.00', reference: 'c1' },
  },
  { method: 'DELETE', path: '/admin/v1/coupons/cpn_x' },
  { method: 'GET', path: '/admin/v1/tenants/{tenant}/usage' },
  { method: 'GET', path: '/admin/v1/tenants/{tenant}/ledger' },
  { method: 'PATCH', path: '/admin/v1/tenants/{tenant}', body: { allowed_regions: ['x'] } },
  { method: 'PATCH', path: '/admin/v1/keys/{key}', body: { rpm: 1 } },
  {
    method: 'POST',
    path: '/admin/v1/tenants/{tenant}/adjustments',
    body: { amount: '5.00', reason: 'gift', reference: 'a1' },
  },
  { method: 'GET', path: '/admin/v1/tenants/{tenant}/adjustments' },
  { method: 'GET', path: '/admin/v1/programs' },
  { method: 'GET', path: '/admin/v1/programs/p/statement' },
  {
    method: 'POST',
    path: '/admin/v1/providers/prv_x/payouts',
    body: { amount: '1.00', reference: 'w1' },
  },
  { method: 'GET', path: '/admin/v1/providers/prv_x/payouts' },
  { method: 'PUT', path: '/admin/v1/providers/prv_x/payout-rate', body: { payout_bps: 0 } },
  { method: 'POST', path: '/admin/v1/providers', body: { name: 'Intruder', payout_bps: 10_000 } },
  { method: 'GET', path: '/admin/v1/providers' },
  { method: 'PUT', path: '/admin/v1/prices/m', body: { input: '0.00', output: '0.00' } },
  { method: 'PUT', path: '/admin/v1/prices/qwen/qwen2.5-7b', body: { input: '0', output: '0' } },
  { method: 'GET', path: '/admin/v1/prices' },
  { method: 'GET', path: '/admin/v1/backends' },
  { method: 'GET', path: '/admin/v1/audit' },
  { method: 'GET', path: '/admin/v1/ledger/check' },
  { method: 'GET', path: '/admin/v1/no-such-route' },
];

const providerRoutes: Route[] = [
  {
    method: 'POST',
    path: '/provider/v1/backends',
    body: { url: 'https://evil.example.com/v1', region: 'cn-east', models: ['m'] },
  },
  { method: 'GET', path: '/provider/v1/backends' },
  { method: 'PATCH', path: '/provider/v1/backends/{backend}', body: { state: 'draining' } },
  { method: 'DELETE', path: '/provider/v1/backends/{backend}' },
  { method: 'GET', path: '/provider/v1/earnings' },
];

const clientRoutes: Route[] = [
  { method: 'GET', path: '/v1/models' },
  { method: 'GET', path: '/v1/models/m' },
  {
    method: 'POST',
    path: '/v1/chat/completions',
    body: { model: 'm', messages: [{ role: 'user', content: 'hi' }] },
  },
  { method: 'POST', path: '/v1/embeddings', body: { model: 'm', input: 'hi' } },
  { method: 'POST', path: '/v1/completions', body: { model: 'm', prompt: 'hi' } },
];

/** Each credential a surface must refuse, by name. */
type Credential = (fixture: Fixture) => string | undefined;

const noToken: Credential = () => undefined;
const clientKey: Credential = (current) => current.clientKey;
const providerToken: Credential = (current) => current.providerToken;
const adminToken: Credential = () => testAdminToken;

async function callWith(credential: Credential, route: Route): Promise<Response> {
  const token = credential(fixture);
  const headers: Record<string, string> = {};
  if (token !== undefined) {
    headers.authorization = `Bearer ${token}`;
  }
  if (route.body !== undefined) {
    headers['content-type'] = 'application/json';
  }
  return send(pathOf(route), {
    method: route.method,
    headers,
    ...(route.body === undefined ? {} : { body: JSON.stringify(route.body) }),
  });
}

/** The state refused writes must not have changed. */
async function expectFixtureUntouched(): Promise<void> {
  const tenants = await readJson<ListBody<{ id: string }>>(
    await gateway.admin('GET', '/admin/v1/tenants'),
    200,
  );
  expect(tenants.data.map((tenant) => tenant.id)).toEqual([fixture.tenantId]);
  const keys = await readJson<ListBody<{ id: string; status: string }>>(
    await gateway.admin('GET', `/admin/v1/tenants/${fixture.tenantId}/keys`),
    200,
  );
  expect(keys.data.map((key) => [key.id, key.status])).toEqual([[fixture.keyId, 'active']]);
  const providers = await readJson<ListBody<unknown>>(
    await gateway.admin('GET', '/admin/v1/providers'),
    200,
  );
  expect(providers.data).toHaveLength(1);
  const prices = await readJson<ListBody<unknown>>(
    await gateway.admin('GET', '/admin/v1/prices'),
    200,
  );
  expect(prices.data).toEqual([]);
  const backends = await readJson<ListBody<{ id: string; state: string }>>(
    await gateway.admin('GET', '/admin/v1/backends'),
    200,
  );
  expect(backends.data.map((backend) => [backend.id, backend.state])).toEqual([
    [fixture.backendId, 'healthy'],
  ]);
}

beforeEach(async () => {
  gateway = await startInProcessGateway();
  fixture = await createFixture();
});

afterEach(async () => {
  await gateway.close();
});

describe('credentials are never mixed up', () => {
  const wrongAdminToken: Credential = () => 'tba-wrong-admin-token-0123456789abcdef';
  const adminTokenInOtherCase: Credential = () => testAdminToken.toUpperCase();
  const unknownClientKey: Credential = () => `tbk-${'0'.repeat(40)}`;
  const unknownProviderToken: Credential = () => `tbp-${'0'.repeat(40)}`;

  describe.each([
    ['no token', noToken],
    ['a client key (tbk-)', clientKey],
    ['a provider token (tbp-)', providerToken],
    ['a wrong admin token', wrongAdminToken],
    ['the admin token in upper case', adminTokenInOtherCase],
  ])('the admin API with %s', (_credentialName, credential) => {
    it.each(adminRoutes.map((route) => [label(route), route] as const))(
      'answers %s with 401 invalid_api_key',
      async (_route, route) => {
        await expectJsonError(await callWith(credential, route), 401, 'invalid_api_key');
      },
    );

    it('changes nothing', async () => {
      for (const route of adminRoutes) {
        await callWith(credential, route);
      }
      await expectFixtureUntouched();
    });
  });

  describe.each([
    ['no token', noToken],
    ['the admin token', adminToken],
    ['a client key (tbk-)', clientKey],
    ['an unknown provider token', unknownProviderToken],
  ])('the provider API with %s', (_credentialName, credential) => {
    it.each(providerRoutes.map((route) => [label(route), route] as const))(
      'answers %s with 401 invalid_api_key',
      async (_route, route) => {
        await expectJsonError(await callWith(credential, route), 401, 'invalid_api_key');
      },
    );

    it('changes nothing', async () => {
      for (const route of providerRoutes) {
        await callWith(credential, route);
      }
      await expectFixtureUntouched();
    });
  });

  describe.each([
    ['no token', noToken],
    ['the admin token', adminToken],
    ['a provider token (tbp-)', providerToken],
    ['an unknown client key', unknownClientKey],
  ])('the client API with %s', (_credentialName, credential) => {
    it.each(clientRoutes.map((route) => [label(route), route] as const))(
      'answers %s with 401 invalid_api_key',
      async (_route, route) => {
        await expectJsonError(await callWith(credential, route), 401, 'invalid_api_key');
      },
    );
  });

  it.each([
    ['the admin API', adminToken, '/admin/v1/tenants'],
    ['the provider API', providerToken, '/provider/v1/backends'],
    ['the client API', clientKey, '/v1/models'],
  ])('%s answers 200 to its own credential', async (_surface, credential, path) => {
    await readJson(await callWith(credential, { method: 'GET', path }), 200);
  });

  it('accepts the scheme name in any case, as HTTP says', async () => {
    await readJson(
      await send('/admin/v1/tenants', { headers: { authorization: `bearer ${testAdminToken}` } }),
      200,
    );
  });
});

describe('malformed Authorization headers', () => {
  const surfaces: [string, string, Credential][] = [
    ['the admin API', '/admin/v1/tenants', adminToken],
    ['the provider API', '/provider/v1/backends', providerToken],
    ['the client API', '/v1/models', clientKey],
  ];

  const malformed: [string, (token: string) => string][] = [
    ['Basic with the right secret', (token) => `Basic ${token}`],
    ['Basic user:password', () => 'Basic dXNlcjpwYXNzd29yZA=='],
    ['Bearer alone', () => 'Bearer'],
    ['Bearer and a space', () => 'Bearer '],
    ['the bare secret with no scheme', (token) => token],
    ['Token instead of Bearer', (token) => `Token ${token}`],
    ['two tokens', (token) => `Bearer ${token} ${token}`],
    ['a tab instead of a space', (token) => `Bearer\t${token}`],
    ['the right secret with one character more', (token) => `Bearer ${token}x`],
    ['the right secret missing its last character', (token) => `Bearer ${token.slice(0, -1)}`],
    ['a token of 513 characters', (token) => `Bearer ${token.slice(0, 4)}${'a'.repeat(509)}`],
    [
      'a token of 100,000 characters',
      (token) => `Bearer ${token.slice(0, 4)}${'a'.repeat(100_000)}`,
    ],
  ];

  for (const [surface, path, credential] of surfaces) {
    it.each(malformed)(`${surface} refuses %s with 401 invalid_api_key`, async (_case, header) => {
      const token = credential(fixture) ?? '';

      await expectJsonError(
        await send(path, { headers: { authorization: header(token) } }),
        401,
        'invalid_api_key',
      );
    });
  }
});

describe('paths that look like the admin API', () => {
  it.each([
    '/admin/v1/tenants/',
    '/admin//v1/tenants',
    '/admin/v1//tenants',
    '/ADMIN/v1/tenants',
    '/Admin/V1/tenants',
    '/admin/v1/%74enants',
    '/admin%2Fv1/tenants',
    '/admin/v1/./tenants',
    '/admin/x/../v1/tenants',
    '/v1/../admin/v1/tenants',
  ])('%s without a token never answers with data', async (path) => {
    const response = await send(path, {});

    expect([401, 404]).toContain(response.status);
    const body = (await response.json()) as ErrorBody;
    expect(body.error.code).toMatch(/^(invalid_api_key|not_found)$/);
  });
});

describe('unknown routes', () => {
  it.each([
    ['GET', '/nope', undefined],
    ['GET', '/v1', undefined],
    ['GET', '/v1/nope', clientKey],
    ['DELETE', '/v1/models', clientKey],
    ['GET', '/v1/chat/completions', clientKey],
    ['GET', '/admin/v1/nope', adminToken],
    ['PATCH', '/admin/v1/tenants', adminToken],
    ['GET', '/provider/v1/nope', providerToken],
    ['PUT', '/provider/v1/backends', providerToken],
  ] as const)('%s %s answers 404 not_found in the envelope', async (method, path, credential) => {
    const error = await expectJsonError(
      await callWith(credential ?? noToken, { method, path }),
      404,
      'not_found',
    );

    expect(error.message).toContain(path);
  });

  it('does not echo a huge path back in full', async () => {
    const path = `/${'x'.repeat(10_000)}`;

    const error = await expectJsonError(await send(path, {}), 404, 'not_found');

    expect(error.message.length).toBeLessThan(400);
  });
});

describe('request bodies', () => {
  const writeRoutes: [string, Credential, Route][] = [
    ['create tenant', adminToken, { method: 'POST', path: '/admin/v1/tenants' }],
    ['create key', adminToken, { method: 'POST', path: '/admin/v1/tenants/{tenant}/keys' }],
    ['create provider', adminToken, { method: 'POST', path: '/admin/v1/providers' }],
    ['put price', adminToken, { method: 'PUT', path: '/admin/v1/prices/m' }],
    ['register backend', providerToken, { method: 'POST', path: '/provider/v1/backends' }],
    ['change backend', providerToken, { method: 'PATCH', path: '/provider/v1/backends/{backend}' }],
    ['chat completion', clientKey, { method: 'POST', path: '/v1/chat/completions' }],
    ['completion', clientKey, { method: 'POST', path: '/v1/completions' }],
    ['embedding', clientKey, { method: 'POST', path: '/v1/embeddings' }],
  ];

  const badBodies: [string, BodyInit][] = [
    ['truncated JSON', '{"name": "Acme"'],
    ['a JSON array', '[{"name": "Acme"}]'],
    ['JSON null', 'null'],
    ['a JSON number', '42'],
    ['a JSON string', '"Acme"'],
    ['invalid UTF-8', new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d])],
    ['100,000 nested arrays', `${'['.repeat(100_000)}${']'.repeat(100_000)}`],
  ];

  async function sendBody(credential: Credential, route: Route, body: BodyInit): Promise<Response> {
    return send(pathOf(route), {
      method: route.method,
      headers: {
        authorization: `Bearer ${credential(fixture) ?? ''}`,
        'content-type': 'application/json',
      },
      body,
    });
  }

  it('reads an empty body as {}: defaults where every field is optional, 400 naming the field otherwise', async () => {
    const key = await sendBody(
      adminToken,
      { method: 'POST', path: '/admin/v1/tenants/{tenant}/keys' },
      '',
    );
    expect(key.status).toBe(201);
    const chat = await sendBody(clientKey, { method: 'POST', path: '/v1/chat/completions' }, '');
    await expectJsonError(chat, 400, 'invalid_request', 'model');
  });

  for (const [routeName, credential, route] of writeRoutes) {
    it.each(badBodies)(`${routeName} refuses %s with 400 invalid_request`, async (_case, body) => {
      await expectJsonError(await sendBody(credential, route, body), 400, 'invalid_request');
    });
  }

  it.each(writeRoutes)(
    '%s refuses an object nested 100,000 levels deep as a bad field, not a crash',
    async (_routeName, credential, route) => {
      const nested = `${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}`;

      const response = await sendBody(credential, route, nested);

      const body = await readJson<ErrorBody>(response, 400);
      expect(body.error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_request' });
      expect(body.error.param).toEqual(expect.any(String));
    },
  );

  it('refuses a prototype-pollution key as an unknown field', async () => {
    const error = await expectJsonError(
      await sendBody(
        adminToken,
        { method: 'POST', path: '/admin/v1/tenants' },
        '{"name": "Acme", "__proto__": {"isAdmin": true}}',
      ),
      400,
      'invalid_request',
      '__proto__',
    );

    expect(error.message).toContain('__proto__');
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
  });

  describe('over the 4 MiB default limit', () => {
    const fourMiB = 4 * 1024 * 1024;
    const oversized = JSON.stringify({ name: 'x'.repeat(fourMiB) });

    it.each(writeRoutes)(
      '%s answers 413 request_too_large',
      async (_routeName, credential, route) => {
        await expectJsonError(
          await sendBody(credential, route, oversized),
          413,
          'request_too_large',
        );
      },
    );

    it('answers 413 before anything is stored', async () => {
      await sendBody(adminToken, { method: 'POST', path: '/admin/v1/tenants' }, oversized);

      await expectFixtureUntouched();
    });
  });

  describe('at a configured limit of 1024 bytes', () => {
    beforeEach(async () => {
      await gateway.close();
      gateway = await startInProcessGateway({
        config: { limits: limitsSchema.parse({ requestBodyBytesMax: 1024 }) },
      });
      fixture = await createFixture();
    });

    /** A valid tenant body padded with JSON whitespace to exactly `bytes` bytes. */
    function tenantBodyOf(bytes: number): string {
      const body = JSON.stringify({ name: 'Acme' });
      return body + ' '.repeat(bytes - body.length);
    }

    it('accepts a body of exactly 1024 bytes', async () => {
      const body = tenantBodyOf(1024);
      expect(new TextEncoder().encode(body).byteLength).toBe(1024);

      await readJson(
        await sendBody(adminToken, { method: 'POST', path: '/admin/v1/tenants' }, body),
        201,
      );
    });

    it('refuses a body of 1025 bytes with 413 request_too_large', async () => {
      await expectJsonError(
        await sendBody(
          adminToken,
          { method: 'POST', path: '/admin/v1/tenants' },
          tenantBodyOf(1025),
        ),
        413,
        'request_too_large',
      );
    });

    it('refuses a declared content-length over the limit without reading the body', async () => {
      await expectJsonError(
        await send('/admin/v1/tenants', {
          method: 'POST',
          headers: {
            authorization: `Bearer ${testAdminToken}`,
            'content-type': 'application/json',
            'content-length': '999999999',
          },
          body: '{"name":"Acme"}',
        }),
        413,
        'request_too_large',
      );
    });
  });
});

describe('request ids', () => {
  it('are different on every answer, success or failure', async () => {
    const responses = [
      await send('/admin/v1/tenants', bearerJson(testAdminToken, 'GET')),
      await send('/admin/v1/tenants', bearerJson(testAdminToken, 'GET')),
      await send('/nope', {}),
      await send('/v1/models', {}),
    ];

    const ids = new Set(responses.map((response) => response.headers.get('x-request-id')));

    expect(ids.size).toBe(responses.length);
  });
});
