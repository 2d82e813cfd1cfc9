/**
 * The gateway on Cloudflare Workers (wrangler.toml `main`): the same Hono app as on Node
 * (createApp) over the Deps of workers-deps.ts, built once per isolate on its first request.
 * The isolate reloads the catalog's live backends and its running leases, and scrapes the
 * backends' load, each once per its interval while it serves requests (`isolateJobs`); the Cron
 * Trigger (wrangler.toml) refreshes the backends, probes unhealthy ones and scrapes them in the
 * isolate it runs in, and, when it wins the job lease, runs the lease job, the storage tick and the batch scheduler
 * (cron-jobs.ts). Holds and grant expiry are each tenant object's alarm. Background work a
 * request leaves (a stream's settlement, usage logging, audit writes) is handed to the runtime
 * with waitUntil once the response is delivered. The Durable Object classes are exported from
 * here, as Workers require.
 */
import type { Hono } from 'hono';
import { createApp } from '../../app.ts';
import { admitRegisteredBackends } from '../../backends/admit-registered-backends.ts';
import { type Limits, parseConfig } from '../../config.ts';
import type { Deps, HonoEnv } from '../../deps.ts';
import { GatewayError, toErrorResponse } from '../../errors.ts';
import { ensureAdminCredential } from '../../gateway/admin/admin-credential.ts';
import {
  type BackgroundJobs,
  createBackgroundJobs,
} from '../../gateway/replicas/background-jobs.ts';
import { listenForCatalogChanges } from '../../gateway/replicas/catalog-changes.ts';
import { systemClock } from '../../platform/clock.ts';
import { newId } from '../../platform/identifiers.ts';
import { createJsonLogger } from '../../platform/logger.ts';
import type { JobLeaseRows } from './coordinator/job-lease-rows.ts';
import {
  createPolledCatalogChanges,
  type PolledCatalogChanges,
} from './coordinator/polled-catalog-changes.ts';
import { runElectedJobs } from './cron-jobs.ts';
import { watchDelivery } from './watch-delivery.ts';
import {
  coordinatorObjectOf,
  coordinatorObjectPort,
  createWorkersDeps,
  type WorkerBindings,
} from './workers-deps.ts';

export { CoordinatorObject } from './coordinator/coordinator-object.ts';
export { TenantLedgerObject } from './ledger/tenant-ledger-object.ts';
export { ProviderPayoutObject } from './payouts/provider-payout-object.ts';
export { RateLimitObject } from './rate-limits/rate-limit-object.ts';

type ExecutionContext = { waitUntil(work: Promise<unknown>): void };

type Gateway = {
  app: Hono<HonoEnv>;
  deps: Deps;
  catalogChanges: PolledCatalogChanges;
  jobs: BackgroundJobs;
  /** When each of the isolate's own jobs last ran. */
  ranAtMs: Record<IsolateJobName, number>;
};

/**
 * What each isolate does for itself while it serves requests, each at most once per its
 * interval, after the response (as a Node replica does on its timers): reload the live backends,
 * so a backend registered through another isolate is routed to; reload the running leases, so a
 * lease opened or ended through another isolate is honoured; and scrape the backends' load and
 * round trip, which the router of this isolate (at this location) weighs.
 */
const isolateJobs = {
  backends: {
    intervalMs: (limits: Limits) => limits.catalogRefreshMs,
    run: (gateway: Gateway) => gateway.jobs.refreshBackends(),
  },
  leases: {
    intervalMs: (limits: Limits) => limits.leaseCheckIntervalMs,
    run: (gateway: Gateway) => gateway.deps.leaseRegistry.reload(),
  },
  metrics: {
    intervalMs: (limits: Limits) => limits.metricsScrapeIntervalMs,
    run: (gateway: Gateway) => gateway.jobs.scrapeMetrics(),
  },
} as const;
type IsolateJobName = keyof typeof isolateJobs;

/** The TOKENBANK_* variables and secrets among the bindings. */
function variablesOf(env: object): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).filter(
      (entry): entry is [string, string] =>
        entry[0].startsWith('TOKENBANK_') && typeof entry[1] === 'string',
    ),
  );
}

async function startGateway(env: WorkerBindings): Promise<Gateway> {
  const parsed = parseConfig(variablesOf(env));
  if (!parsed.ok) {
    throw new Error(`invalid configuration: ${parsed.message}`);
  }
  const { config } = parsed;
  const logger = createJsonLogger(config.logLevel, (line) => console.log(line.trimEnd()));
  const instanceId = newId('gw');
  const catalogChanges = createPolledCatalogChanges({
    source: () => coordinatorObjectOf(env),
    instanceId,
    clock: systemClock,
    logger,
    pollMs: config.limits.catalogChangePollMs,
  });
  // The cursor is placed before the catalog is read, so no change falls between the two.
  await catalogChanges.pollIfDue();
  const isolate = { config, bindings: env, logger, instanceId, catalogChanges };
  const probe = createWorkersDeps({ ...isolate, adminTokenHashes: [] });
  const admin = await ensureAdminCredential({
    catalog: probe.catalog,
    hashText: probe.hashText,
    clock: probe.clock,
    configuredToken: config.adminToken,
    // A Worker has nowhere safe to show a generated token: set TOKENBANK_ADMIN_TOKEN.
    mayGenerate: false,
  });
  const deps = createWorkersDeps({ ...isolate, adminTokenHashes: admin.tokenHashes });
  listenForCatalogChanges(deps);
  await admitRegisteredBackends(deps.pool, await deps.catalog.listLiveBackends(), {
    allowPrivate: config.allowPrivateBackends,
    resolveHost: deps.resolveHost,
    onRefused: (record, reason) =>
      logger.log('warn', 'backend_refused', { backend_id: record.id, reason }),
  });
  await deps.catalogCache.reload();
  // The router honours leases from the isolate's first request on.
  await deps.leaseRegistry.reload();
  return {
    app: createApp(deps),
    deps,
    catalogChanges,
    jobs: createBackgroundJobs(deps),
    // Backends and leases were just loaded; the first scrape waits for the first request.
    ranAtMs: { backends: deps.clock.nowMs(), leases: deps.clock.nowMs(), metrics: 0 },
  };
}

let running: Promise<Gateway> | undefined;

/** This isolate's gateway; a start that failed is tried again by the next request. */
function gatewayOf(env: WorkerBindings): Promise<Gateway> {
  running ??= startGateway(env).catch((error: unknown) => {
    running = undefined;
    throw error;
  });
  return running;
}

/** Runs each of the isolate's own jobs whose interval has passed, after the response. */
function runIsolateJobsIfDue(gateway: Gateway, context: ExecutionContext): void {
  const nowMs = gateway.deps.clock.nowMs();
  for (const [name, job] of Object.entries(isolateJobs) as [
    IsolateJobName,
    (typeof isolateJobs)[IsolateJobName],
  ][]) {
    if (nowMs - gateway.ranAtMs[name] >= job.intervalMs(gateway.deps.config.limits)) {
      gateway.ranAtMs[name] = nowMs;
      context.waitUntil(job.run(gateway));
    }
  }
}

/** The messages of an error and of its causes (drizzle wraps D1's own error), at most five. */
function causesOf(error: unknown): string[] {
  const messages: string[] = [];
  let current: unknown = error;
  while (current !== undefined && messages.length < 5) {
    messages.push(current instanceof Error ? current.message : String(current));
    current = current instanceof Error ? current.cause : undefined;
  }
  return messages;
}

/**
 * The answer while the isolate's gateway cannot start: 503 in OpenAI's envelope, the reason in
 * the log. D1 without the schema is the usual cause on a first run, so that one is named.
 */
function startFailed(error: unknown): Response {
  const reason = causesOf(error).join(': ');
  console.log(JSON.stringify({ level: 'error', event: 'gateway_start_failed', message: reason }));
  const message = /no such table/.test(reason)
    ? 'The gateway cannot start: its D1 database has no schema. Apply it with `npx wrangler d1 migrations apply tokenbank` (`--local` for `wrangler dev`, `--remote` once deployed).'
    : 'The gateway cannot start; its log says why (event gateway_start_failed).';
  return toErrorResponse(new GatewayError('gateway_unavailable', message), newId('req'));
}

export default {
  async fetch(request: Request, env: WorkerBindings, context: ExecutionContext) {
    let gateway: Gateway;
    try {
      gateway = await gatewayOf(env);
    } catch (error) {
      return startFailed(error);
    }
    runIsolateJobsIfDue(gateway, context);
    const polled = gateway.catalogChanges.pollIfDue();
    if (polled) {
      context.waitUntil(polled);
    }
    const { response, delivered } = watchDelivery(await gateway.app.fetch(request));
    // A stream settles after its last byte, when the handler has long returned: the runtime
    // cancels whatever the request still has in flight once its response is delivered, so the
    // settlement is waited for from then, not from now.
    context.waitUntil(delivered.then(() => gateway.deps.background.drain()));
    return response;
  },

  async scheduled(_controller: unknown, env: WorkerBindings, context: ExecutionContext) {
    const gateway = await gatewayOf(env);
    const refreshed = gateway.jobs.refreshBackends();
    context.waitUntil(
      refreshed.then(() =>
        Promise.all([gateway.jobs.probeBackends(), gateway.jobs.scrapeMetrics()]),
      ),
    );
    // The lease job among them judges leased backends by the refreshed pool; it runs even if the
    // refresh failed.
    const leases = coordinatorObjectPort<JobLeaseRows>(env, 'jobLeases');
    context.waitUntil(
      refreshed.catch(() => undefined).then(() => runElectedJobs(gateway.deps, leases)),
    );
  },
};
