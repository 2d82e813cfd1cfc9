/**
 * Billing under load across replicas: three `tokenbank serve` processes on one PostgreSQL
 * database, three `tokenbank sim`, and the billing burst of billing-stress (support/billing-burst)
 * spread over them: 1,000 requests at once with the official OpenAI SDK, request i to replica
 * i mod 3, against a tenant whose money pays for exactly 150. No replica reads a balance another
 * is changing, so exactly 150 are admitted whichever replicas they land on, nothing is
 * overdrawn, exactly the admitted ones are charged, no hold is left, and every replica's ledger
 * check is clean.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type BurstTenant,
  runBillingBurst,
  seedBurstTenant,
  startBurstSimulators,
} from './support/billing-burst.ts';
import { httpCaller } from './support/demo-pool.ts';
import { openPostgresReplicaStore } from './support/postgres-replica-store.ts';
import type { ReplicaStore } from './support/replica-store.ts';
import { type GatewayProcess, startGatewayProcess } from './support/spawn-gateway.ts';
import type { SimulatorProcess } from './support/spawn-simulator.ts';

const adminToken = `tba-${'r'.repeat(32)}`;
const replicaCount = 3;

let store: ReplicaStore;
let replicas: GatewayProcess[] = [];
let simulators: SimulatorProcess[] = [];
let tenant: BurstTenant;

function startReplica(): Promise<GatewayProcess> {
  return startGatewayProcess({
    adminToken,
    databasePath: store.database,
    environment: {
      TOKENBANK_ALLOW_PRIVATE_BACKENDS: '1',
      TOKENBANK_LIMITS: JSON.stringify({ ledgerEntriesMax: 10_000, gatewayReplicaCount: 3 }),
    },
  });
}

beforeAll(async () => {
  store = await openPostgresReplicaStore();
  const [started, first] = await Promise.all([startBurstSimulators(), startReplica()]);
  simulators = started;
  replicas = [first];
  // Seeded through the first replica; the others start after and load the same catalog.
  tenant = await seedBurstTenant(httpCaller(first.url), adminToken, simulators);
  replicas.push(
    ...(await Promise.all(Array.from({ length: replicaCount - 1 }, () => startReplica()))),
  );
}, 120_000);

afterAll(async () => {
  await Promise.all([
    ...replicas.map((replica) => replica.stop()),
    ...simulators.map((simulator) => simulator.stop()),
  ]);
  await store?.close();
});

describe('1,000 concurrent requests over three replicas on one PostgreSQL, money for 150', () => {
  it('admits exactly what the money covers and accounts for every micro-unit', async () => {
    // The checks live in runBillingBurst: this fails should it ever stop making them.
    expect.hasAssertions();
    await runBillingBurst({
      gatewayUrls: replicas.map((replica) => replica.url),
      adminToken,
      tenant,
      simulators,
    });
  }, 120_000);
});
