/**
 * A replica killed with -9 under load, on a shared PostgreSQL: three `tokenbank serve` on one
 * database, streams cut mid-way on the replica that leads the background jobs, while the other
 * two keep serving requests. The dead replica's session lock goes with it, one survivor is
 * elected, and its sweeper settles every hold the dead replica left from that request's last
 * usage checkpoint: no hold survives, each cut stream has exactly one `gateway_crash` record
 * billed from its checkpoint (never more than it reserved), the survivors served every request
 * sent to them, the tenant's money moved by exactly what the records say, and the ledger checks
 * out. Modelled on crash-recovery (its pool and stream fixtures are shared).
 */
import type OpenAI from 'openai';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PinnedPrice, tokenCost } from '../src/billing/cost.ts';
import { startCrashPool } from './support/crash-pool.ts';
import { expectOk, httpCaller } from './support/demo-pool.ts';
import { micro, sum } from './support/money-reading.ts';
import { gatewayClient } from './support/openai-client.ts';
import { pollUntil } from './support/poll-until.ts';
import { openPostgresReplicaStore } from './support/postgres-replica-store.ts';
import type { ReplicaStore } from './support/replica-store.ts';
import { type GatewayProcess, startGatewayProcess } from './support/spawn-gateway.ts';
import type { SimulatorProcess } from './support/spawn-simulator.ts';
import { moneyOf, tenantReader } from './support/tenant-money.ts';
import { createStreamWatcher } from './support/watched-streams.ts';

const adminToken = `tba-${'x'.repeat(32)}`;
const slowModel = 'replica-slow';
const fastModel = 'replica-fast';
const outputTokensMax = 200;
const prompt = 'Tell a long story about a computing power bank with many replicas.';
const streamCount = 4;
const tokensBeforeKill = 3;
/** Requests each survivor serves, one after another, while the crash happens. */
const survivorRequestCount = 24;

/** Short sweeper timings; every chunk is checkpointed before it is relayed. */
const environment = {
  TOKENBANK_ALLOW_PRIVATE_BACKENDS: '1',
  TOKENBANK_LIMITS: JSON.stringify({
    ownerSilentMs: 1_500,
    sweepIntervalMs: 200,
    heartbeatIntervalMs: 200,
    checkpointEventCount: 1,
    checkpointIntervalMs: 250,
    gatewayReplicaCount: 3,
  }),
};

let store: ReplicaStore;
let replicas: GatewayProcess[] = [];
let simulators: SimulatorProcess[] = [];
let tenantId: string;
let apiKey: string;

function clientOf(replica: GatewayProcess): OpenAI {
  return gatewayClient({ baseURL: `${replica.url}/v1`, apiKey: apiKey, timeoutMs: 30_000 });
}

/** Whether each replica says, on /metrics, that it runs the elected jobs. */
async function leadersOf(running: readonly GatewayProcess[]): Promise<boolean[]> {
  return Promise.all(
    running.map(async (replica) => {
      const text = await (await fetch(`${replica.url}/metrics`)).text();
      return /^tokenbank_background_jobs_leader 1$/m.test(text);
    }),
  );
}

/** The checkpoint and price of each request, as the shared store kept them. */
async function reservationsOf(requestIds: readonly string[]) {
  const client = new pg.Client({ connectionString: store.database });
  await client.connect();
  try {
    const result = await client.query(
      `SELECT r.request_id, r.status, r.reserved_amount, r.multiplier_bps,
         r.checkpoint_input_tokens, r.checkpoint_output_tokens, r.price_id,
         p.input_per_million, p.cached_input_per_million, p.output_per_million
       FROM reservations r JOIN prices p ON p.id = r.price_id WHERE r.request_id = ANY($1)`,
      [requestIds],
    );
    return new Map(
      (result.rows as Record<string, string | number | null>[]).map((row) => {
        const price: PinnedPrice = {
          priceId: String(row.price_id),
          inputPerMillion: BigInt(String(row.input_per_million)),
          cachedInputPerMillion: BigInt(String(row.cached_input_per_million)),
          outputPerMillion: BigInt(String(row.output_per_million)),
          multiplierBps: Number(row.multiplier_bps),
        };
        return [
          String(row.request_id),
          {
            status: String(row.status),
            reservedMicro: BigInt(String(row.reserved_amount)),
            checkpointInputTokens: row.checkpoint_input_tokens as number | null,
            checkpointOutputTokens: row.checkpoint_output_tokens as number | null,
            price,
          },
        ];
      }),
    );
  } finally {
    await client.end();
  }
}

/** One survivor's steady traffic: fast requests one after another, streamed and not. */
async function serveSteadily(replica: GatewayProcess, killed: Promise<void>) {
  const client = clientOf(replica);
  const outcome = {
    served: 0,
    servedAfterKill: 0,
    failures: [] as string[],
    requestIds: [] as string[],
  };
  let killedYet = false;
  void killed.then(() => {
    killedYet = true;
  });
  for (let index = 0; index < survivorRequestCount; index += 1) {
    const messages = [{ role: 'user' as const, content: `${prompt} (${index})` }];
    try {
      if (index % 2 === 0) {
        const { data, response } = await client.chat.completions
          .create({ model: fastModel, messages, max_tokens: 5 + index })
          .withResponse();
        expect(data.usage?.completion_tokens).toBe(5 + index);
        outcome.requestIds.push(response.headers.get('x-request-id') ?? '');
      } else {
        const { data, response } = await client.chat.completions
          .create({ model: fastModel, messages, max_tokens: 5 + index, stream: true })
          .withResponse();
        let tokens = 0;
        for await (const chunk of data) {
          tokens += chunk.choices[0]?.delta.content ? 1 : 0;
        }
        expect(tokens).toBe(5 + index);
        outcome.requestIds.push(response.headers.get('x-request-id') ?? '');
      }
      outcome.served += 1;
      outcome.servedAfterKill += killedYet ? 1 : 0;
    } catch (error) {
      outcome.failures.push(error instanceof Error ? error.message : String(error));
    }
    // Past the kill, a few more requests prove the survivor serves on; then it may stop early.
    if (killedYet && outcome.servedAfterKill >= 4 && index >= survivorRequestCount / 2) {
      break;
    }
  }
  return outcome;
}

beforeAll(async () => {
  store = await openPostgresReplicaStore();
  const pool = await startCrashPool({
    adminToken,
    models: { slow: slowModel, fast: fastModel },
    slowSlots: 16,
    slowDecodeTokensPerSecond: 40,
    gatewayEnvironment: environment,
    databasePath: store.database,
    tenantName: 'replica-crash',
    coupon: { amount: '0.05', reference: 'replica-crash-coupon' },
    prepaid: '10',
  });
  simulators = [pool.slow, pool.fast];
  tenantId = pool.tenantId;
  apiKey = pool.apiKey;
  // The first replica seeded the catalog and leads; two more start on the same store.
  const others = await Promise.all(
    [1, 2].map(() =>
      startGatewayProcess({
        adminToken,
        databasePath: store.database,
        environment,
      }),
    ),
  );
  replicas = [pool.gateway, ...others];
}, 120_000);

afterAll(async () => {
  await Promise.all([
    ...replicas.map((replica) => replica.stop()),
    ...simulators.map((simulator) => simulator.stop()),
  ]);
  await store?.close();
});

describe('a replica killed with -9 on a shared PostgreSQL', () => {
  it('leaves the others serving, and its holds are settled by the newly elected sweeper', async () => {
    const leaders = await pollUntil(async () => {
      const seen = await leadersOf(replicas);
      return seen.filter(Boolean).length === 1 ? seen : undefined;
    }, 'exactly one leader among three replicas');
    const victim = replicas[leaders.indexOf(true)] as GatewayProcess;
    const survivors = replicas.filter((replica) => replica !== victim);
    const survivorCall = httpCaller(survivors[0]?.url ?? '');
    const reader = tenantReader(() => survivorCall, adminToken, tenantId);
    const moneyAtStart = moneyOf(await reader.view());

    // Long streams through the leader; steady traffic through the survivors meanwhile.
    const victimClient = clientOf(victim);
    const watcher = createStreamWatcher({
      client: () => victimClient,
      model: slowModel,
      prompt,
      outputTokensMax,
    });
    let announceKill: () => void = () => undefined;
    const killed = new Promise<void>((resolve) => {
      announceKill = resolve;
    });
    const steady = survivors.map((survivor) => serveSteadily(survivor, killed));
    const streams = Array.from({ length: streamCount }, (_, index) =>
      watcher.watchStream(index % 2 === 1),
    );
    await watcher.waitForProgress(
      () =>
        streams.every((stream) => stream.tokens >= tokensBeforeKill) ||
        streams.some((stream) => stream.failure !== undefined || stream.finished),
      `${streamCount} streams to reach ${tokensBeforeKill} tokens`,
    );
    // What the store holds before the kill stays, whatever the kill loses in flight.
    const committedBeforeKill = await pollUntil(
      async () => {
        const ids = streams.map((stream) => stream.requestId);
        if (!ids.every((id): id is string => id !== undefined)) {
          return undefined;
        }
        const held = await reservationsOf(ids);
        const outputs = ids.map((id) => held.get(id)?.checkpointOutputTokens ?? 0);
        return outputs.every((output) => output >= tokensBeforeKill) ? outputs : undefined;
      },
      `a checkpoint of ${tokensBeforeKill} tokens stored for each stream`,
      20_000,
    );
    const tokensAtKill = streams.map((stream) => stream.tokens);
    await victim.kill();
    announceKill();
    await Promise.all(streams.map((stream) => stream.done));
    for (const [index, stream] of streams.entries()) {
      expect(stream.finished, `stream ${index}`).toBe(false);
      expect(stream.failure, `stream ${index}`).toBeInstanceOf(Error);
      expect(stream.requestId, `stream ${index}`).toMatch(/^req_/);
      expect(tokensAtKill[index]).toBeGreaterThanOrEqual(tokensBeforeKill);
    }
    const crashedIds = streams.map((stream) => stream.requestId as string);

    // The survivors served everything sent to them, before and after the kill.
    const served = await Promise.all(steady);
    for (const outcome of served) {
      expect(outcome.failures).toEqual([]);
      expect(outcome.servedAfterKill).toBeGreaterThan(0);
    }

    // One survivor takes the lease; its sweeper ends the dead replica's holds.
    await pollUntil(
      async () => {
        const seen = await leadersOf(survivors);
        return seen.filter(Boolean).length === 1 ? seen : undefined;
      },
      'one survivor to lead the background jobs',
      20_000,
    );
    const after = await reader.settled(20_000);
    const reservations = await reservationsOf(crashedIds);
    const usage = await reader.usageById();
    for (const [index, id] of crashedIds.entries()) {
      const reservation = reservations.get(id);
      const record = usage.get(id);
      expect(reservation?.status, id).toBe('settled');
      expect(record, id).toBeDefined();
      if (!reservation || !record) {
        continue;
      }
      const checkpointInput = reservation.checkpointInputTokens ?? 0;
      const checkpointOutput = reservation.checkpointOutputTokens ?? 0;
      expect(reservation.checkpointInputTokens).not.toBeNull();
      expect(record).toMatchObject({
        outcome: 'gateway_crash',
        usage_source: 'estimate',
        input_tokens: checkpointInput,
        output_tokens: checkpointOutput,
      });
      const cost = micro(record.cost);
      expect(cost).toBe(
        tokenCost(
          { inputTokens: checkpointInput, cachedInputTokens: 0, outputTokens: checkpointOutput },
          reservation.price,
        ),
      );
      expect(cost).toBeLessThanOrEqual(reservation.reservedMicro);
      // Every chunk is checkpointed as it is relayed, the write going to PostgreSQL beside the
      // relay: the kill may lose the checkpoints still in flight (how many depends on how busy
      // the machine is, not on the gateway), never one the store had before the kill, and never
      // bills more than was sent but the one chunk a stream was relaying at the instant of it.
      expect(checkpointOutput).toBeGreaterThanOrEqual(committedBeforeKill[index] ?? 0);
      expect(checkpointOutput).toBeLessThanOrEqual((streams[index]?.tokens ?? 0) + 1);
      expect(sum(record.paid_by.map((paid) => micro(paid.amount)))).toBe(cost);
    }

    // Every request has its one record, and the money moved by exactly what they cost.
    const sentIds = [...crashedIds, ...served.flatMap((outcome) => outcome.requestIds)];
    expect(new Set(usage.keys())).toEqual(new Set(sentIds));
    const total = sum([...usage.values()].map((record) => micro(record.cost)));
    expect(moneyAtStart - moneyOf(after)).toBe(total);
    for (const survivor of survivors) {
      const check = await expectOk(
        httpCaller(survivor.url),
        'GET',
        '/admin/v1/ledger/check',
        adminToken,
      );
      expect(check).toMatchObject({ ok: true, problems: [] });
    }
  }, 120_000);
});
