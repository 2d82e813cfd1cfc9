/**
 * Usage reads are bounded: pages with `has_more` and a cursor (JSON) or `x-next-cursor` and `Link`
 * (CSV), a default and a longest time range, and /v1/account's `usage_today` read from the
 * per-day totals a trigger keeps, including the totals the migration sums from older records.
 */

import { migrate as migrateSqliteFrom } from 'drizzle-orm/better-sqlite3/migrator';
import { drizzle as drizzlePostgres } from 'drizzle-orm/node-postgres';
import { migrate as migratePostgresFrom } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { parseConfig } from '../src/config.ts';
import { silentLogger } from '../src/platform/logger.ts';
import { openGatewayStore } from '../src/runtime/node/gateway-store.ts';
import {
  migratePostgres,
  postgresMigrationsFolder,
} from '../src/runtime/node/postgres/postgres-database.ts';
import {
  migrateSqlite,
  migrationsFolder,
  openSqlite,
} from '../src/runtime/node/sqlite/sqlite-database.ts';
import type { ErrorBody } from './support/api-assertions.ts';
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
  bearerJson,
  type InProcessGateway,
  inProcessCaller,
  startInProcessGateway,
  testAdminToken,
} from './support/in-process-gateway.ts';
import { micro, sum } from './support/money-reading.ts';
import { migrationsBefore } from './support/partial-migrations.ts';
import { createTestDatabase } from './support/postgres-service.ts';

const model = 'bounds-chat';
const simulator = fastSimulatorForFile({ models: [model] });
const dayMs = 86_400_000;
let gateway: InProcessGateway | undefined;

type UsagePage = {
  data: { request_id: string; cost: string; output_tokens: number }[];
  has_more: boolean;
  next_cursor: string | null;
};

afterEach(async () => {
  await gateway?.close();
  gateway = undefined;
});

/** A tenant that made `count` requests, one second apart, after `setUp` ran for it. */
async function tenantWithUsage(
  count: number,
  limits: Record<string, number> = {},
  setUp: (call: HttpCaller, tenantId: string) => Promise<void> = async () => {},
) {
  gateway = await startInProcessGateway({
    config: { allowPrivateBackends: true },
    environment: { TOKENBANK_LIMITS: JSON.stringify(limits) },
  });
  const current = gateway;
  const call = inProcessCaller(current);
  await registerProvider(call, testAdminToken, [
    { url: simulator().url, region: 'east', models: [model] },
  ]);
  await priceModels(call, testAdminToken, [model]);
  const tenant = await createTenantWithKey(call, testAdminToken, { name: 'T' });
  await topUp(call, testAdminToken, tenant.tenantId, '10');
  await setUp(call, tenant.tenantId);
  for (let index = 0; index < count; index += 1) {
    current.clock.advanceMs(1_000);
    const answer = await current.app.request(
      '/v1/chat/completions',
      bearerJson(tenant.apiKey, 'POST', {
        model,
        messages: [{ role: 'user', content: `request ${index}` }],
        max_tokens: 3,
      }),
    );
    expect(answer.status).toBe(200);
  }
  await current.deps.background.drain();
  return { current, call, tenant };
}

async function page(call: HttpCaller, path: string, token: string): Promise<UsagePage> {
  return (await expectOk(call, 'GET', path, token)) as unknown as UsagePage;
}

async function walk(call: HttpCaller, path: string, token: string): Promise<UsagePage[]> {
  const pages = [await page(call, path, token)];
  for (let last = pages[0]; last?.has_more; last = pages.at(-1)) {
    pages.push(
      await page(call, `${path}&after=${encodeURIComponent(last.next_cursor ?? '')}`, token),
    );
  }
  return pages;
}

describe('paged usage reads', () => {
  it('pages the tenant and admin usage with has_more and next_cursor, each record once', async () => {
    const { call, tenant } = await tenantWithUsage(5);
    const everything = await page(call, '/v1/account/usage', tenant.apiKey);
    expect(everything.data).toHaveLength(5);
    expect(everything.has_more).toBe(false);
    expect(everything.next_cursor).toBeNull();

    for (const [path, token] of [
      ['/v1/account/usage?limit=2', tenant.apiKey],
      [`/admin/v1/tenants/${tenant.tenantId}/usage?limit=2`, testAdminToken],
    ] as const) {
      const pages = await walk(call, path, token);
      expect(pages.map((one) => one.data.length)).toEqual([2, 2, 1]);
      expect(pages.map((one) => one.has_more)).toEqual([true, true, false]);
      expect(pages.flatMap((one) => one.data.map((record) => record.request_id))).toEqual(
        everything.data.map((record) => record.request_id),
      );
    }
  });

  it('gives a CSV page its next cursor in x-next-cursor and Link', async () => {
    const { current, tenant } = await tenantWithUsage(3);
    const answer = await current.app.request(
      '/v1/account/usage?format=csv&limit=2',
      bearerJson(tenant.apiKey, 'GET'),
    );
    expect(answer.status).toBe(200);
    const cursor = answer.headers.get('x-next-cursor');
    expect(cursor).toMatch(/^\d+\..+/);
    expect(answer.headers.get('link')).toContain('rel="next"');
    expect((await answer.text()).trim().split('\n')).toHaveLength(3);
    const last = await current.app.request(
      `/v1/account/usage?format=csv&limit=2&after=${encodeURIComponent(cursor ?? '')}`,
      bearerJson(tenant.apiKey, 'GET'),
    );
    expect(last.headers.get('x-next-cursor')).toBeNull();
    expect((await last.text()).trim().split('\n')).toHaveLength(2);
  });

  it.each([
    ['limit=0', 'limit'],
    ['limit=1001', 'limit'],
    ['limit=two', 'limit'],
    ['after=not-a-cursor', 'after'],
    ['from=2020-01-01T00:00:00Z', 'from'],
  ])('refuses %s with a 400 naming %s', async (query, param) => {
    const { call, tenant } = await tenantWithUsage(0, { usagePageSizeMax: 1000 });
    const answer = await call('GET', `/v1/account/usage?${query}`, tenant.apiKey);
    expect(answer.status).toBe(400);
    expect((answer.body as unknown as ErrorBody).error.param).toBe(param);
  });

  it('reads the last usageRangeDaysDefault days unless from says otherwise', async () => {
    const { current, call, tenant } = await tenantWithUsage(2, { usageRangeDaysDefault: 7 });
    current.clock.advanceMs(10 * dayMs);
    expect((await page(call, '/v1/account/usage', tenant.apiKey)).data).toEqual([]);
    const from = new Date(current.clock.nowMs() - 11 * dayMs).toISOString();
    expect((await page(call, `/v1/account/usage?from=${from}`, tenant.apiKey)).data).toHaveLength(
      2,
    );
  });
});

describe('paged statements', () => {
  it('pages a program statement whose requests each have two coupon rows, each row once', async () => {
    const grantTwoHalfCoupons = async (call: HttpCaller, tenantId: string) => {
      for (const reference of ['half-1', 'half-2']) {
        await expectOk(call, 'POST', `/admin/v1/tenants/${tenantId}/coupons`, testAdminToken, {
          kind: 'compute',
          amount: '1.00',
          coverage_bps: 5000,
          program: 'p1',
          reference,
        });
      }
    };
    const { call, tenant } = await tenantWithUsage(3, {}, grantTwoHalfCoupons);
    type StatementPage = {
      data: { request_id: string; coupon_id: string }[];
      has_more: boolean;
      next_cursor: string | null;
    };
    const rowsOf = (pages: StatementPage[]) =>
      pages.flatMap((one) => one.data.map((row) => `${row.request_id}/${row.coupon_id}`));
    for (const [path, token] of [
      ['/v1/account/statement?program=p1&format=json', tenant.apiKey],
      [
        `/admin/v1/programs/p1/statement?detail=lines&tenant_id=${tenant.tenantId}&format=json`,
        testAdminToken,
      ],
    ] as const) {
      const everything = (await expectOk(call, 'GET', path, token)) as unknown as StatementPage;
      expect(everything.data).toHaveLength(6);
      expect(everything.has_more).toBe(false);
      const pages = (await walk(call, `${path}&limit=1`, token)) as unknown as StatementPage[];
      expect(pages).toHaveLength(6);
      expect(rowsOf(pages)).toEqual(rowsOf([everything]));
      expect(new Set(rowsOf(pages)).size).toBe(6);
    }
  });
});

describe('usage_today', () => {
  it('is the sum of today’s records, from the per-day totals, and starts over each UTC day', async () => {
    const { current, call, tenant } = await tenantWithUsage(4);
    const records = (await page(call, '/v1/account/usage', tenant.apiKey)).data;
    const account = await expectOk(call, 'GET', '/v1/account', tenant.apiKey);
    expect(account.usage_today).toMatchObject({
      requests: 4,
      output_tokens: records.reduce((sum, record) => sum + record.output_tokens, 0),
    });
    const todayCost = micro(String((account.usage_today as { cost: string }).cost));
    expect(todayCost).toBe(sum(records.map((record) => micro(record.cost))));
    expect(todayCost).toBeGreaterThan(0n);

    // Read as one row of the aggregate, never the usage records.
    const usageReads: string[] = [];
    const ledger = current.deps.ledger;
    current.deps.ledger = new Proxy(ledger, {
      get(target, name: keyof typeof ledger) {
        if (name === 'usage') {
          usageReads.push(name);
        }
        return target[name];
      },
    });
    await expectOk(call, 'GET', '/v1/account', tenant.apiKey);
    expect(usageReads).toEqual([]);
    current.deps.ledger = ledger;

    current.clock.advanceMs(dayMs);
    const tomorrow = await expectOk(call, 'GET', '/v1/account', tenant.apiKey);
    expect(tomorrow.usage_today).toMatchObject({ requests: 0, cost: '0.00' });
  });
});

describe('the usage_daily migration', () => {
  it('sums the usage records written before it', () => {
    const opened = openSqlite(':memory:');
    // As if written before the migration: no trigger yet, no totals yet.
    const before = migrationsBefore(migrationsFolder, '0005_usage_daily');
    try {
      migrateSqliteFrom(opened.database, { migrationsFolder: before.folder });
      const insert = opened.connection.prepare(
        `INSERT INTO usage_records (request_id, tenant_id, key_id, model, input_tokens,
           cached_input_tokens, output_tokens, outcome, cost, provider_share, paid_by,
           created_at_ms, settled_at_ms)
         VALUES (?, ?, 'key', 'm', ?, 0, ?, ?, ?, 0, '[]', ?, ?)`,
      );
      const rows: [string, string, number, number, string, number, number][] = [
        ['r1', 'ten_a', 10, 5, 'complete', 1_000, 1 * dayMs + 5],
        ['r2', 'ten_a', 20, 7, 'complete', 2_500, 1 * dayMs + 9],
        ['r3', 'ten_a', 30, 0, 'rejected', 0, 1 * dayMs + 11],
        ['r4', 'ten_a', 40, 9, 'client_disconnect', 700, 2 * dayMs],
        ['r5', 'ten_b', 50, 1, 'complete', 300, 1 * dayMs + 1],
      ];
      for (const [id, tenant, input, output, outcome, cost, atMs] of rows) {
        insert.run(id, tenant, input, output, outcome, cost, atMs, atMs);
      }
      // The migration (and every one after it) runs over those records.
      migrateSqlite(opened);
      const totals = () =>
        opened.connection
          .prepare(
            'SELECT tenant_id, day, requests, input_tokens, output_tokens, cost FROM usage_daily ORDER BY 1, 2',
          )
          .all();
      expect(totals()).toEqual([
        {
          tenant_id: 'ten_a',
          day: 1,
          requests: 2,
          input_tokens: 30,
          output_tokens: 12,
          cost: 3_500,
        },
        { tenant_id: 'ten_a', day: 2, requests: 1, input_tokens: 40, output_tokens: 9, cost: 700 },
        { tenant_id: 'ten_b', day: 1, requests: 1, input_tokens: 50, output_tokens: 1, cost: 300 },
      ]);
      // And the trigger keeps them from then on.
      insert.run('r6', 'ten_b', 5, 5, 'complete', 100, 1 * dayMs + 2, 1 * dayMs + 2);
      expect(totals()[2]).toEqual({
        tenant_id: 'ten_b',
        day: 1,
        requests: 2,
        input_tokens: 55,
        output_tokens: 6,
        cost: 400,
      });
    } finally {
      opened.close();
      before.remove();
    }
  });
});

describe('the usage_daily migration on PostgreSQL', () => {
  it('sums the usage records written before it, and the trigger keeps the totals after', async () => {
    const database = await createTestDatabase(inject('postgresAdminUrl'));
    const parsed = parseConfig({});
    if (!parsed.ok) {
      throw new Error(parsed.message);
    }
    const client = new pg.Client({ connectionString: database.url });
    const before = migrationsBefore(postgresMigrationsFolder, '0003_usage_daily');
    try {
      await client.connect();
      await migratePostgresFrom(drizzlePostgres(client), { migrationsFolder: before.folder });
      const insert = (row: [string, string, number, number, string, number, number]) =>
        client.query(
          `INSERT INTO usage_records (request_id, tenant_id, key_id, model, input_tokens,
             cached_input_tokens, output_tokens, outcome, cost, provider_share, paid_by,
             created_at_ms, settled_at_ms)
           VALUES ($1, $2, 'key', 'm', $3, 0, $4, $5, $6, 0, '[]', $7, $7)`,
          row,
        );
      await insert(['r1', 'ten_a', 10, 5, 'complete', 1_000, dayMs + 5]);
      await insert(['r2', 'ten_a', 20, 7, 'complete', 2_500, dayMs + 9]);
      await insert(['r3', 'ten_a', 30, 0, 'rejected', 0, dayMs + 11]);
      await insert(['r4', 'ten_b', 50, 1, 'complete', 300, dayMs + 1]);
      await migratePostgres(database.url, parsed.config.limits);
      await insert(['r5', 'ten_b', 5, 5, 'complete', 100, dayMs + 2]);
      const totals = await client.query(
        'SELECT tenant_id, day, requests::int, input_tokens::int, output_tokens::int, cost::text FROM usage_daily ORDER BY 1, 2',
      );
      expect(totals.rows).toEqual([
        {
          tenant_id: 'ten_a',
          day: 1,
          requests: 2,
          input_tokens: 30,
          output_tokens: 12,
          cost: '3500',
        },
        {
          tenant_id: 'ten_b',
          day: 1,
          requests: 2,
          input_tokens: 55,
          output_tokens: 6,
          cost: '400',
        },
      ]);
    } finally {
      await client.end();
      await database.drop();
      before.remove();
    }
  });
});

describe('paged reads on PostgreSQL', () => {
  it('pages usage and statements in (time, request, coupon) order', async () => {
    const database = await createTestDatabase(inject('postgresAdminUrl'));
    const parsed = parseConfig({}, { database: database.url });
    if (!parsed.ok) {
      throw new Error(parsed.message);
    }
    const store = await openGatewayStore(parsed.config, silentLogger);
    const client = new pg.Client({ connectionString: database.url });
    try {
      await client.connect();
      await client.query(
        `INSERT INTO tenants (id, name, allow_max_tokens_clamp, created_at_ms) VALUES ('ten_a', 'A', false, 0)`,
      );
      for (const coupon of ['cpn_1', 'cpn_2']) {
        await client.query(
          `INSERT INTO coupons (id, tenant_id, kind, program, amount, coverage_bps, priority,
             starts_at_ms, status, reference, created_at_ms)
           VALUES ($1, 'ten_a', 'compute', 'p1', 100, 5000, 50, 0, 'active', $1, 0)`,
          [coupon],
        );
      }
      const paidBy = JSON.stringify([
        { source: 'coupon', id: 'cpn_1', amount: '0.000001' },
        { source: 'coupon', id: 'cpn_2', amount: '0.000001' },
      ]);
      for (const [requestId, atMs] of [
        ['req_b', 1_000],
        ['req_a', 1_000],
        ['req_c', 2_000],
      ] as const) {
        await client.query(
          `INSERT INTO usage_records (request_id, tenant_id, key_id, model, outcome, cost,
             provider_share, paid_by, created_at_ms, settled_at_ms)
           VALUES ($1, 'ten_a', 'key', 'm', 'complete', 2, 0, $2, $3, $3)`,
          [requestId, paidBy, atMs],
        );
      }
      const range = { fromMs: 0, toMs: 10_000 };
      const usage = await store.ledger.usage('ten_a', range, {
        limit: 2,
        after: { createdAtMs: 1_000, requestId: 'req_a' },
      });
      expect(usage.map((record) => record.requestId)).toEqual(['req_b', 'req_c']);
      const statement = await store.ledger.programStatement('p1', range, 'ten_a', {
        limit: 3,
        after: { createdAtMs: 1_000, requestId: 'req_a', couponId: 'cpn_1' },
      });
      expect(statement.map((row) => `${row.requestId}/${row.couponId}`)).toEqual([
        'req_a/cpn_2',
        'req_b/cpn_1',
        'req_b/cpn_2',
      ]);
      const whole = await store.ledger.programStatement('p1', range, undefined);
      expect(whole).toHaveLength(6);
    } finally {
      await client.end();
      await store.close();
      await database.drop();
    }
  });
});
