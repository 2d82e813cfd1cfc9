/**
 * The bank's operator money end to end, on SQLite and on PostgreSQL: a subsidy program's
 * statement whose totals equal the ledger's movements (coupons of two kinds granted to two
 * tenants, spent through the official OpenAI SDK, one expired), payouts to a provider (idempotent,
 * never above what it is owed), adjustments of a wallet with a reason, payout rates versioned
 * from a date and applied by admission time, and the edits of a tenant's regions and a key's
 * limits; each write in the audit log, and `tokenbank admin` printing them. The app runs
 * in-process with a clock the test moves, in front of a fast simulator.
 */
import { APIError } from 'openai';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runAdmin } from '../src/cli/commands/admin.ts';
import {
  createTenantWithKey,
  expectOk,
  type HttpCaller,
  priceModels,
  stringField,
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
import { micro, sum } from './support/money-reading.ts';
import { createTestDatabase, type TestDatabase } from './support/postgres-service.ts';

const model = 'statement-chat';
const program = 'gov-2026';
const hello = [{ role: 'user' as const, content: 'hello' }];
const minuteMs = 60_000;
const hourMs = 60 * minuteMs;

const simulator = fastSimulatorForFile({ models: [model], region: 'east' });

type Body = Record<string, unknown>;
type Coupon = { id: string; kind: string; program: string; remaining: string; held: string };
type Entry = {
  kind: string;
  debit_account: string;
  credit_account: string;
  amount: string;
  flag: string;
};
type StatementLine = {
  tenant_id: string;
  tenant_name: string | null;
  kind: string;
  coupons: number;
  opening: string;
  granted: string;
  used: string;
  expired: string;
  voided: string;
  remaining: string;
  requests: number;
  copaid_value: string;
};

type World = {
  gateway: InProcessGateway;
  call: HttpCaller;
  providerId: string;
  providerToken: string;
  backendId: string;
};

const stores = [
  { name: 'SQLite', database: async () => undefined },
  {
    name: 'PostgreSQL',
    database: async () => createTestDatabase(inject('postgresAdminUrl')),
  },
] as const;

async function openWorld(database: TestDatabase | undefined): Promise<World> {
  const gateway = await startInProcessGateway({
    config: {
      allowPrivateBackends: true,
      ...(database === undefined ? {} : { database: database.url }),
    },
  });
  const call = inProcessCaller(gateway);
  const provider = await expectOk(call, 'POST', '/admin/v1/providers', testAdminToken, {
    name: 'GPU farm',
    payout_bps: 8000,
  });
  const providerToken = stringField(provider, 'token');
  const backend = await expectOk(call, 'POST', '/provider/v1/backends', providerToken, {
    url: simulator().url,
    region: 'east',
    models: [model],
  });
  // Each output token costs exactly 1.00, input nothing: a request's cost is its max_tokens.
  await priceModels(call, testAdminToken, [model], { input: '0', output: '1000000' });
  return {
    gateway,
    call,
    providerId: stringField(provider, 'id'),
    providerToken,
    backendId: stringField(backend, 'id'),
  };
}

const iso = (atMs: number) => new Date(atMs).toISOString();

describe.each(stores)('on $name', (store) => {
  let database: TestDatabase | undefined;
  let world: World;
  const admin = (method: string, path: string, body?: unknown) =>
    world.call(method, path, testAdminToken, body);
  const ok = (method: string, path: string, body?: unknown) =>
    expectOk(world.call, method, path, testAdminToken, body);

  async function newTenant(name: string, balance: string) {
    const created = await createTenantWithKey(world.call, testAdminToken, { name });
    await topUp(world.call, testAdminToken, created.tenantId, balance);
    return { ...created, client: inProcessOpenAI(world.gateway, created.apiKey) };
  }

  async function chat(client: ReturnType<typeof inProcessOpenAI>, maxTokens: number) {
    await client.chat.completions.create({ model, messages: hello, max_tokens: maxTokens });
    await world.gateway.deps.background.drain();
  }

  async function grant(tenantId: string, terms: Body): Promise<Coupon> {
    return (await ok('POST', `/admin/v1/tenants/${tenantId}/coupons`, {
      program,
      ...terms,
    })) as unknown as Coupon;
  }

  async function expectLedgerClean(): Promise<void> {
    await world.gateway.deps.background.drain();
    expect(await ok('GET', '/admin/v1/ledger/check')).toMatchObject({ ok: true, problems: [] });
  }

  async function auditActions(action: string): Promise<Body[]> {
    return ((await ok('GET', `/admin/v1/audit?action=${action}`)) as { data: Body[] }).data;
  }

  beforeAll(async () => {
    database = await store.database();
    world = await openWorld(database);
  });

  afterAll(async () => {
    await world?.gateway.close();
    await database?.drop();
  });

  describe('a subsidy program statement', () => {
    let tenantA: Awaited<ReturnType<typeof newTenant>>;
    let tenantB: Awaited<ReturnType<typeof newTenant>>;
    let requestsAtMs: number;

    beforeAll(async () => {
      tenantA = await newTenant('Acme Robotics', '100');
      tenantB = await newTenant('Beta Foods', '100');
      const now = world.gateway.clock.nowMs();
      await grant(tenantA.tenantId, { kind: 'compute', amount: '5.00', reference: 'a-compute' });
      await grant(tenantA.tenantId, { kind: 'storage', amount: '2.00', reference: 'a-storage' });
      // Another program's coupon pays after this one's: it must not show in the statement.
      await grant(tenantA.tenantId, {
        kind: 'compute',
        amount: '100.00',
        priority: 90,
        program: 'promo',
        reference: 'a-promo',
      });
      await grant(tenantB.tenantId, {
        kind: 'compute',
        amount: '3.00',
        expires_at: iso(now + hourMs),
        reference: 'b-compute',
      });
      await grant(tenantB.tenantId, {
        kind: 'transport',
        amount: '1.00',
        reference: 'b-transport',
      });
      world.gateway.clock.advanceMs(minuteMs);
      requestsAtMs = world.gateway.clock.nowMs();
      await chat(tenantA.client, 3);
      await chat(tenantA.client, 4);
      await chat(tenantB.client, 2);
      world.gateway.clock.advanceMs(2 * hourMs);
      expect(await world.gateway.deps.ledger.expireCoupons(world.gateway.clock.nowMs())).toBe(1);
    });

    async function statement(query = ''): Promise<Body & { data: StatementLine[] }> {
      return (await ok('GET', `/admin/v1/programs/${program}/statement${query}`)) as Body & {
        data: StatementLine[];
      };
    }

    it('answers per tenant and kind: granted, used, expired, remaining and the value co-paid', async () => {
      const answer = await statement();
      expect(answer).toMatchObject({ object: 'program_statement', program, currency: 'CNY' });
      const line = (tenantId: string, kind: string) =>
        answer.data.find((each) => each.tenant_id === tenantId && each.kind === kind);
      const zero = { opening: '0.00', voided: '0.00' };
      expect(line(tenantA.tenantId, 'compute')).toMatchObject({
        tenant_name: 'Acme Robotics',
        coupons: 1,
        ...zero,
        granted: '5.00',
        used: '5.00',
        expired: '0.00',
        remaining: '0.00',
        requests: 2,
        copaid_value: '7.00',
      });
      expect(line(tenantA.tenantId, 'storage')).toMatchObject({
        granted: '2.00',
        used: '0.00',
        remaining: '2.00',
        requests: 0,
        copaid_value: '0.00',
      });
      expect(line(tenantB.tenantId, 'compute')).toMatchObject({
        ...zero,
        granted: '3.00',
        used: '2.00',
        expired: '1.00',
        remaining: '0.00',
        requests: 1,
        copaid_value: '2.00',
      });
      expect(line(tenantB.tenantId, 'transport')).toMatchObject({
        granted: '1.00',
        remaining: '1.00',
      });
      expect(answer.data).toHaveLength(4);
      expect(answer.totals).toContainEqual({
        kind: 'compute',
        tenants: 2,
        coupons: 2,
        ...zero,
        granted: '8.00',
        used: '7.00',
        expired: '1.00',
        remaining: '0.00',
        requests: 3,
        copaid_value: '9.00',
      });
      expect(answer.grand_total).toEqual({
        tenants: 2,
        coupons: 4,
        ...zero,
        granted: '11.00',
        used: '7.00',
        expired: '1.00',
        remaining: '3.00',
        requests: 3,
        copaid_value: '9.00',
      });
      expect(answer.reconciliation).toMatchObject({ ok: true, problems: [] });
      await expectLedgerClean();
    });

    it("has totals equal to the ledger's movements of the program's coupon accounts", async () => {
      const answer = await statement();
      for (const tenant of [tenantA, tenantB]) {
        const view = (await ok('GET', `/admin/v1/tenants/${tenant.tenantId}`)) as unknown as {
          coupons: Coupon[];
        };
        const entries = (
          (await ok('GET', `/admin/v1/tenants/${tenant.tenantId}/ledger`)) as unknown as {
            data: Entry[];
          }
        ).data.filter((entry) => entry.flag === 'posted' || entry.flag === 'post_pending');
        for (const kind of ['compute', 'storage', 'transport']) {
          const accounts = new Set(
            view.coupons
              .filter((coupon) => coupon.program === program && coupon.kind === kind)
              .map((coupon) => `coupon:${coupon.id}`),
          );
          const moved = (from: (account: string) => boolean, to: (account: string) => boolean) =>
            sum(
              entries
                .filter((entry) => from(entry.debit_account) && to(entry.credit_account))
                .map((entry) => micro(entry.amount)),
            );
          const ours = (account: string) => accounts.has(account);
          const line = answer.data.find(
            (each) => each.tenant_id === tenant.tenantId && each.kind === kind,
          );
          if (accounts.size === 0) {
            expect(line).toBeUndefined();
            continue;
          }
          const granted = moved((account) => account === `subsidy_receivable:${program}`, ours);
          const used = moved(ours, (account) => account === 'holds');
          const expired = moved(ours, (account) => account === 'breakage');
          const balances = sum(
            view.coupons
              .filter((coupon) => accounts.has(`coupon:${coupon.id}`))
              .map((coupon) => micro(coupon.remaining) + micro(coupon.held)),
          );
          expect(line && micro(line.granted)).toBe(granted);
          expect(line && micro(line.used)).toBe(used);
          expect(line && micro(line.expired)).toBe(expired);
          expect(line && micro(line.remaining)).toBe(balances);
          expect(granted - used - expired).toBe(balances);
        }
      }
    });

    it('covers a period: what stood at its start is the opening, only its movements count', async () => {
      const later = await statement(`?from=${iso(requestsAtMs)}`);
      const compute = later.data.find(
        (line) => line.tenant_id === tenantA.tenantId && line.kind === 'compute',
      );
      expect(compute).toMatchObject({ opening: '5.00', granted: '0.00', used: '5.00' });
      const before = await statement(`?to=${iso(requestsAtMs)}`);
      expect(before.grand_total).toMatchObject({
        granted: '11.00',
        used: '0.00',
        expired: '0.00',
        remaining: '11.00',
        requests: 0,
      });
      const one = await statement(`?tenant_id=${tenantB.tenantId}`);
      expect(one.data.map((line) => line.kind)).toEqual(['compute', 'transport']);
      expect(one.grand_total).toMatchObject({ tenants: 1, granted: '4.00', copaid_value: '2.00' });
    });

    it('is a CSV for the subsidy office, rows for tenants, totals and the grand total', async () => {
      const response = await world.gateway.app.request(
        `/admin/v1/programs/${program}/statement?format=csv`,
        { headers: { authorization: `Bearer ${testAdminToken}` } },
      );
      expect(response.headers.get('content-type')).toMatch(/^text\/csv/);
      expect(response.headers.get('x-tokenbank-reconciled')).toBe('true');
      const [header, ...rows] = (await response.text()).trim().split('\r\n');
      expect(header).toBe(
        'program,currency,from,to,row,tenant_id,tenant_name,kind,tenants,coupons,opening,granted,used,expired,voided,remaining,requests,copaid_value,reconciled',
      );
      expect(rows.filter((row) => row.includes(',tenant,'))).toHaveLength(4);
      expect(rows.filter((row) => row.includes(',kind_total,'))).toHaveLength(3);
      expect(rows.at(-1)).toMatch(
        /^gov-2026,CNY,[^,]+,[^,]+,grand_total,,,all,2,4,0\.00,11\.00,7\.00,1\.00,0\.00,3\.00,3,9\.00,true$/,
      );
    });

    it('keeps the line items under detail=lines, and lists the program', async () => {
      const lines = (await ok(
        'GET',
        `/admin/v1/programs/${program}/statement?detail=lines&format=json`,
      )) as { data: { amount: string; tenant_id: string }[] };
      expect(sum(lines.data.map((row) => micro(row.amount)))).toBe(micro('7.00'));
      const paging = await admin('GET', `/admin/v1/programs/${program}/statement?limit=10`);
      expect(paging.status).toBe(400);
      expect(paging.body).toMatchObject({ error: { param: 'limit' } });
      expect((await admin('GET', '/admin/v1/programs/no-such/statement')).status).toBe(404);
      const programs = (await ok('GET', '/admin/v1/programs')) as { data: Body[] };
      expect(programs.data.find((each) => each.program === program)).toEqual({
        object: 'program',
        program,
        coupons: 4,
        tenants: 2,
        granted: '11.00',
        kinds: {
          compute: { coupons: 2, tenants: 2, granted: '8.00' },
          storage: { coupons: 1, tenants: 1, granted: '2.00' },
          transport: { coupons: 1, tenants: 1, granted: '1.00' },
        },
      });
    });
  });

  describe('payouts to a provider', () => {
    it('pay what it is owed, once per reference, never more', async () => {
      const tenant = await newTenant('Payout Co', '50');
      await chat(tenant.client, 10);
      const path = `/admin/v1/providers/${world.providerId}/payouts`;
      const before = (await ok('GET', path)) as Body;
      const owed = micro(String(before.unpaid));
      expect(owed).toBeGreaterThanOrEqual(micro('8.00'));
      const tooMuch = await admin('POST', path, {
        amount: '1000.00',
        reference: 'wire-too-much',
      });
      expect(tooMuch.status).toBe(409);
      expect(tooMuch.body).toMatchObject({ error: { code: 'conflict', param: 'amount' } });
      expect(JSON.stringify(tooMuch.body)).toContain('more than the');
      expect((await admin('POST', path, { amount: '0', reference: 'wire-zero' })).status).toBe(400);

      const first = await admin('POST', path, {
        amount: '5.00',
        reference: 'wire-1',
        note: 'March',
      });
      expect(first.status).toBe(201);
      expect(first.body).toMatchObject({
        object: 'payout',
        provider_id: world.providerId,
        amount: '5.00',
        reference: 'wire-1',
        note: 'March',
        duplicate: false,
      });
      expect(micro(String(first.body.unpaid))).toBe(owed - micro('5.00'));
      const replay = await admin('POST', path, { amount: '5.00', reference: 'wire-1' });
      expect(replay.status).toBe(200);
      expect(replay.body).toMatchObject({ id: first.body.id, duplicate: true, note: 'March' });
      const reused = await admin('POST', path, { amount: '6.00', reference: 'wire-1' });
      expect(reused.status).toBe(409);
      expect(reused.body).toMatchObject({ error: { param: 'reference' } });

      const after = (await ok('GET', path)) as { data: Body[] } & Body;
      expect(after.data.map((payout) => payout.reference)).toEqual(['wire-1']);
      expect(after).toMatchObject({ paid: '5.00' });
      expect(micro(String(after.unpaid))).toBe(owed - micro('5.00'));
      expect(micro(String(after.earned))).toBe(owed);

      const earnings = await ok('GET', `/admin/v1/providers/${world.providerId}/earnings`);
      const own = await expectOk(world.call, 'GET', '/provider/v1/earnings', world.providerToken);
      expect(earnings).toMatchObject({ total_paid: '5.00', unpaid: after.unpaid });
      expect(own).toMatchObject({ total_paid: '5.00', unpaid: after.unpaid });

      const [audited] = await auditActions('payout.create');
      expect(audited).toMatchObject({ entity_type: 'payout', entity_id: first.body.id });
      await expectLedgerClean();
    });
  });

  describe('adjustments of a wallet', () => {
    it('credit or debit against revenue with a reason, once per reference, never below zero', async () => {
      const tenant = await newTenant('Adjusted Ltd', '10');
      const path = `/admin/v1/tenants/${tenant.tenantId}/adjustments`;
      const credit = await admin('POST', path, {
        amount: '2.50',
        reason: 'refund of a failed batch',
        reference: 'ticket-1',
      });
      expect(credit.status).toBe(201);
      expect(credit.body).toMatchObject({
        object: 'adjustment',
        amount: '2.50',
        reason: 'refund of a failed batch',
        balance: '12.50',
        duplicate: false,
      });
      const replay = await admin('POST', path, {
        amount: '2.50',
        reason: 'again',
        reference: 'ticket-1',
      });
      expect(replay).toMatchObject({
        status: 200,
        body: { duplicate: true, reason: 'refund of a failed batch', balance: '12.50' },
      });
      const reused = await admin('POST', path, {
        amount: '3.00',
        reason: 'x',
        reference: 'ticket-1',
      });
      expect(reused.status).toBe(409);
      const overdraw = await admin('POST', path, {
        amount: '-13.00',
        reason: 'x',
        reference: 't-2',
      });
      expect(overdraw.status).toBe(409);
      expect(overdraw.body).toMatchObject({ error: { param: 'amount' } });
      expect(
        (await admin('POST', path, { amount: '-0', reason: 'x', reference: 't-3' })).status,
      ).toBe(400);
      expect((await admin('POST', path, { amount: '1.00', reference: 't-4' })).status).toBe(400);
      const debit = await ok('POST', path, {
        amount: '-0.50',
        reason: 'manual charge',
        reference: 't-5',
      });
      expect(debit).toMatchObject({ amount: '-0.50', balance: '12.00' });

      const listed = (await ok('GET', path)) as { data: Body[] };
      expect(listed.data.map((each) => [each.amount, each.reason])).toEqual([
        ['-0.50', 'manual charge'],
        ['2.50', 'refund of a failed batch'],
      ]);
      const tenantView = await ok('GET', `/admin/v1/tenants/${tenant.tenantId}`);
      expect(tenantView.balance).toBe('12.00');
      const audited = await auditActions('adjustment.create');
      expect(audited.filter((event) => event.tenant_id === tenant.tenantId)).toHaveLength(3);
      await expectLedgerClean();
    });
  });

  describe('tenant and key edits', () => {
    it("change a tenant's regions and a key's limits for the next request", async () => {
      const tenant = await newTenant('Edited Inc', '100');
      const tenantPath = `/admin/v1/tenants/${tenant.tenantId}`;
      const west = await ok('PATCH', tenantPath, { allowed_regions: ['west'] });
      expect(west).toMatchObject({ allowed_regions: ['west'], balance: '100.00' });
      await expect(chat(tenant.client, 1)).rejects.toMatchObject({ status: 503 });
      const homeOutside = await admin('PATCH', tenantPath, { home_region: 'east' });
      expect(homeOutside.body).toMatchObject({ error: { param: 'home_region' } });
      expect((await admin('PATCH', tenantPath, {})).status).toBe(400);
      expect((await admin('PATCH', tenantPath, { colour: 'red' })).status).toBe(400);
      await ok('PATCH', tenantPath, { allowed_regions: null, home_region: 'east' });
      await chat(tenant.client, 1);

      const keyPath = `/admin/v1/keys/${tenant.keyId}`;
      expect(await ok('PATCH', keyPath, { rpm: 1 })).toMatchObject({ rpm: 1, tpm: null });
      await chat(tenant.client, 1);
      await expect(chat(tenant.client, 1)).rejects.toMatchObject({ status: 429 });
      await ok('PATCH', keyPath, { rpm: null, models: ['another-model'] });
      const refused = await chat(tenant.client, 1).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(APIError);
      expect(refused).toMatchObject({ status: 404, code: 'model_not_found' });
      await ok('PATCH', keyPath, { models: null });
      await chat(tenant.client, 1);
      await ok('DELETE', keyPath);
      expect((await admin('PATCH', keyPath, { rpm: 5 })).status).toBe(409);

      const [tenantEvent] = await auditActions('tenant.update');
      expect(tenantEvent).toMatchObject({ entity_id: tenant.tenantId });
      const [keyEvent] = await auditActions('key.update');
      expect(keyEvent).toMatchObject({ entity_id: tenant.keyId, tenant_id: tenant.tenantId });
    });
  });

  describe('tokenbank admin', () => {
    async function cli(argv: string[]) {
      let output = '';
      let errorOutput = '';
      const exitCode = await runAdmin(argv, {
        environment: {
          TOKENBANK_URL: 'http://gateway.test',
          TOKENBANK_ADMIN_TOKEN: testAdminToken,
        },
        fetch: async (input, init) => world.gateway.app.request(String(input), init),
        writeOutput: (text) => {
          output += text;
        },
        writeError: (text) => {
          errorOutput += text;
        },
      });
      return { exitCode, output, errorOutput };
    }

    it('prints the statement as a table, JSON and CSV, the programs, payouts and earnings', async () => {
      const table = await cli(['statement', program]);
      expect(table).toMatchObject({ exitCode: 0, errorOutput: '' });
      expect(table.output).toMatch(/^TENANT\s+NAME\s+KIND\s+COUPONS/m);
      expect(table.output).toMatch(/^grand total: tenants 2, granted 11\.00, used 7\.00/m);
      expect(table.output).toContain('reconciled with the ledger:');
      const json = await cli(['statement', program, '--json']);
      expect(JSON.parse(json.output)).toMatchObject({ object: 'program_statement', program });
      const csv = await cli(['statement', program, '--csv', '--tenant', 'nobody']);
      expect(csv.output.split('\r\n')[0]).toMatch(/^program,currency,from,to,row,/);
      expect((await cli(['programs'])).output).toMatch(
        /^gov-2026\s+4\s+2\s+11\.00\s+8\.00\s+2\.00\s+1\.00$/m,
      );

      const paid = await cli([
        'providers',
        'payout',
        world.providerId,
        '--amount',
        '0.50',
        '--reference',
        'wire-cli',
      ]);
      expect(paid.output).toMatch(/^paid out 0\.50; still owed /);
      const again = await cli([
        'providers',
        'payout',
        world.providerId,
        '--amount',
        '0.50',
        '--reference',
        'wire-cli',
      ]);
      expect(again.output).toMatch(/^duplicate: reference wire-cli was already paid out/);
      const earnings = await cli(['providers', 'earnings', world.providerId]);
      expect(earnings.output).toMatch(/^total paid: 5\.50 CNY$/m);
      expect(earnings.output).toMatch(/^unpaid \(owed now\): \d+\.\d+ CNY$/m);
    });
  });

  describe('payout rates', () => {
    it('are versioned from a date, and a request earns at the rate in force at its admission', async () => {
      const tenant = await newTenant('Rated Co', '100');
      const ratePath = `/admin/v1/providers/${world.providerId}/payout-rate`;
      // Past every request of the tests before: the earnings of this period are this test's.
      world.gateway.clock.advanceMs(minuteMs);
      const startMs = world.gateway.clock.nowMs();
      const past = await admin('PUT', ratePath, {
        payout_bps: 5000,
        effective_at: iso(startMs - 1),
      });
      expect(past.body).toMatchObject({ error: { param: 'effective_at' } });
      const effectiveMs = startMs + minuteMs;
      const published = await ok('PUT', ratePath, {
        payout_bps: 5000,
        effective_at: iso(effectiveMs),
      });
      expect(published).toMatchObject({
        payout_bps: 8000,
        payout_rates: [{ version: 1, payout_bps: 5000, effective_at: iso(effectiveMs) }],
      });

      // Admitted before the new rate, settled after it: paid at the rate of its admission.
      const { deps } = world.gateway;
      const price = await deps.catalogCache.pinnedPrice(model, 'east', startMs);
      if (!price) {
        throw new Error('the model has a price');
      }
      await deps.ledger.reserve({
        requestId: 'req_admitted_before',
        tenantId: tenant.tenantId,
        keyId: tenant.keyId,
        model,
        region: 'east',
        price,
        promptTokensEstimate: 0,
        outputTokensMax: 10,
        clampAllowed: false,
        atMs: startMs,
        instanceId: deps.instanceId,
      });
      await chat(tenant.client, 10);
      world.gateway.clock.advanceMs(2 * minuteMs);
      await deps.ledger.settle({
        requestId: 'req_admitted_before',
        usage: {
          inputTokens: 0,
          cachedInputTokens: 0,
          outputTokens: 10,
          reasoningTokens: undefined,
          source: 'provider',
        },
        outcome: 'complete',
        servedBy: { backendId: world.backendId, providerId: world.providerId, region: 'east' },
        price,
        atMs: world.gateway.clock.nowMs(),
      });
      await chat(tenant.client, 10);

      const earningsPath = `/admin/v1/providers/${world.providerId}/earnings`;
      const beforeRate = await ok(
        'GET',
        `${earningsPath}?from=${iso(startMs)}&to=${iso(effectiveMs)}`,
      );
      expect(beforeRate.total_earned).toBe('16.00');
      const afterRate = await ok('GET', `${earningsPath}?from=${iso(effectiveMs)}`);
      expect(afterRate.total_earned).toBe('5.00');
      const providers = (await ok('GET', '/admin/v1/providers')) as { data: Body[] };
      expect(providers.data.find((each) => each.id === world.providerId)).toMatchObject({
        payout_bps: 5000,
      });
      const [audited] = await auditActions('provider.payout_rate');
      expect(audited).toMatchObject({
        entity_id: world.providerId,
        before: { payout_bps: 8000 },
        after: { payout_bps: 8000 },
      });
      await expectLedgerClean();
    });
  });
});
