/**
 * The backend fault suite, through a real `tokenbank serve` process and real `tokenbank sim`
 * processes with fault flags, each fault with its bill checked to the micro-unit:
 *
 * - before the first byte (refuse, hang, fast-503, 429 with Retry-After), with one healthy backend
 *   left: no client sees a failure, every request is served and billed once, by the healthy
 *   backend, and the faulty one earns nothing; with no healthy backend left, the client gets a
 *   clear error and pays nothing;
 * - after the first byte (cut mid-stream, usage omitted, slow, a drip slower than the body-idle
 *   timeout): the client's stream ends with an error event when it breaks, and the bill is what
 *   was delivered (all of it when complete, counted by the gateway when the backend reports none).
 *
 * Prices are 1 per million input tokens and 2 per million output tokens, so every cost in
 * micro-units is `input + 2 x output`.
 */
import type OpenAI from 'openai';
import { APIError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimulatorStats } from '../src/simulator/simulator-metrics.ts';
import { expectOk, type HttpCaller } from './support/demo-pool.ts';
import { micro, sum } from './support/money-reading.ts';
import { gatewayClient } from './support/openai-client.ts';
import {
  firstTenant,
  type GatewayWithSimulators,
  seedPool,
  startGatewayWithSimulators,
} from './support/seeded-pool.ts';
import type { GatewayProcess } from './support/spawn-gateway.ts';
import {
  readSimulatorStats,
  type SimulatorProcess,
  setSimulatorFaults,
} from './support/spawn-simulator.ts';
import {
  moneyOf,
  type TenantReader,
  tenantReader,
  type UsageRecordView,
} from './support/tenant-money.ts';

const adminToken = `tba-${'r'.repeat(32)}`;
const pairModel = 'faults-pair';
const soloModel = 'faults-solo';
const dripModel = 'faults-drip';
const hello = [{ role: 'user' as const, content: 'hello from the fault suite' }];

type UsageView = UsageRecordView;

const summary = { cases: 0, clientFailures: 0, billingMismatches: 0 };

let pool: GatewayWithSimulators<'faulty' | 'healthy' | 'solo' | 'drip'> | undefined;
let gateway: GatewayProcess;
let faulty: SimulatorProcess;
let healthy: SimulatorProcess;
let solo: SimulatorProcess;
let drip: SimulatorProcess;
let call: HttpCaller;
let client: OpenAI;
let tenantId: string;
let reader: TenantReader;
let backendIdOf: Map<string, string>;
let providerToken: string;

beforeAll(async () => {
  const fast = ['--decode-tps', '20000', '--prefill-tps', '1000000'];
  pool = await startGatewayWithSimulators({
    adminToken,
    simulators: {
      faulty: ['--region', 'east', '--models', pairModel, ...fast],
      healthy: ['--region', 'west', '--models', pairModel, ...fast],
      solo: ['--region', 'east', '--models', soloModel, ...fast],
      // Four tokens a second: a token every 250 ms, within the 1 s body-idle timeout.
      drip: ['--region', 'east', '--models', dripModel, '--decode-tps', '4'],
    },
    limits: {
      upstreamHeadersTimeoutMs: 1_500,
      upstreamBodyIdleTimeoutMs: 1_000,
      firstTokenTimeoutMinMs: 500,
      firstTokenTimeoutMaxMs: 1_500,
      retryCountMax: 2,
      // Keep the faulty backend in rotation, so that every fault is met again and again
      // instead of the router learning to avoid it after the first one.
      backendFailureCountMax: 100,
      breakerFailureCountMax: 10_000,
      breakerColdFailureCountMax: 10_000,
      routingFailureHalfLifeMs: 10,
      retryAfterMsMax: 0,
    },
  });
  ({ gateway, call } = pool);
  ({ faulty, healthy, solo, drip } = pool.simulators);
  const seeded = await seedPool(call, adminToken, {
    backends: [
      { url: faulty.url, region: 'east', models: [pairModel] },
      { url: healthy.url, region: 'west', models: [pairModel] },
      { url: solo.url, region: 'east', models: [soloModel] },
      { url: drip.url, region: 'east', models: [dripModel] },
    ],
    // At home in the faulty backend's region: the router tries it first whenever it can.
    tenants: [{ tenant: { name: 'faults', home_region: 'east' }, topUp: '100' }],
  });
  providerToken = seeded.providerToken;
  backendIdOf = new Map(
    [faulty, healthy, solo, drip].map((simulator, index) => [
      simulator.url,
      seeded.backendIds[index] ?? '',
    ]),
  );
  const tenant = firstTenant(seeded);
  tenantId = tenant.tenantId;
  reader = tenantReader(() => call, adminToken, tenantId);
  client = gatewayClient({
    baseURL: `${gateway.url}/v1`,
    apiKey: tenant.apiKey,
    timeoutMs: 30_000,
  });
});

afterAll(async () => {
  await pool?.stop();
  process.stdout.write(
    `backend fault suite: ${summary.cases} requests under faults, ${summary.clientFailures} failures seen by clients before the first byte, ${summary.billingMismatches} bills not matching the delivered tokens\n`,
  );
});

const usageById = () => reader.usageById();

/** The tenant's money once every hold is settled (a stream settles just after its last byte). */
async function settled(): Promise<{ money: bigint; holds: string }> {
  const view = await reader.settled();
  return { money: moneyOf(view), holds: view.holds };
}

function faultsInjected(stats: SimulatorStats, fault: string): number {
  return (stats.faults_injected as Record<string, number | undefined>)[fault] ?? 0;
}

/** The exact cost of a usage record at 1 and 2 per million tokens. */
function expectedCostMicro(record: UsageView): bigint {
  return BigInt((record.input_tokens ?? 0) + 2 * (record.output_tokens ?? 0));
}

function checkBill(record: UsageView | undefined, expected: Partial<UsageView>): UsageView {
  expect(record).toBeDefined();
  const found = record as UsageView;
  try {
    expect(found).toMatchObject(expected);
    expect(micro(found.cost)).toBe(expectedCostMicro(found));
    expect(sum(found.paid_by.map((paid) => micro(paid.amount)))).toBe(micro(found.cost));
  } catch (error) {
    summary.billingMismatches += 1;
    throw error;
  }
  return found;
}

type Outcome = { requestId: string; tokens: number; finished: boolean; failure: unknown };

/** One request, streamed or not, as a client would make it; never throws. */
async function ask(model: string, maxTokens: number, stream: boolean): Promise<Outcome> {
  summary.cases += 1;
  const outcome: Outcome = { requestId: '', tokens: 0, finished: false, failure: undefined };
  try {
    if (stream) {
      const { data, response } = await client.chat.completions
        .create({ model, messages: hello, max_tokens: maxTokens, stream: true })
        .withResponse();
      outcome.requestId = response.headers.get('x-request-id') ?? '';
      for await (const chunk of data) {
        outcome.tokens += chunk.choices[0]?.delta.content ? 1 : 0;
        outcome.finished ||= chunk.choices[0]?.finish_reason != null;
      }
    } else {
      const { data, response } = await client.chat.completions
        .create({ model, messages: hello, max_tokens: maxTokens })
        .withResponse();
      outcome.requestId = response.headers.get('x-request-id') ?? '';
      outcome.tokens = data.usage?.completion_tokens ?? 0;
      outcome.finished = data.choices[0]?.finish_reason != null;
    }
  } catch (error) {
    outcome.failure = error;
    if (error instanceof APIError) {
      outcome.requestId = error.requestID ?? outcome.requestId;
    }
  }
  return outcome;
}

describe('faults before the first byte, with one healthy backend left', () => {
  it.each([
    ['refuse', 12],
    ['fast-503', 12],
    ['429', 12],
    ['hang', 6],
  ])(
    '%s: no client sees it, each request is billed once by the healthy backend, the faulty one earns nothing',
    async (fault, requestCount) => {
      await setSimulatorFaults(faulty, [fault]);
      try {
        const injectedBefore = faultsInjected(await readSimulatorStats(faulty), fault);
        const before = await settled();
        const outcomes: Outcome[] = [];
        for (let index = 0; index < requestCount; index += 1) {
          outcomes.push(await ask(pairModel, 3 + (index % 3), index % 2 === 0));
        }
        for (const outcome of outcomes) {
          if (outcome.failure !== undefined || !outcome.finished) {
            summary.clientFailures += 1;
          }
          expect(outcome.failure).toBeUndefined();
          expect(outcome.finished).toBe(true);
        }
        const after = await settled();
        expect(after.holds).toBe('0.00');
        const usage = await usageById();
        const bills = outcomes.map((outcome, index) =>
          checkBill(usage.get(outcome.requestId), {
            outcome: 'complete',
            usage_source: 'provider',
            backend_id: backendIdOf.get(healthy.url) ?? '',
            output_tokens: 3 + (index % 3),
          }),
        );
        expect(before.money - after.money).toBe(sum(bills.map((bill) => micro(bill.cost))));
        // The fault was met, not avoided: the faulty backend saw some of these requests.
        const injected = faultsInjected(await readSimulatorStats(faulty), fault) - injectedBefore;
        expect(injected).toBeGreaterThan(0);
        const earnings = await expectOk(call, 'GET', '/provider/v1/earnings', providerToken);
        expect(
          (earnings.data as { backend_id: string }[]).map((row) => row.backend_id),
        ).not.toContain(backendIdOf.get(faulty.url));
      } finally {
        await setSimulatorFaults(faulty, []);
      }
    },
  );
});

describe('faults before the first byte, with no healthy backend left', () => {
  it.each(['fast-503', 'hang'])(
    '%s: the client gets a clear 5xx in the envelope and pays nothing',
    async (fault) => {
      await setSimulatorFaults(solo, [fault]);
      try {
        const before = await settled();
        for (const stream of [false, true]) {
          const outcome = await ask(soloModel, 5, stream);
          expect(outcome.failure).toBeInstanceOf(APIError);
          const error = outcome.failure as APIError;
          expect([502, 503]).toContain(error.status);
          expect(error.code).toMatch(/^(upstream_error|no_capacity)$/);
          const record = (await usageById()).get(outcome.requestId);
          if (record) {
            checkBill(record, { cost: '0.00' });
          }
        }
        const after = await settled();
        expect(after.money).toBe(before.money);
      } finally {
        await setSimulatorFaults(solo, []);
        await waitUntilServes(soloModel);
      }
    },
  );
});

/** After a fault the backend may sit out a while (breaker, probes): wait, bounded, until it serves. */
async function waitUntilServes(model: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const outcome = await ask(model, 1, false);
    summary.cases -= 1;
    if (outcome.failure === undefined || Date.now() > deadline) {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('faults after the first byte', () => {
  it('cut mid-stream: the client gets an error event, and the delivered part is billed', async () => {
    await setSimulatorFaults(solo, ['cut']);
    try {
      const outcome = await ask(soloModel, 40, true);
      expect(outcome.failure).toBeInstanceOf(APIError);
      expect(outcome.finished).toBe(false);
      expect(outcome.tokens).toBeGreaterThan(0);
      expect(outcome.tokens).toBeLessThan(40);
      await settled();
      checkBill((await usageById()).get(outcome.requestId), {
        outcome: 'upstream_error',
        usage_source: 'gateway_count',
        output_tokens: outcome.tokens,
      });
    } finally {
      await setSimulatorFaults(solo, []);
    }
  });

  it('cut in a JSON answer: nothing reached the client, so nothing is billed', async () => {
    await setSimulatorFaults(solo, ['cut']);
    try {
      const outcome = await ask(soloModel, 40, false);
      expect(outcome.failure).toBeInstanceOf(APIError);
      expect((outcome.failure as APIError).status).toBe(502);
      await settled();
      checkBill((await usageById()).get(outcome.requestId), {
        outcome: 'upstream_error',
        cost: '0.00',
      });
    } finally {
      await setSimulatorFaults(solo, []);
      await waitUntilServes(soloModel);
    }
  });

  it.each([true, false])(
    'usage omitted (stream %s): the answer is whole and the gateway bills its own count of it',
    async (stream) => {
      await setSimulatorFaults(solo, ['no-usage']);
      try {
        const outcome = await ask(soloModel, 7, stream);
        expect(outcome.failure).toBeUndefined();
        expect(outcome.finished).toBe(true);
        await settled();
        checkBill((await usageById()).get(outcome.requestId), {
          outcome: 'complete',
          usage_source: 'gateway_count',
          output_tokens: 7,
        });
      } finally {
        await setSimulatorFaults(solo, []);
      }
    },
  );

  it('slow (ten times slower) but within the timeouts: complete, billed in full', async () => {
    await setSimulatorFaults(solo, ['slow']);
    try {
      const outcome = await ask(soloModel, 8, true);
      expect(outcome.failure).toBeUndefined();
      expect(outcome.tokens).toBe(8);
      await settled();
      checkBill((await usageById()).get(outcome.requestId), {
        outcome: 'complete',
        usage_source: 'provider',
        output_tokens: 8,
      });
    } finally {
      await setSimulatorFaults(solo, []);
    }
  });

  it('a drip within the body-idle timeout is relayed to its end and billed in full', async () => {
    const outcome = await ask(dripModel, 5, true);
    expect(outcome.failure).toBeUndefined();
    expect(outcome.tokens).toBe(5);
    await settled();
    checkBill((await usageById()).get(outcome.requestId), {
      outcome: 'complete',
      output_tokens: 5,
    });
  });

  it('a drip slower than the body-idle timeout is cut there: an error event, and no output billed', async () => {
    // Ten times slower: the opening chunk comes at once, then a token every 2.5 s, past the 1 s
    // body-idle timeout; the stream had started, so the client gets an error event, and as no
    // token was delivered nothing is billed.
    await setSimulatorFaults(drip, ['slow']);
    try {
      const startedAtMs = Date.now();
      const outcome = await ask(dripModel, 20, true);
      expect(outcome.failure).toBeInstanceOf(APIError);
      expect(outcome.finished).toBe(false);
      // Cut by the gateway's idle timeout, long before the 50 s the drip would take.
      expect(Date.now() - startedAtMs).toBeLessThan(15_000);
      await settled();
      expect(outcome.tokens).toBe(0);
      expect((outcome.failure as APIError).message).toContain('ended before it was complete');
      checkBill((await usageById()).get(outcome.requestId), {
        outcome: 'upstream_error',
        output_tokens: null,
        cost: '0.00',
      });
      // The backend was told to stop: nothing keeps generating for nobody.
      let stats = await readSimulatorStats(drip);
      for (let poll = 0; poll < 200 && stats.running > 0; poll += 1) {
        stats = await readSimulatorStats(drip);
      }
      expect(stats.running).toBe(0);
    } finally {
      await setSimulatorFaults(drip, []);
    }
  });
});
