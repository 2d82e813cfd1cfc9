/**
 * A provider's money and a program's statements on Cloudflare Workers, in real workerd: three
 * tenants (two with coupons of one program) send requests through the Worker to two backends of
 * one provider, so the provider's earnings lie in three tenant Durable Objects. What the provider
 * and the operator read (earnings, balance, the program's statement and its pages, the programs)
 * is the sum of the parts and equals what the same traffic gives on the Node gateway over SQLite;
 * a payout spread over the tenant objects moves exactly its amount, once per reference, and one
 * above the balance is refused as on Node and moves nothing; the ledger check stays clean.
 */
import type OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTenantWithKey,
  expectOk,
  type HttpCaller,
  httpCaller,
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
import { micro, sum } from './support/money-reading.ts';
import { gatewayClient } from './support/openai-client.ts';
import { pollUntil } from './support/poll-until.ts';
import {
  startWorkersRuntime,
  suiteVariables,
  type WorkersRuntime,
} from './support/workers-runtime.ts';

const chatModel = 'sim-chat';
const codeModel = 'sim-code';
const program = 'gov-2026';
const hello = [{ role: 'user' as const, content: 'Count the cards in the bank.' }];
/** Each request's max_tokens and model, for every tenant: a request costs its output tokens. */
const requests = [
  { model: chatModel, maxTokens: 3 },
  { model: chatModel, maxTokens: 4 },
  { model: codeModel, maxTokens: 5 },
];
/** Output at exactly 1.00 a token, input free; the provider earns 80% (payout_bps 8000). */
const earnedPerTokenMicro = 800_000n;

/** One backend per model, so which backend served a request never depends on the routing. */
const chatSimulator = fastSimulatorForFile({ models: [chatModel], region: 'east' });
const codeSimulator = fastSimulatorForFile({ models: [codeModel], region: 'east' });

type Body = Record<string, unknown>;

/** A gateway as the scenario drives it: Worker or Node, reached the same way. */
type Side = {
  call: HttpCaller;
  adminToken: string;
  client(apiKey: string): OpenAI;
  /** Waits until every request sent so far was settled. */
  settled(tenantIds: readonly string[]): Promise<void>;
};

type Seeded = {
  providerId: string;
  providerToken: string;
  /** By the backend's position: chat first, then code. */
  backendIds: string[];
  /** By name. */
  tenants: Map<string, string>;
};

const tenantSeeds = [
  { name: 'Acme Robotics', coupons: [{ kind: 'compute', amount: '5.00' }] },
  {
    name: 'Beta Foods',
    coupons: [
      { kind: 'compute', amount: '3.00' },
      { kind: 'storage', amount: '1.00' },
    ],
  },
  { name: 'Cargo Lines', coupons: [] },
];

async function seedAndSend(side: Side): Promise<Seeded> {
  const ok = (method: string, path: string, body?: unknown) =>
    expectOk(side.call, method, path, side.adminToken, body);
  const { providerToken, backendIds } = await registerProvider(side.call, side.adminToken, [
    { url: chatSimulator().url, region: 'east', models: [chatModel] },
    { url: codeSimulator().url, region: 'east', models: [codeModel] },
  ]);
  await priceModels(side.call, side.adminToken, [chatModel, codeModel], {
    input: '0',
    output: '1000000',
  });
  const tenants = new Map<string, string>();
  for (const seed of tenantSeeds) {
    const created = await createTenantWithKey(side.call, side.adminToken, { name: seed.name });
    await topUp(side.call, side.adminToken, created.tenantId, '50');
    for (const [index, coupon] of seed.coupons.entries()) {
      await ok('POST', `/admin/v1/tenants/${created.tenantId}/coupons`, {
        program,
        ...coupon,
        reference: `grant-${index}`,
      });
    }
    for (const request of requests) {
      await side.client(created.apiKey).chat.completions.create({
        model: request.model,
        messages: hello,
        max_tokens: request.maxTokens,
      });
    }
    tenants.set(seed.name, created.tenantId);
  }
  await side.settled([...tenants.values()]);
  const provider = (await ok('GET', '/admin/v1/providers')) as { data: Body[] };
  return {
    providerId: String(provider.data[0]?.id),
    providerToken,
    backendIds,
    tenants,
  };
}

/** A view with its ids replaced by what they name, so two gateways' views compare. */
function named(view: unknown, seeded: Seeded): unknown {
  const names = new Map<string, string>([
    ...[...seeded.tenants].map(([name, id]): [string, string] => [id, name]),
    ...seeded.backendIds.map((id, index): [string, string] => [id, `backend ${index}`]),
    [seeded.providerId, 'the provider'],
  ]);
  return JSON.parse(JSON.stringify(view), (_key, value: unknown) =>
    typeof value === 'string' ? (names.get(value) ?? value) : value,
  );
}

let runtime: WorkersRuntime | undefined;
let node: InProcessGateway | undefined;
let workers: Side;
let nodeSide: Side;
let onWorkers: Seeded;
let onNode: Seeded;

const workersAdminToken = `tba-${'p'.repeat(32)}`;

beforeAll(async () => {
  runtime = await startWorkersRuntime({
    ...suiteVariables(workersAdminToken),
    // Two at once, so the fan-out over three tenants runs in more than one round.
    TOKENBANK_LIMITS: JSON.stringify({ tenantFanOutMax: 2 }),
  });
  const url = runtime.url;
  const workersCall = httpCaller(url);
  workers = {
    call: workersCall,
    adminToken: workersAdminToken,
    client: (apiKey) => gatewayClient({ baseURL: `${url}/v1`, apiKey, timeoutMs: 30_000 }),
    // The Worker settles after the response is delivered: its usage records tell when.
    settled: (tenantIds) =>
      pollUntil(async () => {
        for (const tenantId of tenantIds) {
          const usage = await expectOk(
            workersCall,
            'GET',
            `/admin/v1/tenants/${tenantId}/usage`,
            workersAdminToken,
          );
          if ((usage.data as unknown[]).length < requests.length) {
            return undefined;
          }
        }
        // Earnings are read from the usage records' copy in D1, which follows the objects.
        const [copied] = await started().d1(
          `SELECT COUNT(*) AS records FROM usage_records
           WHERE tenant_id IN (${tenantIds.map(() => '?').join(', ')})`,
          ...tenantIds,
        );
        return copied?.records === tenantIds.length * requests.length || undefined;
      }, 'every request settled in its tenant object and copied to D1').then(() => undefined),
  };
  node = await startInProcessGateway({ config: { allowPrivateBackends: true } });
  const gateway = node;
  nodeSide = {
    call: inProcessCaller(gateway),
    adminToken: testAdminToken,
    client: (apiKey) => inProcessOpenAI(gateway, apiKey),
    settled: () => gateway.deps.background.drain(),
  };
  onWorkers = await seedAndSend(workers);
  onNode = await seedAndSend(nodeSide);
}, 180_000);

afterAll(async () => {
  await Promise.all([runtime?.close(), node?.close()]);
});

function started(): WorkersRuntime {
  if (!runtime) {
    throw new Error('the Workers runtime did not start');
  }
  return runtime;
}

const expectedEarnedMicro =
  BigInt(tenantSeeds.length) *
  sum(requests.map((request) => BigInt(request.maxTokens) * earnedPerTokenMicro));

async function earnings(side: Side, seeded: Seeded): Promise<Body> {
  return expectOk(side.call, 'GET', '/provider/v1/earnings', seeded.providerToken);
}

/** The earnings with ids named, rows in backend order (each gateway sorts by its own ids). */
async function namedEarnings(side: Side, seeded: Seeded) {
  const view = named(await earnings(side, seeded), seeded) as Body & {
    data: { backend_id: string }[];
  };
  view.data.sort((left, right) => left.backend_id.localeCompare(right.backend_id));
  return view;
}

async function payouts(side: Side, seeded: Seeded): Promise<Body> {
  return expectOk(
    side.call,
    'GET',
    `/admin/v1/providers/${seeded.providerId}/payouts`,
    side.adminToken,
  );
}

function payout(side: Side, seeded: Seeded, amount: string, reference: string) {
  return side.call('POST', `/admin/v1/providers/${seeded.providerId}/payouts`, side.adminToken, {
    amount,
    reference,
  });
}

/** What each tenant object owes the provider now, in tenant id order. */
async function payableByTenant(): Promise<bigint[]> {
  const tenantIds = [...onWorkers.tenants.values()].sort();
  const accounts = await Promise.all(
    tenantIds.map(
      (object) =>
        runtime?.call({ object, target: 'accounts', parameters: [] }) as Promise<
          { id: string; balance: bigint }[]
        >,
    ),
  );
  return accounts.map(
    (rows) =>
      rows.find((row) => row.id === `provider_payable:${onWorkers.providerId}`)?.balance ?? -1n,
  );
}

async function ledgerCheck(side: Side): Promise<Body> {
  return expectOk(side.call, 'GET', '/admin/v1/ledger/check', side.adminToken);
}

describe("a provider's money spread over the tenant objects", () => {
  it('earns the sum of every tenant’s requests, as on the Node gateway', async () => {
    const view = await earnings(workers, onWorkers);
    const rows = view.data as { backend_id: string; requests: number; earned: string }[];
    expect(sum(rows.map((row) => micro(row.earned)))).toBe(expectedEarnedMicro);
    const [chatBackend, codeBackend] = onWorkers.backendIds;
    expect(rows.find((row) => row.backend_id === chatBackend)?.requests).toBe(6);
    expect(rows.find((row) => row.backend_id === codeBackend)?.requests).toBe(3);
    expect(micro(String(view.total_earned))).toBe(expectedEarnedMicro);
    expect(micro(String(view.unpaid))).toBe(expectedEarnedMicro);
    expect(await namedEarnings(workers, onWorkers)).toEqual(await namedEarnings(nodeSide, onNode));
    const balance = await payouts(workers, onWorkers);
    expect(balance).toMatchObject({ data: [], paid: '0.00' });
    expect(micro(String(balance.earned))).toBe(expectedEarnedMicro);
  });

  it('pays out exactly the amount across tenants, once per reference, never above the balance', async () => {
    // More than any one tenant's share (9.60): the payout takes from two tenant objects.
    const first = await payout(workers, onWorkers, '15.00', 'wire-1');
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ amount: '15.00', reference: 'wire-1', duplicate: false });
    expect(micro(String(first.body.unpaid))).toBe(expectedEarnedMicro - micro('15.00'));
    const again = await payout(workers, onWorkers, '15.00', 'wire-1');
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ ...first.body, duplicate: true });
    const reused = await payout(workers, onWorkers, '16.00', 'wire-1');
    expect(reused.status).toBe(409);
    // Taken from the tenant objects in tenant id order: all of the first's 9.60, 5.40 of the next.
    expect(await payableByTenant()).toEqual([0n, micro('4.20'), micro('9.60')]);

    const before = await payouts(workers, onWorkers);
    expect(before).toMatchObject({ paid: '15.00', unpaid: first.body.unpaid });
    expect((before.data as Body[]).map((each) => each.reference)).toEqual(['wire-1']);
    const tooMuch = await payout(workers, onWorkers, '14.00', 'wire-too-much');
    expect(tooMuch.status).toBe(409);
    expect(JSON.stringify(tooMuch.body)).toContain('more than the 13.80 the provider is owed');
    expect(await payouts(workers, onWorkers)).toEqual(before);

    // The same payouts on Node answer the same.
    expect((await payout(nodeSide, onNode, '15.00', 'wire-1')).status).toBe(201);
    expect(reused.body).toEqual((await payout(nodeSide, onNode, '16.00', 'wire-1')).body);
    const nodeTooMuch = await payout(nodeSide, onNode, '14.00', 'wire-too-much');
    expect({ status: tooMuch.status, body: tooMuch.body }).toEqual({
      status: nodeTooMuch.status,
      body: nodeTooMuch.body,
    });
    expect(await earnings(workers, onWorkers)).toMatchObject({
      total_paid: '15.00',
      unpaid: '13.80',
    });
    expect(await namedEarnings(workers, onWorkers)).toEqual(await namedEarnings(nodeSide, onNode));
    expect(await ledgerCheck(workers)).toMatchObject({ ok: true, problems: [] });
  });
});

describe("a program's statement over the tenant objects", () => {
  const statementPath = `/admin/v1/programs/${program}/statement`;
  /** The statement's lines in name order: each gateway orders them by its own tenant ids. */
  async function summary(side: Side, seeded: Seeded) {
    const view = (await expectOk(side.call, 'GET', statementPath, side.adminToken)) as Body & {
      data: { tenant_name: string; kind: string }[];
    };
    const { from: _from, to: _to, ...rest } = view;
    rest.data = [...view.data].sort(
      (left, right) =>
        left.tenant_name.localeCompare(right.tenant_name) || left.kind.localeCompare(right.kind),
    );
    return named(rest, seeded);
  }

  it('has every tenant’s lines and the totals of the Node gateway, reconciled', async () => {
    const view = (await summary(workers, onWorkers)) as Body & {
      data: { tenant_id: string; kind: string; used: string }[];
    };
    expect(view.data.map((line) => `${line.tenant_id}/${line.kind}/${line.used}`)).toEqual([
      'Acme Robotics/compute/5.00',
      'Beta Foods/compute/3.00',
      'Beta Foods/storage/0.00',
    ]);
    expect(view.reconciliation).toMatchObject({ ok: true, problems: [] });
    expect(view).toEqual(await summary(nodeSide, onNode));
    const programs = await expectOk(workers.call, 'GET', '/admin/v1/programs', workersAdminToken);
    expect(programs).toEqual(
      await expectOk(nodeSide.call, 'GET', '/admin/v1/programs', testAdminToken),
    );
  });

  it('pages its line items exactly as one store would, one line a page', async () => {
    const linesPath = `${statementPath}?detail=lines&format=json`;
    const all = (await expectOk(workers.call, 'GET', linesPath, workersAdminToken)) as {
      data: { tenant_id: string; amount: string }[];
    };
    const paged: unknown[] = [];
    let after = '';
    for (let page = 0; page < 10; page += 1) {
      const answer = (await expectOk(
        workers.call,
        'GET',
        `${linesPath}&limit=1${after === '' ? '' : `&after=${encodeURIComponent(after)}`}`,
        workersAdminToken,
      )) as { data: unknown[]; has_more: boolean; next_cursor: string | null };
      paged.push(...answer.data);
      if (!answer.has_more) {
        break;
      }
      after = String(answer.next_cursor);
    }
    expect(paged).toEqual(all.data);
    expect(sum(all.data.map((line) => micro(line.amount)))).toBe(micro('8.00'));
    const tenantsPaid = new Set(all.data.map((line) => line.tenant_id));
    expect(tenantsPaid).toEqual(
      new Set([onWorkers.tenants.get('Acme Robotics'), onWorkers.tenants.get('Beta Foods')]),
    );
    const oneTenant = (await expectOk(
      workers.call,
      'GET',
      `${linesPath}&tenant_id=${onWorkers.tenants.get('Beta Foods')}`,
      workersAdminToken,
    )) as { data: unknown[] };
    expect(oneTenant.data).toEqual(
      all.data.filter((line) => line.tenant_id === onWorkers.tenants.get('Beta Foods')),
    );
    expect(await ledgerCheck(workers)).toMatchObject({ ok: true, problems: [] });
  });
});
