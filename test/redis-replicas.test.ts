/**
 * Three real `tokenbank serve` replicas on one store and one private redis-server, as an operator
 * scales out (issue 7): a key's rpm holds across the replicas, not per replica; an admin change
 * made on one replica (a revoked key, a new price, a new backend) is seen by the others within a
 * second, though their caches would keep the old state for a minute; each replica's router sees
 * the others' requests in flight per backend; a top-up reference runs on one replica at a time.
 * Last, Redis is stopped in the middle of steady traffic: every request still succeeds (limits
 * and load sharing fall back to each replica's own, which the metrics say), the money stays
 * exact, and once Redis is back the replicas share their counters again.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTenantWithKey,
  expectOk,
  type HttpCaller,
  httpCaller,
  priceModels,
  registerProvider,
  stringField,
  topUp,
} from './support/demo-pool.ts';
import { micro, sum } from './support/money-reading.ts';
import { pollUntil } from './support/poll-until.ts';
import { openPostgresReplicaStore } from './support/postgres-replica-store.ts';
import { type RedisServerProcess, startRedisServer } from './support/redis-server-process.ts';
import { type ReplicaStore, startReplicas } from './support/replica-store.ts';
import type { GatewayProcess } from './support/spawn-gateway.ts';
import { type SimulatorProcess, startSimulatorProcess } from './support/spawn-simulator.ts';
import { moneyOf, tenantReader } from './support/tenant-money.ts';

const adminToken = `tba-${'r'.repeat(32)}`;
const prefix = 'replicas-test:';
const fastModel = 'rep-fast';
const slowModel = 'rep-slow';
const newModel = 'rep-new';

let redis: RedisServerProcess;
let store: ReplicaStore;
let replicas: GatewayProcess[];
let calls: HttpCaller[];
let fast: SimulatorProcess;
let slow: SimulatorProcess;
let spare: SimulatorProcess;
let providerToken: string;
let slowBackendId: string;
let inspector: Redis;

function replicaCall(index: number): HttpCaller {
  const call = calls[index % calls.length];
  if (call === undefined) {
    throw new Error('no replicas');
  }
  return call;
}

function replicaUrl(index: number): string {
  return replicas[index % replicas.length]?.url ?? '';
}

type Completion = { status: number; code: string | undefined; cost: string | undefined };

/** One small chat completion through replica `index`. */
async function complete(
  index: number,
  apiKey: string,
  model = fastModel,
  maxTokens = 5,
): Promise<Completion> {
  const response = await fetch(`${replicaUrl(index)}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      model,
      messages: [{ role: 'user', content: 'Say hello to the replicas.' }],
      max_tokens: maxTokens,
    }),
    signal: AbortSignal.timeout(30_000),
  });
  const body = (await response.json()) as { error?: { code?: string } };
  return {
    status: response.status,
    code: body.error?.code,
    cost: response.headers.get('x-tokenbank-cost') ?? undefined,
  };
}

/** A value of the replica's Prometheus page, by the series' full name with its labels. */
async function metricValue(index: number, series: string): Promise<number | undefined> {
  const text = await (await fetch(`${replicaUrl(index)}/metrics`)).text();
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

beforeAll(async () => {
  [redis, store, fast, slow, spare] = await Promise.all([
    startRedisServer(),
    openPostgresReplicaStore(),
    startSimulatorProcess([
      '--models',
      fastModel,
      '--slots',
      '64',
      '--decode-tps',
      '20000',
      '--prefill-tps',
      '1000000',
    ]),
    startSimulatorProcess(['--models', slowModel, '--slots', '16', '--decode-tps', '20']),
    startSimulatorProcess([
      '--models',
      newModel,
      '--decode-tps',
      '20000',
      '--prefill-tps',
      '1000000',
    ]),
  ]);
  replicas = await startReplicas(3, store, {
    adminToken,
    environment: {
      TOKENBANK_ALLOW_PRIVATE_BACKENDS: '1',
      TOKENBANK_REDIS_URL: redis.url,
      TOKENBANK_REDIS_PREFIX: prefix,
      // Caches that would hold a stale catalog for a minute: only the change bus can be quicker.
      TOKENBANK_LIMITS: JSON.stringify({
        credentialCacheTtlMs: 60_000,
        catalogRefreshMs: 60_000,
        gatewayReplicaCount: 3,
        sharedStateRetryMs: 200,
        redisReconnectDelayMsMax: 100,
        heartbeatIntervalMs: 200,
        redisCommandTimeoutMs: 2_000,
      }),
    },
  });
  calls = replicas.map((replica) => httpCaller(replica.url));
  inspector = new Redis(redis.url, {
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    lazyConnect: true,
  });
  inspector.on('error', () => {});
  await inspector.connect();
  const registered = await registerProvider(replicaCall(0), adminToken, [
    { url: fast.url, region: 'east', models: [fastModel], slots: 64 },
    { url: slow.url, region: 'east', models: [slowModel], slots: 16 },
  ]);
  providerToken = registered.providerToken;
  slowBackendId = registered.backendIds[1] ?? '';
  await priceModels(replicaCall(0), adminToken, [fastModel, slowModel], {
    input: '1.00',
    output: '2.00',
  });
  // The backends and prices reach the other replicas through the change bus.
  for (const index of [1, 2]) {
    const tenant = await createTenantWithKey(replicaCall(0), adminToken, { name: 'probe' });
    await topUp(replicaCall(0), adminToken, tenant.tenantId, '1.00');
    await pollUntil(
      async () => (await complete(index, tenant.apiKey)).status === 200,
      `replica ${index} to serve ${fastModel}`,
    );
  }
});

afterAll(async () => {
  inspector?.disconnect();
  await Promise.all([...(replicas ?? []).map((replica) => replica.stop())]);
  await Promise.all([fast?.stop(), slow?.stop(), spare?.stop(), redis?.stop()]);
  await store?.close();
});

describe('three replicas sharing Redis', () => {
  it("holds a key to its rpm across the replicas, within one window's refill", async () => {
    const requestsPerMinute = 30;
    const tenant = await createTenantWithKey(
      replicaCall(0),
      adminToken,
      { name: 'limited' },
      {
        rpm: requestsPerMinute,
      },
    );
    await topUp(replicaCall(0), adminToken, tenant.tenantId, '5.00');
    const startedAtMs = Date.now();
    // Twice the limit, round-robin: each replica alone would admit 20 of them.
    const results = await Promise.all(
      Array.from({ length: 2 * requestsPerMinute }, (_, index) => complete(index, tenant.apiKey)),
    );
    const elapsedMs = Date.now() - startedAtMs;
    const admitted = results.filter((result) => result.status === 200).length;
    const refilled = Math.ceil((elapsedMs * requestsPerMinute) / 60_000);
    expect(admitted).toBeGreaterThanOrEqual(requestsPerMinute);
    expect(admitted).toBeLessThanOrEqual(requestsPerMinute + refilled);
    for (const result of results.filter((each) => each.status !== 200)) {
      expect(result).toMatchObject({ status: 429, code: 'rate_limit_exceeded' });
    }
    // The window lives in Redis, under the deployment's prefix.
    expect(await inspector.exists(`${prefix}bucket:rpm:${tenant.keyId}`)).toBe(1);
  });

  it('refuses a key revoked on one replica on the others within a second', async () => {
    const tenant = await createTenantWithKey(replicaCall(0), adminToken, { name: 'revoked' });
    const models = (index: number) =>
      fetch(`${replicaUrl(index)}/v1/models`, {
        headers: { authorization: `Bearer ${tenant.apiKey}` },
      }).then((response) => response.status);
    // Cached as valid on every replica for the next minute.
    expect(await Promise.all([0, 1, 2].map(models))).toEqual([200, 200, 200]);
    await expectOk(replicaCall(0), 'DELETE', `/admin/v1/keys/${tenant.keyId}`, adminToken);
    const revokedAtMs = Date.now();
    await pollUntil(
      async () => (await models(1)) === 401 && (await models(2)) === 401,
      'the revocation on the other replicas',
      1_000,
      10,
    );
    expect(Date.now() - revokedAtMs).toBeLessThan(1_000);
  });

  it('prices with a price published on one replica on the others within a second', async () => {
    const tenant = await createTenantWithKey(replicaCall(0), adminToken, { name: 'repriced' });
    await topUp(replicaCall(0), adminToken, tenant.tenantId, '20.00');
    const before = await complete(1, tenant.apiKey);
    expect(before.status).toBe(200);
    await expectOk(replicaCall(0), 'PUT', `/admin/v1/prices/${fastModel}`, adminToken, {
      input: '1000.00',
      output: '2000.00',
    });
    const publishedAtMs = Date.now();
    const costBefore = micro(before.cost ?? '0');
    await pollUntil(
      async () => {
        const [onSecond, onThird] = await Promise.all([
          complete(1, tenant.apiKey),
          complete(2, tenant.apiKey),
        ]);
        return (
          micro(onSecond.cost ?? '0') >= costBefore * 500n &&
          micro(onThird.cost ?? '0') >= costBefore * 500n
        );
      },
      'the new price on the other replicas',
      1_000,
      10,
    );
    expect(Date.now() - publishedAtMs).toBeLessThan(1_000);
    await priceModels(replicaCall(0), adminToken, [fastModel], { input: '1.00', output: '2.00' });
  });

  it('routes to a backend registered on one replica from the others within a second', async () => {
    const tenant = await createTenantWithKey(replicaCall(0), adminToken, { name: 'new-model' });
    await topUp(replicaCall(0), adminToken, tenant.tenantId, '5.00');
    await priceModels(replicaCall(0), adminToken, [newModel]);
    expect(await complete(2, tenant.apiKey, newModel)).toMatchObject({ status: 404 });
    await expectOk(replicaCall(0), 'POST', '/provider/v1/backends', providerToken, {
      url: spare.url,
      region: 'east',
      models: [newModel],
    });
    const registeredAtMs = Date.now();
    await pollUntil(
      async () =>
        (await complete(1, tenant.apiKey, newModel)).status === 200 &&
        (await complete(2, tenant.apiKey, newModel)).status === 200,
      'the new backend on the other replicas',
      1_000,
      10,
    );
    expect(Date.now() - registeredAtMs).toBeLessThan(1_000);
  });

  it("shows each replica the others' requests in flight on a backend", async () => {
    const tenant = await createTenantWithKey(replicaCall(0), adminToken, { name: 'streams' });
    await topUp(replicaCall(0), adminToken, tenant.tenantId, '5.00');
    // Four answers of 60 tokens at 20 tokens a second: three seconds in flight on replica 0.
    const inFlight = Array.from({ length: 4 }, () => complete(0, tenant.apiKey, slowModel, 60));
    const peersInFlight = async (index: number) => {
      const listing = await expectOk(replicaCall(index), 'GET', '/admin/v1/backends', adminToken);
      const backends = listing.data as {
        id: string;
        routing: { peers_in_flight: number } | null;
      }[];
      return backends.find((backend) => backend.id === slowBackendId)?.routing?.peers_in_flight;
    };
    await pollUntil(
      async () => (await peersInFlight(1)) === 4 && (await peersInFlight(2)) === 4,
      'the other replicas to see the four requests',
      2_500,
    );
    expect(await peersInFlight(0)).toBe(0);
    expect((await Promise.all(inFlight)).map((result) => result.status)).toEqual([
      200, 200, 200, 200,
    ]);
    await pollUntil(async () => (await peersInFlight(1)) === 0, 'the count to drop back', 2_000);
  });

  it('runs a top-up reference on one replica at a time, and credits it once', async () => {
    const tenant = await createTenantWithKey(replicaCall(0), adminToken, { name: 'topups' });
    const reader = tenantReader(() => replicaCall(0), adminToken, tenant.tenantId);
    const body = { amount: '3.00', reference: 'wire-2026-0001' };
    const answers = await Promise.all(
      Array.from({ length: 6 }, (_, index) =>
        replicaCall(index)('POST', `/admin/v1/tenants/${tenant.tenantId}/topups`, adminToken, body),
      ),
    );
    const statuses = answers.map((answer) => answer.status);
    expect(statuses.filter((status) => status === 201)).toHaveLength(1);
    for (const answer of answers.filter((each) => each.status === 409)) {
      expect(answer.body).toMatchObject({ error: { code: 'operation_in_progress' } });
    }
    expect(statuses.every((status) => [200, 201, 409].includes(status))).toBe(true);
    expect((await reader.view()).balance).toBe('3.00');

    // While another replica holds the reference, the answer is "in progress: retry".
    const lockKey = `${prefix}lock:topup:${tenant.tenantId}:wire-2026-0002`;
    await inspector.set(lockKey, 'another-replica', 'PX', 10_000);
    const busy = await fetch(`${replicaUrl(1)}/admin/v1/tenants/${tenant.tenantId}/topups`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ amount: '1.00', reference: 'wire-2026-0002' }),
    });
    expect(busy.status).toBe(409);
    expect(busy.headers.get('x-should-retry')).toBe('true');
    await inspector.del(lockKey);
    await topUp(replicaCall(1), adminToken, tenant.tenantId, '1.00', 'wire-2026-0002');
    expect((await reader.view()).balance).toBe('4.00');
  });

  it('keeps serving with exact money while Redis is down, and shares again once it is back', async () => {
    const tenant = await createTenantWithKey(
      replicaCall(0),
      adminToken,
      { name: 'outage' },
      {
        rpm: 100_000,
      },
    );
    await topUp(replicaCall(0), adminToken, tenant.tenantId, '50.00');
    const reader = tenantReader(() => replicaCall(0), adminToken, tenant.tenantId);
    const moneyBefore = moneyOf(await reader.view());
    const bucketKey = `${prefix}bucket:rpm:${tenant.keyId}`;

    // Three workers, one per replica, send requests one after another until told to stop.
    let sending = true;
    const results: Completion[] = [];
    const workers = [0, 1, 2].map(async (index) => {
      while (sending) {
        results.push(await complete(index, tenant.apiKey));
      }
    });
    const sentAtLeast = (count: number) =>
      pollUntil(() => results.length >= count, `${count} requests`, 30_000);

    await sentAtLeast(30);
    expect(await inspector.exists(bucketKey)).toBe(1);
    await redis.stop();
    const sentBeforeOutage = results.length;
    await sentAtLeast(sentBeforeOutage + 60);
    for (const index of [0, 1, 2]) {
      await pollUntil(
        async () =>
          (await metricValue(index, 'tokenbank_shared_state_degraded{part="counters"}')) === 1,
        `replica ${index} to say its counters are local`,
      );
    }

    await redis.start();
    await inspector.connect().catch(() => {});
    await pollUntil(() => inspector.status === 'ready', 'the inspector to reconnect');
    // Redis came back empty: the bucket reappears once the replicas take from it again.
    await pollUntil(
      async () => (await inspector.exists(bucketKey)) === 1,
      'the shared bucket',
      10_000,
    );
    for (const index of [0, 1, 2]) {
      await pollUntil(
        async () =>
          (await metricValue(index, 'tokenbank_shared_state_degraded{part="counters"}')) === 0,
        `replica ${index} to share its counters again`,
      );
    }
    const sentAfterRecovery = results.length;
    await sentAtLeast(sentAfterRecovery + 30);
    sending = false;
    await Promise.all(workers);

    expect(results.filter((result) => result.status !== 200)).toEqual([]);
    const after = await reader.settled();
    expect(
      await expectOk(replicaCall(1), 'GET', '/admin/v1/ledger/check', adminToken),
    ).toMatchObject({
      ok: true,
      problems: [],
    });
    const usage = await reader.usageById();
    expect(usage.size).toBe(results.length);
    const charged = sum([...usage.values()].map((record) => micro(record.cost)));
    expect(charged).toBe(sum(results.map((result) => micro(result.cost ?? '0'))));
    expect(moneyBefore - moneyOf(after)).toBe(charged);
    expect(
      stringField(
        await expectOk(replicaCall(2), 'GET', `/admin/v1/tenants/${tenant.tenantId}`, adminToken),
        'holds',
      ),
    ).toBe('0.00');
  });
});
