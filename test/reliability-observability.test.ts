/**
 * What an operator sees: the audit log of every admin and provider write (actor, time, action,
 * entity, before and after, never a secret; append-only down to the table), GET /metrics in
 * Prometheus text with the counters and gauges API.md lists (and no label a client can make up),
 * and JSON log lines that name the request, tenant, model, backend, outcome and cost without ever
 * carrying a credential. In-process gateway, simulator served in-process.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { limitsSchema } from '../src/config.ts';
import { createSqliteAuditLog } from '../src/db/sqlite-audit-log.ts';
import type { LogFields, Logger, LogLevel } from '../src/platform/logger.ts';
import { sha256Hex } from '../src/runtime/node/node-ports.ts';
import { migrateSqlite, openSqlite } from '../src/runtime/node/sqlite/sqlite-database.ts';
import { type ErrorBody, type ListBody, readJson } from './support/api-assertions.ts';
import {
  createTenantWithKey,
  expectOk,
  type HttpCaller,
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
import { serveLyingBackend } from './support/lying-backend.ts';
import { micro, sum } from './support/money-reading.ts';
import { firstTenant, seedPool } from './support/seeded-pool.ts';

type AuditEventBody = {
  id: number;
  object: 'audit_event';
  created_at: string;
  actor: string;
  action: string;
  entity_type: string;
  entity_id: string | null;
  tenant_id: string | null;
  request_id: string;
  before: unknown;
  after: unknown;
};

type LogLine = { level: LogLevel; event: string; fields: LogFields };

const model = 'obs-chat';
const simulator = fastSimulatorForFile({ models: [model] });
const heavyModel = 'obs-heavy';
const messages = [{ role: 'user', content: 'hello from the observability suite' }];

let gateway: InProcessGateway | undefined;
let logLines: LogLine[] = [];

const capturingLogger: Logger = {
  log(level, event, fields = {}) {
    logLines.push({ level, event, fields });
  },
};

afterEach(async () => {
  await gateway?.close();
  gateway = undefined;
  logLines = [];
});

async function start(limits: Record<string, unknown> = {}): Promise<InProcessGateway> {
  gateway = await startInProcessGateway({
    environment: { TOKENBANK_ALLOW_PRIVATE_BACKENDS: '1' },
    config: { limits: limitsSchema.parse(limits) },
    logger: capturingLogger,
  });
  return gateway;
}

async function auditEvents(
  current: InProcessGateway,
  query = 'limit=100',
): Promise<ListBody<AuditEventBody>> {
  return readJson<ListBody<AuditEventBody>>(
    await current.admin('GET', `/admin/v1/audit?${query}`),
    200,
  );
}

describe('the audit log', () => {
  it('records every admin and provider write with actor, action, entity, before and after, and no secret', async () => {
    const current = await start();
    const call: HttpCaller = inProcessCaller(current);
    const requestIds: string[] = [];
    const write = async (token: string, method: string, path: string, body?: unknown) => {
      const response = await current.app.request(path, bearerJson(token, method, body));
      expect(response.status, await response.clone().text()).toBeLessThan(300);
      requestIds.push(response.headers.get('x-request-id') ?? '');
      return (await response.json()) as Record<string, unknown>;
    };
    const tenant = await write(testAdminToken, 'POST', '/admin/v1/tenants', { name: 'Acme' });
    const tenantId = stringField(tenant, 'id');
    const key = await write(testAdminToken, 'POST', `/admin/v1/tenants/${tenantId}/keys`, {
      rpm: 60,
    });
    const topUpBody = { amount: '10.00', reference: 'audit-topup' };
    await write(testAdminToken, 'POST', `/admin/v1/tenants/${tenantId}/topups`, topUpBody);
    await write(testAdminToken, 'POST', `/admin/v1/tenants/${tenantId}/topups`, topUpBody);
    const coupon = await write(testAdminToken, 'POST', `/admin/v1/tenants/${tenantId}/coupons`, {
      kind: 'compute',
      amount: '5.00',
      reference: 'audit-coupon',
    });
    await write(testAdminToken, 'DELETE', `/admin/v1/coupons/${stringField(coupon, 'id')}`);
    await write(testAdminToken, 'PUT', `/admin/v1/prices/${model}`, {
      input: '1.00',
      output: '2.00',
    });
    const provider = await write(testAdminToken, 'POST', '/admin/v1/providers', {
      name: 'GPU Farm',
      payout_bps: 8000,
    });
    const providerToken = stringField(provider, 'token');
    const upstreamApiKey = 'sk-upstream-secret-0123456789';
    const backend = await write(providerToken, 'POST', '/provider/v1/backends', {
      url: simulator().url,
      region: 'east',
      models: [model],
      api_key: upstreamApiKey,
    });
    const backendId = stringField(backend, 'id');
    await write(providerToken, 'PATCH', `/provider/v1/backends/${backendId}`, {
      state: 'draining',
    });
    await write(providerToken, 'DELETE', `/provider/v1/backends/${backendId}`);
    await write(testAdminToken, 'DELETE', `/admin/v1/keys/${stringField(key, 'id')}`);
    // Refused writes leave no trace.
    expect((await call('POST', '/admin/v1/tenants', testAdminToken, { nope: 1 })).status).toBe(400);
    expect((await call('DELETE', '/admin/v1/keys/key_none', testAdminToken)).status).toBe(404);
    expect(
      (await call('POST', '/admin/v1/tenants', 'tba-wrong-token-000000000000', {})).status,
    ).toBe(401);

    const events = (await auditEvents(current)).data;
    expect(events.map((event) => event.action).reverse()).toEqual([
      'tenant.create',
      'key.create',
      'topup.create',
      'topup.create',
      'coupon.grant',
      'coupon.void',
      'price.publish',
      'provider.create',
      'backend.register',
      'backend.update',
      'backend.remove',
      'key.revoke',
    ]);
    expect(events.map((event) => event.request_id).reverse()).toEqual(requestIds);
    const adminActor = `admin:${(await sha256Hex(testAdminToken)).slice(0, 12)}`;
    const providerActor = `provider:${stringField(provider, 'id')}`;
    for (const event of events) {
      expect(event.actor).toBe(event.entity_type === 'backend' ? providerActor : adminActor);
      expect(event.created_at).toBe(new Date(current.clock.nowMs()).toISOString());
    }
    const byAction = (action: string) => events.filter((event) => event.action === action);
    expect(byAction('key.revoke')[0]).toMatchObject({
      entity_id: key.id,
      tenant_id: tenantId,
      before: { status: 'active' },
      after: { status: 'revoked' },
    });
    // The replayed top-up is recorded as what it was: a duplicate that moved nothing.
    expect(byAction('topup.create').reverse()).toMatchObject([
      {
        tenant_id: tenantId,
        before: { balance: '0.00' },
        after: { balance: '10.00', duplicate: false },
      },
      {
        tenant_id: tenantId,
        before: { balance: '10.00' },
        after: { balance: '10.00', duplicate: true },
      },
    ]);
    expect(byAction('coupon.void')[0]).toMatchObject({
      before: { status: 'active', remaining: '5.00' },
      after: { status: 'voided' },
    });
    expect(byAction('price.publish')[0]).toMatchObject({
      entity_id: model,
      before: [],
      after: { version: 1, input: '1.00' },
    });
    expect(byAction('backend.update')[0]).toMatchObject({
      entity_id: backendId,
      before: { state: 'healthy', has_api_key: true },
      after: { state: 'draining' },
    });
    expect(byAction('backend.remove')[0]).toMatchObject({ before: { id: backendId } });

    const everything = JSON.stringify(events);
    for (const secret of [
      stringField(key, 'key'),
      providerToken,
      upstreamApiKey,
      testAdminToken,
      await sha256Hex(testAdminToken),
    ]) {
      expect(everything).not.toContain(secret);
    }
    expect(everything).not.toMatch(/"(key|token|api_key)":/);
  });

  it('pages newest first and filters by entity, tenant and action', async () => {
    const current = await start();
    const call = inProcessCaller(current);
    const first = await createTenantWithKey(call, testAdminToken, { name: 'one' });
    const second = await createTenantWithKey(call, testAdminToken, { name: 'two' });
    await topUp(call, testAdminToken, first.tenantId, '1');

    const page = await auditEvents(current, 'limit=2');
    expect(page.data.map((event) => event.action)).toEqual(['topup.create', 'key.create']);
    expect(page.has_more).toBe(true);
    const rest = await auditEvents(current, `limit=10&before=${page.next_cursor}`);
    expect(rest.data.map((event) => event.action)).toEqual([
      'tenant.create',
      'key.create',
      'tenant.create',
    ]);
    expect(rest.has_more).toBe(false);
    expect(rest.next_cursor).toBeNull();

    const ofFirst = await auditEvents(current, `tenant_id=${first.tenantId}`);
    expect(ofFirst.data.map((event) => event.action)).toEqual([
      'topup.create',
      'key.create',
      'tenant.create',
    ]);
    const keys = await auditEvents(current, 'action=key.create');
    expect(keys.data.map((event) => event.entity_id)).toEqual([second.keyId, first.keyId]);
    const one = await auditEvents(current, `entity_id=${second.keyId}`);
    expect(one.data).toHaveLength(1);

    for (const query of ['before=abc', 'before=0', 'limit=0', `entity_id=${'x'.repeat(300)}`]) {
      const response = await current.admin('GET', `/admin/v1/audit?${query}`);
      const body = await readJson<ErrorBody>(response, 400);
      expect(body.error.code).toBe('invalid_request');
    }
  });

  it('is append-only in the store itself: UPDATE and DELETE are refused', async () => {
    const opened = openSqlite(':memory:');
    try {
      migrateSqlite(opened);
      const audit = createSqliteAuditLog(opened.database);
      const stored = await audit.append({
        atMs: 1,
        actor: 'admin:test',
        action: 'tenant.create',
        entityType: 'tenant',
        entityId: 'ten_x',
        tenantId: 'ten_x',
        requestId: 'req_x',
        before: null,
        after: { name: 'Acme' },
      });
      expect(stored).toMatchObject({ id: 1, after: { name: 'Acme' }, before: null });
      expect(() => opened.connection.prepare(`UPDATE audit_events SET actor = 'x'`).run()).toThrow(
        /append-only/,
      );
      expect(() => opened.connection.prepare('DELETE FROM audit_events').run()).toThrow(
        /append-only/,
      );
      expect(
        await audit.list({
          beforeId: undefined,
          limit: 10,
          entityId: undefined,
          tenantId: undefined,
          action: undefined,
        }),
      ).toHaveLength(1);
    } finally {
      opened.close();
    }
  });
});

/** The value of one sample line of the exposition, or undefined when it is absent. */
function sample(
  body: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const labelText = Object.entries(labels)
    .map(([label, value]) => `${label}="${value}"`)
    .join(',');
  const prefix = labelText === '' ? `${name} ` : `${name}{${labelText}} `;
  const line = body.split('\n').find((candidate) => candidate.startsWith(prefix));
  return line === undefined ? undefined : Number(line.slice(prefix.length));
}

describe('GET /metrics', () => {
  it('counts requests, tokens, money, latency and write-offs, and shows the pool and the holds', async () => {
    const current = await start({ verificationSampleBps: 10_000, outputTokensDefault: 10 });
    const call = inProcessCaller(current);
    const heavy = await serveLyingBackend();
    const seeded = await seedPool(call, testAdminToken, {
      backends: [
        { url: simulator().url, region: 'east', models: [model] },
        { url: heavy.url, region: 'east', models: [heavyModel] },
      ],
      tenants: [
        { tenant: { name: 'rich' }, topUp: '100' },
        // Enough for the reservation of a long prompt, not for the token per byte it is billed.
        { tenant: { name: 'poor' }, topUp: '0.015' },
      ],
    });
    const backendId = seeded.backendIds[0] ?? '';
    const [rich, poor] = seeded.tenants;
    if (rich === undefined || poor === undefined) {
      throw new Error('the pool was seeded without its two tenants');
    }

    const chat = (apiKey: string, body: Record<string, unknown>) =>
      current.app.request(
        '/v1/chat/completions',
        bearerJson(apiKey, 'POST', { model, messages, ...body }),
      );
    let outputTokens = 0;
    for (const maxTokens of [5, 7]) {
      const response = await chat(rich.apiKey, { max_tokens: maxTokens });
      expect(response.status).toBe(200);
      outputTokens += maxTokens;
    }
    const stream = await chat(rich.apiKey, {
      max_tokens: 9,
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(stream.status).toBe(200);
    await stream.text();
    outputTokens += 9;
    const hostile = await chat(rich.apiKey, { model: 'hostile"} 1\nfake_metric{a="' });
    expect(hostile.status).toBe(404);
    const writtenOff = await chat(poor.apiKey, {
      model: heavyModel,
      messages: [{ role: 'user', content: `lie:heavy-input ${'x'.repeat(30_000)}` }],
    });
    expect(writtenOff.status).toBe(200);
    await current.deps.background.drain();
    await heavy.close();

    const response = await current.app.request('/metrics');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const body = await response.text();
    expect(body).not.toContain('hostile');
    expect(body).not.toContain('fake_metric');
    expect(sample(body, 'tokenbank_requests_total', { model, status: '200' })).toBe(3);
    expect(sample(body, 'tokenbank_requests_total', { model: heavyModel, status: '200' })).toBe(1);
    expect(sample(body, 'tokenbank_requests_total', { model: 'none', status: '404' })).toBe(1);
    expect(sample(body, 'tokenbank_tokens_total', { model, kind: 'output' })).toBe(outputTokens);
    expect(sample(body, 'tokenbank_time_to_first_token_seconds_count', { model })).toBe(1);
    expect(
      sample(body, 'tokenbank_request_duration_seconds_count', { model, outcome: 'complete' }),
    ).toBe(3);

    const usage = async (tenantId: string) =>
      (
        (await expectOk(call, 'GET', `/admin/v1/tenants/${tenantId}/usage`, testAdminToken))
          .data as { paid_by: { source: string; amount: string }[] }[]
      ).flatMap((record) => record.paid_by);
    const paid = [...(await usage(rich.tenantId)), ...(await usage(poor.tenantId))];
    const paidBy = (source: string) =>
      Number(
        sum(paid.filter((entry) => entry.source === source).map((entry) => micro(entry.amount))),
      );
    expect(paidBy('write_off')).toBeGreaterThan(0);
    for (const source of ['wallet', 'write_off']) {
      expect(sample(body, 'tokenbank_money_debited_micro_total', { source, currency: 'CNY' })).toBe(
        paidBy(source),
      );
    }
    expect(sample(body, 'tokenbank_write_offs_micro_total', { currency: 'CNY' })).toBe(
      paidBy('write_off'),
    );

    expect(sample(body, 'tokenbank_backend_state', { backend: backendId, state: 'healthy' })).toBe(
      1,
    );
    expect(sample(body, 'tokenbank_backend_state', { backend: backendId, state: 'open' })).toBe(0);
    expect(body).toMatch(
      new RegExp(
        `tokenbank_backend_in_flight\\{backend="${backendId}",provider="prv_\\w+",region="east"\\} 0`,
      ),
    );
    expect(
      sample(body, 'tokenbank_backend_verification_sampled_requests', { backend: backendId }),
    ).toBe(3);
    expect(sample(body, 'tokenbank_backend_verification_flagged', { backend: backendId })).toBe(0);
    expect(sample(body, 'tokenbank_holds_pending')).toBe(0);
    expect(sample(body, 'tokenbank_holds_pending_micro', { currency: 'CNY' })).toBe(0);
    expect(sample(body, 'tokenbank_requests_in_flight')).toBe(0);
  });
});

describe('JSON logs', () => {
  it('name the request, tenant, model, backend, outcome and cost, and never a credential', async () => {
    const current = await start();
    const call = inProcessCaller(current);
    const seeded = await seedPool(call, testAdminToken, {
      backends: [{ url: simulator().url, region: 'east', models: [model] }],
      tenants: [{ tenant: { name: 'logged' }, topUp: '10' }],
    });
    const { backendIds, providerToken } = seeded;
    const tenant = firstTenant(seeded);
    const response = await current.app.request(
      '/v1/chat/completions',
      bearerJson(tenant.apiKey, 'POST', { model, messages, max_tokens: 3 }),
    );
    expect(response.status).toBe(200);
    const requestId = response.headers.get('x-request-id');
    await current.app.request('/v1/models', bearerJson(`${tenant.apiKey}x`, 'GET'));

    const settled = logLines.find(
      (line) => line.event === 'request_settled' && line.fields.request_id === requestId,
    );
    expect(settled?.fields).toMatchObject({
      tenant_id: tenant.tenantId,
      key_id: tenant.keyId,
      model,
      backend_id: backendIds[0],
      outcome: 'complete',
      cost: response.headers.get('x-tokenbank-cost'),
      output_tokens: 3,
    });
    const access = logLines.find(
      (line) => line.event === 'http_request' && line.fields.request_id === requestId,
    );
    expect(access?.fields).toMatchObject({
      method: 'POST',
      path: '/v1/chat/completions',
      status: 200,
      actor: `key:${tenant.keyId}`,
      tenant_id: tenant.tenantId,
      model,
      backend_id: backendIds[0],
    });
    const everything = JSON.stringify(logLines);
    for (const secret of [tenant.apiKey, providerToken, testAdminToken]) {
      expect(everything).not.toContain(secret);
    }
  });
});
