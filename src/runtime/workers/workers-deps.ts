/**
 * Builds the Deps of the gateway on Cloudflare Workers, once per isolate, from the Worker's
 * bindings: the catalog and the audit log in D1 (d1-store-database.ts), leases, file rows and
 * batches in the coordinator object (coordinator-object.ts), file bytes in R2, the ledger in one Durable Object per tenant
 * (tenant-ledgers.ts), each rate key's counters in a Durable Object of its own
 * (durable-counter-store.ts), a provider's payouts in a Durable Object of its own
 * (provider-payout-object.ts), upstream calls through fetch, and this isolate's own stand-ins
 * for the rest of what the Node replicas share through Redis (dispatch counts). What Workers
 * cannot do is refused, not imitated (DEPLOY.md "Cloudflare Workers"): no /metrics exposition
 * (Workers Logs and Analytics instead), and token counts
 * are the byte estimate (tiktoken's WASM would not fit the Worker's size limit) with the
 * provider's usage billed as on Node, so the recount sample is off. Files keep their bytes in the
 * R2 bucket and their rows in the coordinator object (r2-file-store.ts); batches are rows of the
 * coordinator object, run by the Cron Trigger (cron-jobs.ts).
 */
import { BackendPool } from '../../backends/backend-pool.ts';
import { createCapacityWaitQueue } from '../../backends/capacity-wait-queue.ts';
import { createLatencyAwareRouter } from '../../backends/routing/latency-aware-router.ts';
import { createRetryBudget } from '../../backends/routing/retry-budget.ts';
import type { Config } from '../../config.ts';
import type { BatchStore } from '../../db/batch-store.ts';
import type { LeaseStore } from '../../db/lease-store.ts';
import { createSqliteAuditLog } from '../../db/sqlite-audit-log.ts';
import { createSqliteCatalog } from '../../db/sqlite-catalog.ts';
import type { FileRecords } from '../../db/sqlite-file-records.ts';
import type { Deps } from '../../deps.ts';
import { GatewayError } from '../../errors.ts';
import { AdminTokens } from '../../gateway/admin/admin-tokens.ts';
import { LeaseRegistry } from '../../gateway/leases/lease-registry.ts';
import { portableRequestAccess } from '../../gateway/middleware/request-body.ts';
import { MemoryCatalogCache } from '../../gateway/replicas/catalog-cache.ts';
import { createLocalSharedState } from '../../gateway/replicas/shared-state.ts';
import { estimateTextTokens } from '../../metering/estimate-prompt-tokens.ts';
import { createBackgroundWork } from '../../platform/background-work.ts';
import { systemClock } from '../../platform/clock.ts';
import { CredentialCache } from '../../platform/credential-cache.ts';
import { webCryptoSha256 } from '../../platform/identifiers.ts';
import type { JobLease } from '../../platform/job-lease.ts';
import type { Logger } from '../../platform/logger.ts';
import { type Metrics, noopMetrics } from '../../platform/metrics.ts';
import { createSeededRandom } from '../../platform/random.ts';
import { createRequestGate } from '../../platform/request-gate.ts';
import { createMemoryCounterStore, slotHoldMs } from '../../platform/shared-state/counter-store.ts';
import { createDegradingCounterStore } from '../../platform/shared-state/degrading-counter-store.ts';
import type { Tokenizer } from '../../platform/tokenizer.ts';
import { type AssetsBinding, assetsConsoleAssets } from './assets-console-assets.ts';
import {
  type CoordinatorPortName,
  coordinatorObjectName,
} from './coordinator/coordinator-object.ts';
import type {
  CatalogChangeSource,
  PolledCatalogChanges,
} from './coordinator/polled-catalog-changes.ts';
import { createR2FileStore } from './coordinator/r2-file-store.ts';
import { d1StoreDatabase } from './d1-store-database.ts';
import { resolveWithDnsOverHttps } from './dns-over-https.ts';
import { createFetchUpstream } from './fetch-upstream.ts';
import { d1UsageReads } from './ledger/d1-usage-reads.ts';
import {
  createTenantLedgers,
  type ProviderPayoutStub,
  type TenantLedgerStub,
} from './ledger/tenant-ledgers.ts';
import { portOverRpc } from './port-over-rpc.ts';
import {
  createDurableCounterStore,
  type RateLimitStub,
} from './rate-limits/durable-counter-store.ts';
import type { D1Database, DurableObjectNamespace, R2Bucket } from './workers-types.ts';

export type CoordinatorObjectStub = CatalogChangeSource & {
  call(port: CoordinatorPortName, method: string, parameters: readonly unknown[]): Promise<unknown>;
};

/** The Worker's bindings (wrangler.toml) beside its TOKENBANK_* variables. */
export type WorkerBindings = {
  TENANT_LEDGERS: DurableObjectNamespace<TenantLedgerStub>;
  COORDINATOR: DurableObjectNamespace<CoordinatorObjectStub>;
  /** The catalog, the audit log and the usage records' copy (wrangler.toml `[[d1_databases]]`). */
  DB: D1Database;
  /** One object per provider: its payouts (provider-payout-object.ts). */
  PROVIDER_PAYOUTS: DurableObjectNamespace<ProviderPayoutStub>;
  /** One object per rate key: each API key's rpm, tpm and stream slots (rate-limit-object.ts). */
  RATE_LIMITS: DurableObjectNamespace<RateLimitStub>;
  /** dist/console/ as static assets (wrangler.toml `[assets]`); absent, no console is served. */
  ASSETS?: AssetsBinding;
  /** The bytes of the Files API's files (wrangler.toml `[[r2_buckets]]`). */
  FILES: R2Bucket;
};

/** One port of the coordinator object, each call over RPC on a fresh stub. */
export function coordinatorObjectPort<Port extends object>(
  bindings: WorkerBindings,
  port: CoordinatorPortName,
): Port {
  return portOverRpc<Port>((method, parameters) =>
    coordinatorObjectOf(bindings).call(port, method, parameters),
  );
}

/**
 * The job lease of an isolate outside a Cron Trigger invocation: never held. The elected jobs run
 * only in the invocation that wins the coordinator object's lease (cron-jobs.ts), with that lease in
 * their Deps; and isolates share their objects, so none of them is a store's sole process.
 */
const outsideTheElection: JobLease = {
  acquire: async () => false,
  held: false,
  release: async () => undefined,
  soleProcess: false,
};

/** No Prometheus exposition on Workers: a scrape is told so. */
const workersMetrics: Metrics = {
  ...noopMetrics,
  render: async () => {
    throw new GatewayError(
      'not_supported_by_runtime',
      'GET /metrics is not served on Cloudflare Workers: read Workers Logs and Analytics instead.',
    );
  },
};

/** The byte estimate of metering/, for every model: no tokenizer is bundled on Workers. */
const estimatingTokenizer: Tokenizer = {
  countTokens: async (text) => estimateTextTokens(text),
  countShortText: (text) => estimateTextTokens(text),
};

/** The deployment's one coordinator object; a stub is bound to the request that made it. */
export function coordinatorObjectOf(bindings: WorkerBindings): CoordinatorObjectStub {
  return bindings.COORDINATOR.get(bindings.COORDINATOR.idFromName(coordinatorObjectName));
}

export function createWorkersDeps(options: {
  config: Config;
  bindings: WorkerBindings;
  logger: Logger;
  adminTokenHashes: readonly string[];
  instanceId: string;
  /** How this isolate tells the others of its catalog changes and hears theirs. */
  catalogChanges: PolledCatalogChanges;
}): Deps {
  const { bindings, logger } = options;
  const config: Config = {
    ...options.config,
    limits: { ...options.config.limits, verificationSampleBps: 0 },
  };
  const clock = systemClock;
  const overCoordinatorObject = <Port extends object>(port: CoordinatorPortName) =>
    coordinatorObjectPort<Port>(bindings, port);
  const d1 = d1StoreDatabase(bindings.DB);
  const catalog = createSqliteCatalog(d1);
  const capacityQueue = createCapacityWaitQueue({
    lengthMax: config.limits.capacityQueueLengthMax,
  });
  const pool = new BackendPool(config.limits, {
    onRemoved: () => undefined,
    onCapacityFreed: () => capacityQueue.notify(),
  });
  const cacheOptions = {
    ttlMs: config.limits.credentialCacheTtlMs,
    entriesMax: config.limits.credentialCacheEntriesMax,
    clock,
  };
  const leases = overCoordinatorObject<LeaseStore>('leases');
  const gate = createRequestGate();
  const sharedState = {
    ...createLocalSharedState({ clock, logger, retryMs: config.limits.sharedStateRetryMs }),
    catalogChanges: options.catalogChanges,
  };
  return {
    config,
    catalog,
    pool,
    consoleAssets: assetsConsoleAssets(bindings.ASSETS),
    router: createLatencyAwareRouter({
      clock,
      random: createSeededRandom(Date.now()),
      settings: config.limits,
      liveReplicaCount: () => pool.liveReplicaCount,
    }),
    retryBudget: createRetryBudget(config.limits),
    capacityQueue,
    upstream: createFetchUpstream(config.limits),
    clock,
    logger,
    random: createSeededRandom(Date.now()),
    hashText: webCryptoSha256,
    resolveHost: resolveWithDnsOverHttps,
    request: portableRequestAccess,
    clients: new CredentialCache(cacheOptions),
    providers: new CredentialCache(cacheOptions),
    adminTokens: new AdminTokens({
      catalog,
      clock,
      ttlMs: config.limits.credentialCacheTtlMs,
      hashes: options.adminTokenHashes,
      configured: config.adminToken !== undefined,
    }),
    ledger: createTenantLedgers({
      objects: bindings.TENANT_LEDGERS,
      providerObjects: bindings.PROVIDER_PAYOUTS,
      fanOutMax: config.limits.tenantFanOutMax,
      catalog,
      leases,
      clock,
      catalogRefreshMs: config.limits.catalogRefreshMs,
      requestsMax: config.limits.openReservationsMax,
      copiedUsage: d1UsageReads(bindings.DB),
    }),
    tokenizer: estimatingTokenizer,
    catalogCache: new MemoryCatalogCache({
      catalog,
      clock,
      refreshIntervalMs: config.limits.catalogRefreshMs,
    }),
    background: createBackgroundWork(logger),
    instanceId: options.instanceId,
    counters: createDegradingCounterStore({
      shared: createDurableCounterStore({
        objects: bindings.RATE_LIMITS,
        holdMs: slotHoldMs(config.requestTimeoutS),
      }),
      local: createMemoryCounterStore(config.limits.counterEntriesMax),
      health: sharedState.health,
      clock,
    }),
    sharedState,
    metrics: workersMetrics,
    jobLease: outsideTheElection,
    gate,
    audit: createSqliteAuditLog(d1.database),
    batches: overCoordinatorObject<BatchStore>('batches'),
    files: createR2FileStore(bindings.FILES, overCoordinatorObject<FileRecords>('files')),
    leases,
    leaseRegistry: new LeaseRegistry(leases),
  };
}
