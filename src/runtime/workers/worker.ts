/**
 * The gateway on Cloudflare Workers (wrangler.toml `main`): the same Hono app as on Node
 * (createApp) over the Deps of workers-deps.ts, built once per isolate on its first request.
 * The isolate reloads the catalog's live backends when its copy is older than the catalog refresh
 * interval, and its running leases when they are older than the lease check interval; the Cron
 * Trigger (wrangler.toml) refreshes them and probes unhealthy backends in the isolate it runs in,
 * and, when it wins the job lease, runs the lease job, the storage tick and the batch scheduler
 * (cron-jobs.ts). Holds and grant expiry are each tenant object's alarm. Background work a
 * request leaves (a stream's settlement, usage logging, audit writes) is handed to the runtime
 * with waitUntil once the response is delivered. The Durable Object classes are exported from
 * here, as Workers require.
 */
import type { Hono } from 'hono';
import { createApp } from '../../app.ts';
import { admitRegisteredBackends } from '../../backends/admit-registered-backends.ts';
import { parseConfig } from '../../config.ts';
import type { Deps, HonoEnv } from '../../deps.ts';
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
  backendsAtMs: number;
  leasesAtMs: number;
};

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
    backendsAtMs: deps.clock.nowMs(),
    leasesAtMs: deps.clock.nowMs(),
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

/** Reloads the live backends when this isolate's copy is older than the refresh interval. */
function refreshBackendsIfStale(gateway: Gateway, context: ExecutionContext): void {
  const nowMs = gateway.deps.clock.nowMs();
  if (nowMs - gateway.backendsAtMs >= gateway.deps.config.limits.catalogRefreshMs) {
    gateway.backendsAtMs = nowMs;
    context.waitUntil(gateway.jobs.refreshBackends());
  }
}

/**
 * Reloads the running leases when this isolate's copy is older than the lease check interval, so
 * a lease opened or ended through another isolate is honoured within it, as on a Node replica.
 */
function reloadLeasesIfStale(gateway: Gateway, context: ExecutionContext): void {
  const nowMs = gateway.deps.clock.nowMs();
  if (nowMs - gateway.leasesAtMs >= gateway.deps.config.limits.leaseCheckIntervalMs) {
    gateway.leasesAtMs = nowMs;
    context.waitUntil(gateway.deps.leaseRegistry.reload());
  }
}

export default {
  async fetch(request: Request, env: WorkerBindings, context: ExecutionContext) {
    const gateway = await gatewayOf(env);
    refreshBackendsIfStale(gateway, context);
    const polled = gateway.catalogChanges.pollIfDue();
    if (polled) {
      context.waitUntil(polled);
    }
    reloadLeasesIfStale(gateway, context);
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
    context.waitUntil(refreshed.then(() => gateway.jobs.probeBackends()));
    // The lease job among them judges leased backends by the refreshed pool; it runs even if the
    // refresh failed.
    const leases = coordinatorObjectPort<JobLeaseRows>(env, 'jobLeases');
    context.waitUntil(
      refreshed.catch(() => undefined).then(() => runElectedJobs(gateway.deps, leases)),
    );
  },
};
