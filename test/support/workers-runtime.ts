/**
 * The Worker in real workerd for the suites (test/workers-*.test.ts): bundled by wrangler from
 * the root wrangler.toml exactly as `wrangler deploy` would (once a run, `sharedWorkerBundle`),
 * then run by Miniflare's programmatic API beside a small harness Worker that reaches the
 * tenants' Durable Objects over RPC, the way the gateway Worker does. Node talks to the harness
 * over loopback with JSON in which bigints and undefined are tagged (the codec below runs on both
 * sides). Nothing outside the machine is contacted (CLOUDFLARE_CF_FETCH_ENABLED=false).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { Miniflare } from 'miniflare';
import { inject } from 'vitest';

const run = promisify(execFile);

/** The built console (npm run build:console), served as the Worker's static assets. */
const consoleDirectory = fileURLToPath(new URL('../../dist/console', import.meta.url));

/** The day the harness and the Worker are compiled against (wrangler.toml says the same). */
const compatibilityDate = '2026-04-01';

export const offlineEnvironment = {
  CLOUDFLARE_CF_FETCH_ENABLED: 'false',
  WRANGLER_SEND_METRICS: 'false',
} as const;

export type BundleSize = { uploadKiB: number; gzipKiB: number };

/** Bundles the Worker from wrangler.toml into `outputDirectory`; returns its size as uploaded. */
async function bundleWorker(outputDirectory: string): Promise<BundleSize> {
  const { stdout } = await run(
    'npx',
    ['wrangler', 'deploy', '--dry-run', '--outdir', outputDirectory],
    { env: { ...process.env, ...offlineEnvironment }, timeout: 120_000 },
  );
  const upload = /Total Upload: ([\d.]+) KiB \/ gzip: ([\d.]+) KiB/.exec(stdout);
  if (!upload?.[1] || !upload[2]) {
    throw new Error(`wrangler printed no upload size:\n${stdout}`);
  }
  return { uploadKiB: Number(upload[1]), gzipKiB: Number(upload[2]) };
}

/**
 * The run's one bundle of the Worker, in the folder worker-bundle-global-setup.ts made: bundled
 * by the first caller of the run (staged, then renamed into place, its size written last as the
 * mark that it is whole), reused as it is by the others. The suites run one file at a time, so
 * no two callers bundle at once.
 */
export async function sharedWorkerBundle(): Promise<{ directory: string; size: BundleSize }> {
  const runDirectory = inject('workerBundleRunDirectory');
  const directory = join(runDirectory, 'bundle');
  const sizeFile = join(runDirectory, 'size.json');
  if (!existsSync(sizeFile)) {
    const staging = mkdtempSync(join(runDirectory, 'staging-'));
    const size = await bundleWorker(staging);
    renameSync(staging, directory);
    writeFileSync(sizeFile, JSON.stringify(size));
  }
  return { directory, size: JSON.parse(readFileSync(sizeFile, 'utf8')) as BundleSize };
}

function replaceTagged(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') {
    return { $bigint: value.toString() };
  }
  return value === undefined ? { $undefined: true } : value;
}

function reviveTagged(_key: string, value: unknown): unknown {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    if ('$bigint' in value) {
      return BigInt(String(value.$bigint));
    }
    if ('$undefined' in value) {
      return undefined;
    }
  }
  return value;
}

/**
 * The harness: one POST carries the calls the suite made in one turn of its event loop, each one
 * RPC call on the tenant object named in it, or (target `coordinator`) one call of the
 * coordinator object's ports. They run concurrently, as separate requests would, and each answers on its own.
 */
const harnessScript = `
const replaceTagged = ${replaceTagged.toString()};
const reviveTagged = ${reviveTagged.toString()};
async function answer(call, env) {
  if (call.target === 'rate') {
    const [method, parameters] = call.parameters;
    return env.RATE_LIMITS.get(env.RATE_LIMITS.idFromName(call.object))[method](...parameters);
  }
  if (call.target === 'rateObjectId') {
    return env.RATE_LIMITS.idFromName(call.object).toString();
  }
  if (call.target === 'coordinator') {
    return env.COORDINATOR.get(env.COORDINATOR.idFromName('coordinator')).call(...call.parameters);
  }
  const stub = env.TENANT_LEDGERS.get(env.TENANT_LEDGERS.idFromName(call.object));
  return call.target === 'accounts' ? stub.accounts() : stub[call.target](...call.parameters);
}
export default {
  async fetch(request, env) {
    const calls = JSON.parse(await request.text(), reviveTagged);
    const answers = await Promise.all(calls.map(async (call) => {
      try {
        return { value: await answer(call, env) };
      } catch (error) {
        return { error: String(error && error.stack || error) };
      }
    }));
    return new Response(JSON.stringify(answers, replaceTagged));
  },
};`;

type HarnessAnswer = { value: unknown } | { error: string };

type PendingCall = {
  call: ObjectCall;
  resolve(value: unknown): void;
  reject(error: Error): void;
};

/** Sends one batch of calls to the harness at `url` and settles each call with its answer. */
async function sendBatch(url: URL, batch: readonly PendingCall[]): Promise<void> {
  try {
    const body = JSON.stringify(
      batch.map((entry) => entry.call),
      replaceTagged,
    );
    const response = await fetch(url, { method: 'POST', body });
    const text = await response.text();
    if (response.status !== 200) {
      throw new Error(`the harness failed: ${text}`);
    }
    const answers = JSON.parse(text, reviveTagged) as HarnessAnswer[];
    batch.forEach((entry, index) => {
      const answer = answers[index];
      if (answer === undefined || 'error' in answer) {
        entry.reject(
          new Error(`the ${entry.call.target} call failed in the Worker: ${answer?.error}`),
        );
      } else {
        entry.resolve(answer.value);
      }
    });
  } catch (error) {
    for (const entry of batch) {
      entry.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }
}

/**
 * Calls through the harness (at the address `harnessUrl` gives when they leave). The calls made in
 * one turn of the event loop travel in one POST: independent reads issued together (a check of a
 * whole ledger) cost one round trip over loopback instead of one each, which is most of the time
 * of the suites that call the objects directly.
 */
function harnessCaller(harnessUrl: () => URL): (call: ObjectCall) => Promise<unknown> {
  let pending: PendingCall[] = [];
  const flush = () => {
    const batch = pending;
    pending = [];
    return sendBatch(harnessUrl(), batch);
  };
  return (call) =>
    new Promise((resolve, reject) => {
      if (pending.length === 0) {
        setImmediate(flush);
      }
      pending.push({ call, resolve, reject });
    });
}

export type ObjectCall = {
  /** The name the object is found by (`idFromName`): a tenant id in production. */
  object: string;
  target: 'ledger' | 'leases' | 'mirror' | 'accounts' | 'coordinator' | 'rate' | 'rateObjectId';
  parameters: readonly unknown[];
};

/** Miniflare's Fetcher and R2 bucket as used here (typed by @cloudflare/workers-types, not installed). */
type CronFetcher = { scheduled(options: { cron: string }): Promise<{ outcome: string }> };
type ListedBucket = {
  list(options: { cursor?: string }): Promise<{
    objects: { key: string }[];
    truncated: boolean;
    cursor?: string;
  }>;
};

/** Miniflare's D1 database as used here (typed by @cloudflare/workers-types, not installed). */
type QueriedDatabase = {
  prepare(query: string): {
    bind(...parameters: (string | number | null)[]): {
      all(): Promise<{ results: Record<string, unknown>[] }>;
    };
    run(): Promise<unknown>;
  };
};

/** The id of the suites' D1 database (wrangler.toml names its own). */
const d1DatabaseId = 'tokenbank-suite';

/**
 * drizzle/'s migrations, in its journal's order, applied to the D1 database as
 * `wrangler d1 migrations apply` applies them (test/workers-wrangler-dev.test.ts runs that very
 * command): one statement at a time, split where drizzle marks the breakpoints.
 */
async function applyMigrations(database: QueriedDatabase): Promise<void> {
  const migrations = new URL('../../drizzle/', import.meta.url);
  const journal = JSON.parse(readFileSync(new URL('meta/_journal.json', migrations), 'utf8')) as {
    entries: { tag: string }[];
  };
  for (const { tag } of journal.entries) {
    const text = readFileSync(new URL(`${tag}.sql`, migrations), 'utf8');
    for (const statement of text.split('--> statement-breakpoint')) {
      if (statement.trim() !== '') {
        await database.prepare(statement).run();
      }
    }
  }
}

export type WorkersRuntime = {
  /** The gateway Worker's own address on loopback. */
  url: string;
  /**
   * Every gateway Worker's address, `url` first: the others run the same bundle in isolates of
   * their own over the same Durable Objects, as isolates of one deployment do.
   */
  urls: readonly string[];
  /** Runs the gateway Worker's Cron Trigger (`scheduled`) once, as the cron schedule would. */
  scheduled(): Promise<void>;
  /** One RPC call on a tenant ledger object, through the harness. */
  call(call: ObjectCall): Promise<unknown>;
  /** One call of a coordinator object port (`leases`, `files`, `batches`, `jobLeases`), through the harness. */
  callCoordinator(port: string, method: string, parameters: readonly unknown[]): Promise<unknown>;
  /** Gives the D1 database drizzle/'s schema (done at start unless `withoutD1Schema`). */
  applyD1Schema(): Promise<void>;
  /** The rows a query of the D1 database answers (its bindings as D1 takes them). */
  d1(query: string, ...parameters: (string | number | null)[]): Promise<Record<string, unknown>[]>;
  /**
   * The rows a rate key's object keeps, read from its storage file as workerd wrote it (Miniflare
   * keeps an object of class C of Worker W in `W-C/{id}.sqlite` under the persist folder).
   */
  rateObjectRows(key: string): Promise<{ buckets: number; slots: number }>;
  /** The keys of every object in the Files bucket (R2). */
  fileObjectKeys(): Promise<string[]>;
  /**
   * Kills workerd with everything in flight and starts it again on the same storage: a crash of
   * every isolate and object at once (the addresses change).
   */
  restart(): Promise<void>;
  close(): Promise<void>;
};

/**
 * The variables a suite starts its gateway Worker with: its admin token, backends on loopback
 * admitted as soon as they register, quiet logs; `more` adds to them or overrides them.
 */
export function suiteVariables(
  adminToken: string,
  more: Record<string, string> = {},
): Record<string, string> {
  return {
    TOKENBANK_ADMIN_TOKEN: adminToken,
    TOKENBANK_ALLOW_PRIVATE_BACKENDS: 'true',
    TOKENBANK_AUTO_APPROVE_BACKENDS: 'true',
    TOKENBANK_LOG_LEVEL: 'error',
    ...more,
  };
}

/**
 * Starts the run's bundle of the Worker with its Durable Objects persisted in a temporary
 * folder, with `variables` as its TOKENBANK_* vars (as wrangler.toml's [vars] or
 * `wrangler dev --var`).
 */
export async function startWorkersRuntime(
  variables: Record<string, string> = {},
  options: {
    gatewayCount?: number;
    /** Leave the D1 database without the schema, as before `wrangler d1 migrations apply`. */
    withoutD1Schema?: boolean;
  } = {},
): Promise<WorkersRuntime> {
  const gatewayNames = Array.from({ length: options.gatewayCount ?? 1 }, (_unused, index) =>
    index === 0 ? 'tokenbank' : `tokenbank-${index + 1}`,
  );
  Object.assign(process.env, offlineEnvironment);
  const directory = mkdtempSync(join(tmpdir(), 'tokenbank-workers-'));
  const bundle = (await sharedWorkerBundle()).directory;
  const tenantLedgers = { className: 'TenantLedgerObject', useSQLite: true };
  const gatewayObjects = {
    TENANT_LEDGERS: tenantLedgers,
    COORDINATOR: { className: 'CoordinatorObject', useSQLite: true },
    PROVIDER_PAYOUTS: { className: 'ProviderPayoutObject', useSQLite: true },
    RATE_LIMITS: { className: 'RateLimitObject', useSQLite: true },
  };
  /** The first gateway defines the objects; the others reach them, as one deployment's isolates. */
  const objectsOf = (name: string) =>
    name === 'tokenbank'
      ? gatewayObjects
      : Object.fromEntries(
          Object.entries(gatewayObjects).map(([binding, object]) => [
            binding,
            { ...object, scriptName: 'tokenbank' },
          ]),
        );
  const gateway = (name: string) => ({
    name,
    unsafeDirectSockets: [{ host: '127.0.0.1', port: 0 }],
    modules: true,
    scriptPath: join(bundle, 'worker.js'),
    modulesRoot: bundle,
    modulesRules: [{ type: 'Text' as const, include: ['**/*.sql'] }],
    compatibilityDate,
    bindings: variables,
    // As wrangler.toml's [assets]: the Worker first on every route, the files by binding.
    assets: {
      directory: consoleDirectory,
      binding: 'ASSETS',
      routerConfig: { invoke_user_worker_ahead_of_assets: true, has_user_worker: true },
    },
    durableObjects: objectsOf(name),
    r2Buckets: ['FILES'],
    // One database id: every gateway Worker reaches the same D1 database, as one deployment's.
    d1Databases: { DB: d1DatabaseId },
  });
  const launch = () =>
    new Miniflare({
      durableObjectsPersist: join(directory, 'objects'),
      r2Persist: join(directory, 'r2'),
      d1Persist: join(directory, 'd1'),
      workers: [
        {
          name: 'harness',
          // Called straight on its own socket: Miniflare's entry Worker would add a hop per call.
          unsafeDirectSockets: [{ host: '127.0.0.1', port: 0 }],
          modules: true,
          script: harnessScript,
          compatibilityDate,
          durableObjects: {
            TENANT_LEDGERS: { ...tenantLedgers, scriptName: 'tokenbank' },
            COORDINATOR: { ...gatewayObjects.COORDINATOR, scriptName: 'tokenbank' },
            RATE_LIMITS: { ...gatewayObjects.RATE_LIMITS, scriptName: 'tokenbank' },
          },
        },
        ...gatewayNames.map(gateway),
      ],
    });
  const addresses = async (running: Miniflare) => {
    await running.ready;
    const gateways = [];
    for (const name of gatewayNames) {
      gateways.push((await running.unsafeGetDirectURL(name)).href.replace(/\/$/, ''));
    }
    return { harness: await running.unsafeGetDirectURL('harness'), gateways };
  };
  let miniflare = launch();
  let urls = await addresses(miniflare);
  const database = async () =>
    (await miniflare.getD1Database('DB', 'tokenbank')) as unknown as QueriedDatabase;
  if (!options.withoutD1Schema) {
    await applyMigrations(await database());
  }
  const callHarness = harnessCaller(() => urls.harness);
  return {
    get url() {
      return urls.gateways[0] ?? '';
    },
    get urls() {
      return urls.gateways;
    },
    async scheduled() {
      // Miniflare types its Fetcher from @cloudflare/workers-types, which is not installed here.
      const worker = (await miniflare.getWorker('tokenbank')) as unknown as CronFetcher;
      const result = await worker.scheduled({ cron: '* * * * *' });
      if (result.outcome !== 'ok') {
        throw new Error(`the Cron Trigger ended ${result.outcome}`);
      }
    },
    async fileObjectKeys() {
      const bucket = (await miniflare.getR2Bucket('FILES', 'tokenbank')) as unknown as ListedBucket;
      const keys: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await bucket.list(cursor === undefined ? {} : { cursor });
        keys.push(...page.objects.map((object) => object.key));
        cursor = page.truncated ? page.cursor : undefined;
      } while (cursor !== undefined);
      return keys;
    },
    async restart() {
      await miniflare.dispose();
      miniflare = launch();
      urls = await addresses(miniflare);
    },
    call: callHarness,
    async rateObjectRows(key) {
      const id = String(await callHarness({ object: key, target: 'rateObjectId', parameters: [] }));
      const file = join(directory, 'objects', 'tokenbank-RateLimitObject', `${id}.sqlite`);
      const storage = new Database(file, { readonly: true, fileMustExist: true });
      try {
        const count = (table: string) =>
          (storage.prepare(`SELECT COUNT(*) AS count FROM ${table}`).get() as { count: number })
            .count;
        return { buckets: count('rate_buckets'), slots: count('slot_holders') };
      } finally {
        storage.close();
      }
    },
    applyD1Schema: async () => applyMigrations(await database()),
    async d1(query, ...parameters) {
      const { results } = await (await database())
        .prepare(query)
        .bind(...parameters)
        .all();
      return results;
    },
    callCoordinator: (port, method, parameters) =>
      callHarness({
        object: 'coordinator',
        target: 'coordinator',
        parameters: [port, method, parameters],
      }),
    async close() {
      await miniflare.dispose();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
