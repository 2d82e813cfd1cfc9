/**
 * Billing under load, through real processes: one `tokenbank serve` on its SQLite file, three
 * `tokenbank sim`, and a tenant whose two coupons and wallet pay for exactly K of 1,000
 * identical requests sent at once with the official OpenAI SDK (streaming and not, chat and
 * legacy completions). Exactly K are admitted whatever the interleaving, the rest get 429
 * insufficient_quota before any backend sees them, nothing is overdrawn, every micro-unit debited
 * is in a usage record, coupons pay before the wallet (in priority order), and the ledger checks
 * out. The burst and its checks are shared with postgres-replicas-stress (support/billing-burst).
 */
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type BurstTenant,
  runBillingBurst,
  seedBurstTenant,
  startBurstSimulators,
} from './support/billing-burst.ts';
import { httpCaller } from './support/demo-pool.ts';
import { type GatewayProcess, startGatewayProcess } from './support/spawn-gateway.ts';
import type { SimulatorProcess } from './support/spawn-simulator.ts';

const adminToken = `tba-${'s'.repeat(32)}`;

let gateway: GatewayProcess;
let simulators: SimulatorProcess[] = [];
let tenant: BurstTenant;

beforeAll(async () => {
  [simulators, gateway] = await Promise.all([
    startBurstSimulators(),
    startGatewayProcess({
      adminToken,
      environment: {
        TOKENBANK_ALLOW_PRIVATE_BACKENDS: '1',
        TOKENBANK_LIMITS: JSON.stringify({ ledgerEntriesMax: 10_000 }),
      },
    }),
  ]);
  tenant = await seedBurstTenant(httpCaller(gateway.url), adminToken, simulators);
});

afterAll(async () => {
  await Promise.all([gateway?.stop(), ...simulators.map((simulator) => simulator.stop())]);
  if (gateway) {
    rmSync(dirname(gateway.databasePath), { recursive: true, force: true });
  }
});

describe('1,000 concurrent requests against money for 150', () => {
  it('admits exactly what the money covers and accounts for every micro-unit', async () => {
    // The checks live in runBillingBurst: this fails should it ever stop making them.
    expect.hasAssertions();
    await runBillingBurst({ gatewayUrls: [gateway.url], adminToken, tenant, simulators });
  });
});
