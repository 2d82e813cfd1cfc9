/**
 * The abuse suite: what a hostile client, provider or outsider tries. Every route the app has
 * (read from the app itself, so a new route cannot be missed) refuses every credential but its
 * own; a revoked key is dead at once; another tenant's or provider's ids reveal and change
 * nothing; backend URLs aimed inside the operator's network are refused in every spelling, also
 * through DNS and also when the name is re-pointed after registration; replayed top-up and coupon
 * references credit once however many arrive at once; credentials are only ever compared as
 * hashes. Prints a summary of the cases tried.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { ResolveHost } from '../src/backends/upstream/backend-url-policy.ts';
import { constantTimeEqual } from '../src/platform/identifiers.ts';
import { type ErrorBody, type ListBody, readJson } from './support/api-assertions.ts';
import {
  createTenantWithKey,
  expectOk,
  type HttpCaller,
  priceModels,
  registerProvider,
  stringField,
  topUp,
} from './support/demo-pool.ts';
import { fastSimulatorForFile } from './support/fast-simulator.ts';
import {
  bearerJson,
  type InProcessGateway,
  inProcessCaller,
  startInProcessGateway,
  testAdminToken,
} from './support/in-process-gateway.ts';

const model = 'abuse-chat';
const simulator = fastSimulatorForFile({ models: [model] });
const messages = [{ role: 'user', content: 'hello' }];
const summary = { cases: 0, failures: 0 };

let gateway: InProcessGateway | undefined;

/** Names the tests point where they like; anything else is a public address. */
const dnsAnswers = new Map<string, string[]>();
const resolveHost: ResolveHost = async (hostName) => dnsAnswers.get(hostName) ?? ['93.184.216.34'];

afterEach(async () => {
  await gateway?.close();
  gateway = undefined;
  dnsAnswers.clear();
});

afterAll(async () => {
  process.stdout.write(
    `abuse suite: ${summary.cases} hostile requests, ${summary.failures} answered otherwise than refused\n`,
  );
});

/** Counts a case; a failed expectation inside counts as a failure and is rethrown. */
async function tried<Result>(check: () => Promise<Result>): Promise<Result> {
  summary.cases += 1;
  try {
    return await check();
  } catch (error) {
    summary.failures += 1;
    throw error;
  }
}

type World = {
  gateway: InProcessGateway;
  call: HttpCaller;
  tenantA: { tenantId: string; keyId: string; apiKey: string };
  tenantB: { tenantId: string; keyId: string; apiKey: string };
  revokedKey: string;
  providerA: { providerToken: string; backendIds: string[] };
  providerB: { providerToken: string; backendIds: string[] };
  couponId: string;
};

async function startWorld(allowPrivateBackends = true): Promise<World> {
  const current = await startInProcessGateway({
    config: { allowPrivateBackends },
    resolveHost,
  });
  gateway = current;
  const call = inProcessCaller(current);
  // Private URLs cannot be registered unless allowed; a public name stands in for them then.
  const url = allowPrivateBackends ? simulator().url : 'https://gpu.example.com/v1';
  const providerA = await registerProvider(call, testAdminToken, [
    { url, region: 'east', models: [model] },
  ]);
  const providerB = await registerProvider(call, testAdminToken, [
    { url, region: 'west', models: [model] },
  ]);
  await priceModels(call, testAdminToken, [model]);
  const tenantA = await createTenantWithKey(call, testAdminToken, { name: 'A' });
  const tenantB = await createTenantWithKey(call, testAdminToken, { name: 'B' });
  await topUp(call, testAdminToken, tenantA.tenantId, '10');
  await topUp(call, testAdminToken, tenantB.tenantId, '10');
  const coupon = await expectOk(
    call,
    'POST',
    `/admin/v1/tenants/${tenantA.tenantId}/coupons`,
    testAdminToken,
    { kind: 'compute', amount: '1.00', reference: 'abuse-coupon', program: 'p1' },
  );
  const revoked = await expectOk(
    call,
    'POST',
    `/admin/v1/tenants/${tenantA.tenantId}/keys`,
    testAdminToken,
    {},
  );
  // Used once, so it sits in the credential cache when it is revoked.
  expect((await call('GET', '/v1/models', stringField(revoked, 'key'))).status).toBe(200);
  await expectOk(call, 'DELETE', `/admin/v1/keys/${stringField(revoked, 'id')}`, testAdminToken);
  return {
    gateway: current,
    call,
    tenantA,
    tenantB,
    revokedKey: stringField(revoked, 'key'),
    providerA,
    providerB,
    couponId: stringField(coupon, 'id'),
  };
}

/**
 * The routes that take no credential: operations, the API's own description, and the web
 * console's shell and assets.
 */
const publicPaths = new Set([
  '/healthz',
  '/metrics',
  '/openapi.json',
  '/',
  '/console',
  '/console/assets/:name',
]);

/** Every credentialed route of the app, with its path parameters filled from the world. */
function everyRoute(world: World): { method: string; path: string; surface: string }[] {
  const fill = (path: string) =>
    path
      .replace(':model{.+}', model)
      .replace(':id{.+}', model)
      .replace(':program', 'p1')
      .replace(/:id\b/, (_match) =>
        path.startsWith('/provider/')
          ? (world.providerA.backendIds[0] ?? '')
          : path.includes('/keys/')
            ? world.tenantA.keyId
            : path.includes('/coupons/')
              ? world.couponId
              : world.tenantA.tenantId,
      );
  const seen = new Set<string>();
  const routes: { method: string; path: string; surface: string }[] = [];
  for (const route of world.gateway.app.routes) {
    if (route.method === 'ALL' || route.path.includes('*')) {
      continue;
    }
    const key = `${route.method} ${route.path}`;
    if (seen.has(key) || publicPaths.has(route.path)) {
      continue;
    }
    seen.add(key);
    const surface = route.path.startsWith('/admin/')
      ? 'admin'
      : route.path.startsWith('/provider/')
        ? 'provider'
        : 'client';
    routes.push({ method: route.method, path: fill(route.path), surface });
  }
  return routes;
}

describe('credentials', () => {
  it('every route refuses every credential but its own, and refused writes change nothing', async () => {
    const world = await startWorld();
    const credentials: Record<string, string | undefined> = {
      none: undefined,
      admin: testAdminToken,
      provider: world.providerA.providerToken,
      client: world.tenantA.apiKey,
      revoked: world.revokedKey,
      'admin in upper case': testAdminToken.toUpperCase(),
      'client key with a byte more': `${world.tenantA.apiKey}0`,
      'provider token as a client key': world.providerA.providerToken.replace('tbp-', 'tbk-'),
      'client key as a provider token': world.tenantA.apiKey.replace('tbk-', 'tbp-'),
    };
    const before = {
      audit: (
        await readJson<ListBody<unknown>>(
          await world.gateway.admin('GET', '/admin/v1/audit?limit=100'),
          200,
        )
      ).data.length,
      tenant: await expectOk(
        world.call,
        'GET',
        `/admin/v1/tenants/${world.tenantA.tenantId}`,
        testAdminToken,
      ),
    };
    const routes = everyRoute(world);
    expect(routes.length).toBeGreaterThanOrEqual(30);
    for (const route of routes) {
      for (const [name, token] of Object.entries(credentials)) {
        if (name === route.surface) {
          continue;
        }
        await tried(async () => {
          const headers: Record<string, string> = { 'content-type': 'application/json' };
          if (token !== undefined) {
            headers.authorization = `Bearer ${token}`;
          }
          const response = await world.gateway.app.request(route.path, {
            method: route.method,
            headers,
            ...(route.method === 'GET' ? {} : { body: '{}' }),
          });
          const body = await readJson<ErrorBody>(response, 401);
          expect(body.error, `${route.method} ${route.path} with ${name}`).toMatchObject({
            code: 'invalid_api_key',
            type: 'invalid_request_error',
          });
          // A secret is never echoed back, not even a wrong one.
          if (token !== undefined) {
            expect(JSON.stringify(body)).not.toContain(token);
          }
          if (name === 'revoked') {
            expect(body.error.message).toMatch(/revoked|not recognised|credential was given/);
          }
        });
      }
    }
    const audit = (
      await readJson<ListBody<unknown>>(
        await world.gateway.admin('GET', '/admin/v1/audit?limit=100'),
        200,
      )
    ).data;
    expect(audit).toHaveLength(before.audit);
    expect(
      await expectOk(
        world.call,
        'GET',
        `/admin/v1/tenants/${world.tenantA.tenantId}`,
        testAdminToken,
      ),
    ).toEqual(before.tenant);
  });

  it('a revoked key is refused at once, on every client route, though it was cached', async () => {
    const world = await startWorld();
    for (const path of ['/v1/models', '/v1/account', '/v1/account/usage', `/v1/models/${model}`]) {
      await tried(async () => {
        const response = await world.gateway.app.request(path, bearerJson(world.revokedKey, 'GET'));
        const body = await readJson<ErrorBody>(response, 401);
        expect(body.error.message).toContain('revoked');
      });
    }
    await tried(async () => {
      const response = await world.gateway.app.request(
        '/v1/chat/completions',
        bearerJson(world.revokedKey, 'POST', { model, messages }),
      );
      expect(response.status).toBe(401);
    });
  });

  it('compares credentials only as SHA-256 hashes, never as the secret itself', async () => {
    const world = await startWorld();
    const looked: string[] = [];
    const catalog = world.gateway.deps.catalog;
    const findKey = catalog.findApiKeyByHash.bind(catalog);
    const findProvider = catalog.findProviderByTokenHash.bind(catalog);
    catalog.findApiKeyByHash = async (hash) => {
      looked.push(hash);
      return findKey(hash);
    };
    catalog.findProviderByTokenHash = async (hash) => {
      looked.push(hash);
      return findProvider(hash);
    };
    const lastCharacterChanged = (secret: string) =>
      `${secret.slice(0, -1)}${secret.endsWith('0') ? '1' : '0'}`;
    const presented = [
      `tbk-${'0'.repeat(40)}`,
      lastCharacterChanged(world.tenantA.apiKey),
      `tbp-${'0'.repeat(40)}`,
      lastCharacterChanged(world.providerA.providerToken),
    ];
    for (const token of presented) {
      const path = token.startsWith('tbp-') ? '/provider/v1/backends' : '/v1/models';
      await tried(async () => {
        expect((await world.gateway.app.request(path, bearerJson(token, 'GET'))).status).toBe(401);
      });
    }
    expect(looked).toHaveLength(presented.length);
    for (const argument of looked) {
      expect(argument).toMatch(/^[0-9a-f]{64}$/);
      expect(presented).not.toContain(argument);
    }
    // The final comparison of the hash found takes the same steps wherever strings differ.
    expect(constantTimeEqual('a'.repeat(64), 'a'.repeat(64))).toBe(true);
    expect(constantTimeEqual(`b${'a'.repeat(63)}`, 'a'.repeat(64))).toBe(false);
    expect(constantTimeEqual(`${'a'.repeat(63)}b`, 'a'.repeat(64))).toBe(false);
  });
});

describe("another tenant's or provider's ids", () => {
  it("a provider can neither see nor change another provider's backend, which looks like no backend at all", async () => {
    const world = await startWorld();
    const foreign = world.providerA.backendIds[0] ?? '';
    const attempts: [string, string, unknown][] = [
      ['GET', `/provider/v1/backends/${foreign}`, undefined],
      ['PATCH', `/provider/v1/backends/${foreign}`, { state: 'draining' }],
      ['DELETE', `/provider/v1/backends/${foreign}`, undefined],
    ];
    for (const [method, path, body] of attempts) {
      await tried(async () => {
        const answer = await world.call(method, path, world.providerB.providerToken, body);
        const missing = await world.call(
          method,
          path.replace(foreign, 'bkd_doesnotexist000000'),
          world.providerB.providerToken,
          body,
        );
        expect(answer.status).toBe(404);
        expect(answer.status).toBe(missing.status);
        expect((answer.body as ErrorBody).error.code).toBe((missing.body as ErrorBody).error.code);
      });
    }
    const listed = await expectOk(
      world.call,
      'GET',
      '/provider/v1/backends',
      world.providerB.providerToken,
    );
    expect((listed.data as { id: string }[]).map((backend) => backend.id)).toEqual(
      world.providerB.backendIds,
    );
    const backends = await expectOk(world.call, 'GET', '/admin/v1/backends', testAdminToken);
    expect(
      (backends.data as { id: string; state: string }[]).find((backend) => backend.id === foreign)
        ?.state,
    ).toBe('healthy');
  });

  it("a tenant's key sees only its own tenant's money, usage and statements, whatever ids it passes", async () => {
    const world = await startWorld();
    const served = await world.gateway.app.request(
      '/v1/chat/completions',
      bearerJson(world.tenantA.apiKey, 'POST', { model, messages, max_tokens: 3 }),
    );
    expect(served.status).toBe(200);
    const asB = (path: string) =>
      expectOk(world.call, 'GET', path, world.tenantB.apiKey) as Promise<Record<string, unknown>>;
    const paths = [
      `/v1/account?tenant_id=${world.tenantA.tenantId}`,
      `/v1/account/usage?tenant_id=${world.tenantA.tenantId}`,
      `/v1/account/usage?tenant=${world.tenantA.tenantId}&format=json`,
      `/v1/account/statement?program=p1&tenant_id=${world.tenantA.tenantId}&format=json`,
    ];
    const [account, usage, usageAgain, statement] = await Promise.all(paths.map(asB));
    summary.cases += paths.length;
    expect(account).toMatchObject({ tenant_id: world.tenantB.tenantId, balance: '10.00' });
    expect(usage?.data).toEqual([]);
    expect(usageAgain?.data).toEqual([]);
    expect(statement?.data).toEqual([]);
    const own = await expectOk(world.call, 'GET', '/v1/account/usage', world.tenantA.apiKey);
    expect(own.data).toHaveLength(1);
  });
});

describe('backend URLs aimed inside the operator network (SSRF)', () => {
  const refusedUrls = [
    'http://127.0.0.1/v1',
    'http://127.1/v1',
    'http://2130706433/v1',
    'http://0x7f000001/v1',
    'http://0177.0.0.1/v1',
    'http://0.0.0.0/v1',
    'http://localhost/v1',
    'http://LOCALHOST./v1',
    'http://api.localhost/v1',
    'http://10.0.0.5/v1',
    'http://10.255.255.255:8000/v1',
    'http://172.16.0.1/v1',
    'http://172.31.255.254/v1',
    'http://192.168.1.20/v1',
    'http://169.254.169.254/v1',
    'http://169.254.169.254.nip.example/v1',
    'http://metadata.google.internal/v1',
    'http://100.64.0.1/v1',
    'http://[::1]/v1',
    'http://[::]/v1',
    'http://[0:0:0:0:0:0:0:1]/v1',
    'http://[::ffff:127.0.0.1]/v1',
    'http://[::ffff:7f00:1]/v1',
    'http://[::ffff:10.0.0.1]/v1',
    'http://[::ffff:169.254.169.254]/v1',
    'http://[0:0:0:0:0:ffff:a9fe:a9fe]/v1',
    'http://[64:ff9b::a9fe:a9fe]/v1',
    'http://[fc00::1]/v1',
    'http://[fd12:3456::1]/v1',
    'http://[fe80::1]/v1',
    'http://internal.example/v1',
    'http://mixed.example/v1',
    'http://mapped.example/v1',
    'http://user:password@gpu.example.com/v1',
    'file:///etc/passwd',
    'gopher://gpu.example.com/v1',
  ];

  it.each(refusedUrls)('refuses %s as a backend url and as a metrics_url', async (url) => {
    const world = await startWorld(false);
    dnsAnswers.set('internal.example', ['10.1.2.3']);
    dnsAnswers.set('mixed.example', ['93.184.216.34', '192.168.0.10']);
    dnsAnswers.set('mapped.example', ['::ffff:127.0.0.1']);
    dnsAnswers.set('169.254.169.254.nip.example', ['169.254.169.254']);
    dnsAnswers.set('localhost.', ['127.0.0.1']);
    for (const body of [
      { url, region: 'east', models: [model] },
      {
        url: 'https://gpu.example.com/v1',
        region: 'east',
        models: [model],
        metrics_url: url.replace(/\/v1$/, '/metrics'),
      },
    ]) {
      await tried(async () => {
        const answer = await world.call(
          'POST',
          '/provider/v1/backends',
          world.providerA.providerToken,
          body,
        );
        expect(answer.status, JSON.stringify(answer.body)).toBe(400);
        expect((answer.body as ErrorBody).error.code).toBe('invalid_request');
      });
    }
  });

  it('accepts them only when the operator allows private backends', async () => {
    const world = await startWorld(true);
    const answer = await world.call(
      'POST',
      '/provider/v1/backends',
      world.providerA.providerToken,
      {
        url: 'http://10.0.0.5/v1',
        region: 'east',
        models: [model],
      },
    );
    expect(answer.status).toBe(201);
  });

  it('refuses to connect when a name registered as public is re-pointed inside (DNS rebinding)', async () => {
    for (const allowPrivateBackends of [true, false]) {
      const world = await startWorld(allowPrivateBackends);
      const port = new URL(simulator().url).port;
      await expectOk(world.call, 'POST', '/provider/v1/backends', world.providerB.providerToken, {
        url: `http://rebind.example:${port}/v1`,
        region: 'north',
        models: [model],
      });
      // A tenant served only in that backend's region.
      const fenced = await createTenantWithKey(world.call, testAdminToken, {
        name: 'north only',
        allowed_regions: ['north'],
      });
      await topUp(world.call, testAdminToken, fenced.tenantId, '10');
      // After registration the name answers with loopback, where a simulator listens.
      dnsAnswers.set('rebind.example', ['127.0.0.1']);
      const receivedBefore = simulator().simulator.stats().requests_received;
      const response = await tried(async () =>
        world.gateway.app.request(
          '/v1/chat/completions',
          bearerJson(fenced.apiKey, 'POST', { model, messages, max_tokens: 2 }),
        ),
      );
      const reached = simulator().simulator.stats().requests_received - receivedBefore;
      if (allowPrivateBackends) {
        // The control: with private backends allowed the same answer is followed.
        expect(response.status).toBe(200);
        expect(reached).toBe(1);
      } else {
        expect(response.status).toBe(502);
        expect(reached).toBe(0);
        const usage = await expectOk(
          world.call,
          'GET',
          `/admin/v1/tenants/${fenced.tenantId}/usage`,
          testAdminToken,
        );
        expect(usage.data).toMatchObject([{ outcome: 'upstream_error', cost: '0.00' }]);
      }
      await gateway?.close();
      gateway = undefined;
      dnsAnswers.clear();
    }
  });
});

describe('replayed references', () => {
  it('credit a top-up once however many copies arrive at once, and refuse a reused reference', async () => {
    const world = await startWorld();
    const path = `/admin/v1/tenants/${world.tenantB.tenantId}/topups`;
    const answers = await Promise.all(
      Array.from({ length: 25 }, () =>
        world.call('POST', path, testAdminToken, { amount: '3.50', reference: 'bank-transfer-42' }),
      ),
    );
    summary.cases += answers.length;
    expect(answers.filter((answer) => answer.status === 201)).toHaveLength(1);
    expect(answers.filter((answer) => answer.status === 200)).toHaveLength(24);
    expect(new Set(answers.map((answer) => answer.body.id)).size).toBe(1);
    const tenant = await expectOk(
      world.call,
      'GET',
      `/admin/v1/tenants/${world.tenantB.tenantId}`,
      testAdminToken,
    );
    expect(tenant.balance).toBe('13.50');
    const reused = await tried(() =>
      world.call('POST', path, testAdminToken, { amount: '350.00', reference: 'bank-transfer-42' }),
    );
    expect(reused.status).toBe(409);
    expect((reused.body as ErrorBody).error.code).toBe('conflict');
    // Another tenant may use the same reference for its own money.
    const other = await world.call(
      'POST',
      `/admin/v1/tenants/${world.tenantA.tenantId}/topups`,
      testAdminToken,
      { amount: '1.00', reference: 'bank-transfer-42' },
    );
    expect(other.status).toBe(201);
    expect(
      await expectOk(world.call, 'GET', '/admin/v1/ledger/check', testAdminToken),
    ).toMatchObject({ ok: true });
  });

  it('grant a coupon once however many copies arrive at once', async () => {
    const world = await startWorld();
    const path = `/admin/v1/tenants/${world.tenantB.tenantId}/coupons`;
    const grant = { kind: 'compute', amount: '2.00', reference: 'voucher-7', program: 'city' };
    const answers = await Promise.all(
      Array.from({ length: 25 }, () => world.call('POST', path, testAdminToken, grant)),
    );
    summary.cases += answers.length;
    expect(answers.map((answer) => answer.status).sort((left, right) => left - right)).toEqual([
      ...new Array<number>(24).fill(200),
      201,
    ]);
    expect(new Set(answers.map((answer) => answer.body.id)).size).toBe(1);
    const tenant = await expectOk(
      world.call,
      'GET',
      `/admin/v1/tenants/${world.tenantB.tenantId}`,
      testAdminToken,
    );
    expect(tenant.coupons).toHaveLength(1);
    expect((tenant.coupons as { remaining: string }[])[0]?.remaining).toBe('2.00');
    const reused = await tried(() =>
      world.call('POST', path, testAdminToken, { ...grant, amount: '20.00' }),
    );
    expect(reused.status).toBe(409);
    expect(
      await expectOk(world.call, 'GET', '/admin/v1/ledger/check', testAdminToken),
    ).toMatchObject({ ok: true });
  });
});
