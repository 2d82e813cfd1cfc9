/**
 * Billing under load on Cloudflare Workers, in real workerd: the gateway Worker with its tenant
 * Durable Objects, three `tokenbank sim` on loopback, and a tenant whose two coupons and wallet
 * pay for exactly K of 1,000 identical requests sent at once with the official OpenAI SDK. The
 * tenant's object serializes reserve and settle, so exactly K are admitted, the rest get 429
 * insufficient_quota, nothing is overdrawn and every micro-unit is accounted for: the burst and
 * its checks are the Node stress suites' own (support/billing-burst.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type BurstTenant,
  runBillingBurst,
  seedBurstTenant,
  startBurstSimulators,
} from './support/billing-burst.ts';
import { httpCaller } from './support/demo-pool.ts';
import type { SimulatorProcess } from './support/spawn-simulator.ts';
import {
  startWorkersRuntime,
  suiteVariables,
  type WorkersRuntime,
} from './support/workers-runtime.ts';

const adminToken = `tba-${'w'.repeat(32)}`;

let runtime: WorkersRuntime | undefined;
let simulators: SimulatorProcess[] = [];
let tenant: BurstTenant;

beforeAll(async () => {
  [simulators, runtime] = await Promise.all([
    startBurstSimulators(),
    startWorkersRuntime({
      ...suiteVariables(adminToken),
      TOKENBANK_LOG_LEVEL: 'warn',
      // The simulators write a whole answer within milliseconds, but the one workerd isolate
      // relaying all 1,000 requests on a shared 2-core machine reads it seconds later: under the
      // default 2 s floor the first-token deadline passes, the stream is retried on another
      // backend, and a simulator serves it a second time (220 served for 150 admitted, each
      // billed once). The burst is about money, not about that deadline.
      TOKENBANK_LIMITS: JSON.stringify({
        ledgerEntriesMax: 10_000,
        firstTokenTimeoutMinMs: 20_000,
      }),
    }),
  ]);
  tenant = await seedBurstTenant(httpCaller(runtime.url), adminToken, simulators);
}, 180_000);

afterAll(async () => {
  await Promise.all([runtime?.close(), ...simulators.map((simulator) => simulator.stop())]);
});

describe('1,000 concurrent requests from one tenant through the Worker, money for 150', () => {
  it('admits exactly what the money covers and accounts for every micro-unit', async () => {
    expect.hasAssertions();
    if (!runtime) {
      throw new Error('the Worker did not start');
    }
    await runBillingBurst({ gatewayUrls: [runtime.url], adminToken, tenant, simulators });
  }, 300_000);
});
