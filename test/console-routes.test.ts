/**
 * The web console's server side without a browser: GET /console (the shell, its security headers,
 * and what a gateway without a built console says), GET /console/assets/{name} (only asset names,
 * never a path), GET / (to the console), and the two account reads the tenant page added: the
 * tenant's own keys (never a secret, never another tenant's) and what each coupon has paid.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConsoleAssets, noConsoleAssets } from '../src/gateway/console/console-assets.ts';
import {
  createTenantWithKey,
  expectOk,
  type HttpCaller,
  priceModels,
  registerProvider,
  topUp,
} from './support/demo-pool.ts';
import { fastSimulatorForFile } from './support/fast-simulator.ts';
import {
  type InProcessGateway,
  inProcessCaller,
  inProcessOpenAI,
  startInProcessGateway,
  testAdminToken,
} from './support/in-process-gateway.ts';
import { micro } from './support/money-reading.ts';

const model = 'console-routes-chat';
const simulator = fastSimulatorForFile({ models: [model] });
const script = new TextEncoder().encode('console.log("built");');

/** A built console of one script: what a runtime's assets binding would hand over. */
const builtAssets: ConsoleAssets = {
  read: async (name) =>
    name === 'console.js'
      ? { body: script, contentType: 'text/javascript; charset=utf-8' }
      : undefined,
};

let gateway: InProcessGateway;
let bare: InProcessGateway;
let call: HttpCaller;

beforeAll(async () => {
  gateway = await startInProcessGateway({
    config: { allowPrivateBackends: true },
    consoleAssets: builtAssets,
    resolveHost: async () => ['127.0.0.1'],
  });
  bare = await startInProcessGateway({ consoleAssets: noConsoleAssets });
  call = inProcessCaller(gateway);
});

afterAll(async () => {
  await gateway?.close();
  await bare?.close();
});

describe('GET /console', () => {
  it('serves the shell that loads the built client, under a strict content security policy', async () => {
    const response = await gateway.app.request('/console');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/html');
    expect(response.headers.get('cache-control')).toBe('no-store');
    const policy = response.headers.get('content-security-policy') ?? '';
    expect(policy).toContain("script-src 'self'");
    expect(policy).toContain("connect-src 'self'");
    expect(policy).toContain("frame-ancestors 'none'");
    const html = await response.text();
    expect(html).toContain('src="/console/assets/console.js"');
    expect(html).not.toContain('http://');
    expect(html).not.toContain('https://');
  });

  it('says how to build the console when the package has none', async () => {
    const response = await bare.app.request('/console');
    expect(response.status).toBe(503);
    expect(await response.text()).toContain('npm run build:console');
  });

  it('sends / to the console', async () => {
    const response = await gateway.app.request('/');
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe('/console');
  });
});

describe('GET /console/assets/{name}', () => {
  it('serves a built asset with its type', async () => {
    const response = await gateway.app.request('/console/assets/console.js');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await response.text()).toBe('console.log("built");');
  });

  it.each([
    '/console/assets/missing.js',
    '/console/assets/console.exe',
    '/console/assets/..%2Fpackage.json',
    '/console/assets/.env',
    '/console/assets/%2E%2E%2Fsrc%2Fapp.ts',
  ])('%s is a 404 in the error envelope', async (path) => {
    const response = await gateway.app.request(path);
    expect(response.status).toBe(404);
    const body = (await response.json()) as { error: { code: string } };
    expect(body.error.code).toBe('not_found');
  });
});

describe('the account reads of the tenant page', () => {
  let tenant: { tenantId: string; keyId: string; apiKey: string };
  let other: { tenantId: string; keyId: string; apiKey: string };

  beforeAll(async () => {
    await registerProvider(call, testAdminToken, [
      { url: simulator().url, region: 'local', models: [model] },
    ]);
    await priceModels(call, testAdminToken, [model], { input: '100.00', output: '200.00' });
    tenant = await createTenantWithKey(call, testAdminToken, { name: 'keys' }, { name: 'app' });
    other = await createTenantWithKey(call, testAdminToken, { name: 'other' });
    await topUp(call, testAdminToken, tenant.tenantId, '10.00');
    await expectOk(call, 'POST', `/admin/v1/tenants/${tenant.tenantId}/coupons`, testAdminToken, {
      kind: 'compute',
      amount: '2.00',
      reference: 'console-routes-coupon',
    });
  });

  it('lists the key tenant own keys, never a secret and never another tenant key', async () => {
    await expectOk(call, 'POST', `/admin/v1/tenants/${tenant.tenantId}/keys`, testAdminToken, {
      name: 'second',
    });
    const list = await expectOk(call, 'GET', '/v1/account/keys', tenant.apiKey);
    const keys = list.data as { id: string; tenant_id: string; name: string; key?: string }[];
    expect(keys.map((key) => key.name).sort()).toEqual(['app', 'second']);
    expect(keys.every((key) => key.tenant_id === tenant.tenantId && key.key === undefined)).toBe(
      true,
    );
    expect(JSON.stringify(list)).not.toContain(tenant.apiKey);
    expect(keys.map((key) => key.id)).not.toContain(other.keyId);
    const refused = await call('GET', '/v1/account/keys', testAdminToken);
    expect(refused.status).toBe(401);
  });

  it('shows each coupon granted amount and what it has paid, which a request moves', async () => {
    type Coupon = {
      amount: string;
      remaining: string;
      held: string;
      paid: string;
      starts_at: string;
    };
    const couponOf = async () =>
      ((await expectOk(call, 'GET', '/v1/account', tenant.apiKey)).coupons as Coupon[])[0];
    const before = await couponOf();
    expect(before).toMatchObject({ amount: '2.00', remaining: '2.00', held: '0.00', paid: '0.00' });
    await inProcessOpenAI(gateway, tenant.apiKey).chat.completions.create({
      model,
      max_tokens: 32,
      messages: [{ role: 'user', content: 'Hello there' }],
    });
    await gateway.deps.background.drain();
    const after = await couponOf();
    expect(after?.amount).toBe('2.00');
    expect(after?.held).toBe('0.00');
    expect(after?.paid).not.toBe('0.00');
    // Granted = paid + remaining + held, to the micro-unit.
    const { amount = '', paid = '', remaining = '', held = '' } = after ?? {};
    expect(micro(paid) + micro(remaining) + micro(held)).toBe(micro(amount));
  });
});
