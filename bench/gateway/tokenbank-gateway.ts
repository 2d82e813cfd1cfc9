/**
 * tokenbank as the bench runs it: the real CLI (`node bin/tokenbank.mjs serve`), one process per
 * replica on one store, seeded over its admin and provider APIs the way an operator would. Every
 * feature stays on (auth, reserve, route, relay, usage tap, settle, ledger, request log); only
 * limits that would throttle the bench are raised, through TOKENBANK_LIMITS, and the tenant gets
 * a balance and a voucher so large that billing runs in full but never refuses.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ChildServer, startChildServer } from './child-server.ts';
import { forcedCollectionPreloadPath, heapUsedAfterCollection } from './forced-collection.ts';
import { readProcessRssBytes } from './process-usage.ts';

export type StoreKind = 'sqlite' | 'postgres';

export type TokenbankOptions = {
  replicaCount: number;
  store: StoreKind;
  /** The database of a PostgreSQL run. */
  postgresUrl: string | undefined;
  /** The Redis the replicas share, when there is one. */
  redisUrl: string | undefined;
  workDirectory: string;
  mockFastUrl: string;
  mockSlowUrl: string;
  /** When set, every replica writes a V8 CPU profile here on exit. */
  cpuProfileDirectory: string | undefined;
  /** When set, every forced collection also writes a heap snapshot of the replica here. */
  heapSnapshotDirectory: string | undefined;
};

export type TokenbankDeployment = {
  servers: ChildServer[];
  apiKey: string;
  /** Served by the fast mock. */
  model: string;
  /** Served by the slow-stream mock, for the memory part. */
  slowModel: string;
  limits: Readonly<Record<string, number>>;
  /** RSS of the largest replica once started and seeded, before any load. */
  startRssBytes: number;
  /** The largest replica's heap used after a forced full collection in each replica. */
  heapUsedAfterCollection(): Promise<number>;
  stop(): Promise<void>;
};

const projectRoot = fileURLToPath(new URL('../..', import.meta.url));
const region = 'bench';
const model = 'bench-model';
const slowModel = 'bench-model-slow';
/** Backend slots, far above the 1,000 streams held at once; full only at twice this. */
const backendSlots = 4096;
/** 100 million CNY: a few CNY of charges over the whole bench never run it down. */
const topUpAmount = '100000000.00';
const couponAmount = '100000000.00';
const startTimeoutMs = 60_000;
/** A replica finishes its requests and settles before exiting; none are in flight by then. */
const stopTimeoutMs = 20_000;
const adminCallTimeoutMs = 15_000;

function limitsFor(replicaCount: number): Record<string, number> {
  return {
    // The memory part holds 1,000 streams through one backend; 64 connections would queue them.
    upstreamConnectionsPerBackend: 2048,
    // 1,000 streams on one key, above the default 1,024 with room to spare.
    streamsPerKeyMax: 100_000,
    inFlightRequestsMax: 100_000,
    gatewayReplicaCount: replicaCount,
  };
}

type AdminCall = (method: string, path: string, token: string, body?: unknown) => Promise<unknown>;

function adminCaller(baseUrl: string): AdminCall {
  return async (method, path, token, body) => {
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(adminCallTimeoutMs),
    });
    const text = await response.text();
    if (response.status >= 300) {
      throw new Error(`tokenbank setup: ${method} ${path} answered ${response.status}: ${text}`);
    }
    return JSON.parse(text) as unknown;
  };
}

function field(body: unknown, name: string): string {
  const value = (body as Record<string, unknown> | null)?.[name];
  if (typeof value !== 'string') {
    throw new Error(`tokenbank setup: no '${name}' in ${JSON.stringify(body)}`);
  }
  return value;
}

/** A provider with the two mock backends, their prices, a tenant, its key and its money. */
async function seed(baseUrl: string, adminToken: string, options: TokenbankOptions) {
  const call = adminCaller(baseUrl);
  const provider = await call('POST', '/admin/v1/providers', adminToken, {
    name: 'bench provider',
    payout_bps: 8000,
  });
  const providerToken = field(provider, 'token');
  for (const [url, served] of [
    [options.mockFastUrl, model],
    [options.mockSlowUrl, slowModel],
  ] as const) {
    await call('POST', '/provider/v1/backends', providerToken, {
      url: `${url}/v1`,
      region,
      models: [served],
      slots: backendSlots,
    });
    await call('PUT', `/admin/v1/prices/${served}`, adminToken, { input: '1.00', output: '2.00' });
  }
  const tenant = await call('POST', '/admin/v1/tenants', adminToken, {
    name: 'bench tenant',
    home_region: region,
  });
  const tenantId = field(tenant, 'id');
  const key = await call('POST', `/admin/v1/tenants/${tenantId}/keys`, adminToken, {
    name: 'bench',
  });
  await call('POST', `/admin/v1/tenants/${tenantId}/topups`, adminToken, {
    amount: topUpAmount,
    reference: 'bench-topup',
  });
  // A voucher paying half of each charge, as in the demo: every settle runs the coupon waterfall.
  await call('POST', `/admin/v1/tenants/${tenantId}/coupons`, adminToken, {
    kind: 'compute',
    amount: couponAmount,
    coverage_bps: 5000,
    program: 'bench-voucher',
    reference: 'bench-voucher',
  });
  return field(key, 'key');
}

function storeLocation(options: TokenbankOptions): string {
  if (options.store === 'sqlite') {
    return join(options.workDirectory, 'tokenbank.db');
  }
  if (options.postgresUrl === undefined || options.postgresUrl === '') {
    throw new Error('--store postgres started no PostgreSQL');
  }
  return options.postgresUrl;
}

export async function startTokenbank(options: TokenbankOptions): Promise<TokenbankDeployment> {
  const adminToken = `tba-${randomBytes(20).toString('hex')}`;
  const limits = limitsFor(options.replicaCount);
  const database = storeLocation(options);
  const environment = {
    TOKENBANK_ADMIN_TOKEN: adminToken,
    TOKENBANK_ALLOW_PRIVATE_BACKENDS: '1',
    TOKENBANK_AUTO_APPROVE_BACKENDS: '1',
    TOKENBANK_LOG_LEVEL: 'info',
    TOKENBANK_LIMITS: JSON.stringify(limits),
    ...(options.redisUrl === undefined ? {} : { TOKENBANK_REDIS_URL: options.redisUrl }),
    ...(options.heapSnapshotDirectory === undefined
      ? {}
      : { TOKENBANK_BENCH_HEAP_SNAPSHOT_DIR: options.heapSnapshotDirectory }),
  };
  const reportPath = (index: number) =>
    join(options.workDirectory, `tokenbank-${index + 1}-collection.json`);
  const profileFlags =
    options.cpuProfileDirectory === undefined
      ? []
      : ['--cpu-prof', '--cpu-prof-dir', options.cpuProfileDirectory];
  const servers: ChildServer[] = [];
  const startReplica = async (index: number) => {
    const server = await startChildServer({
      label: `tokenbank replica ${index + 1}`,
      nodeArguments: [
        ...profileFlags,
        '--expose-gc',
        '--import',
        forcedCollectionPreloadPath,
        'bin/tokenbank.mjs',
        'serve',
        '--host',
        '127.0.0.1',
        '--port',
        '0',
        '--db',
        database,
      ],
      environment: { ...environment, TOKENBANK_BENCH_COLLECTION_REPORT: reportPath(index) },
      cwd: projectRoot,
      logPath: join(options.workDirectory, `tokenbank-${index + 1}.log`),
      urlCount: 1,
      startTimeoutMs,
      stopTimeoutMs,
    });
    servers.push(server);
    return server;
  };
  const stop = async () => {
    await Promise.all(servers.map((server) => server.stop()));
  };
  try {
    // The first replica migrates the store and is seeded; the others then load what it holds.
    const first = await startReplica(0);
    const apiKey = await seed(first.urls[0] ?? '', adminToken, options);
    for (let index = 1; index < options.replicaCount; index += 1) {
      await startReplica(index);
    }
    const startRssBytes = Math.max(...servers.map((server) => readProcessRssBytes(server.pid)));
    const collect = async () => {
      const readings = await Promise.all(
        servers.map((server, index) => heapUsedAfterCollection(server.pid, reportPath(index))),
      );
      return Math.max(...readings);
    };
    return {
      servers,
      apiKey,
      model,
      slowModel,
      limits,
      startRssBytes,
      heapUsedAfterCollection: collect,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
