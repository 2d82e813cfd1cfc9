/**
 * Builds the Deps of the gateway on Cloudflare Workers, once per isolate, from the Worker's
 * bindings: the catalog, audit log, leases, file rows and batches in the catalog object
 * (catalog-object.ts), file bytes in R2, the ledger in one Durable Object per tenant
 * (tenant-ledgers.ts), each rate key's counters in a Durable Object of its own
 * (durable-counter-store.ts), a provider's payouts in a Durable Object of its own
 * (provider-payout-object.ts), upstream calls through fetch, and this isolate's own stand-ins
 * for the rest of what the Node replicas share through Redis (dispatch counts). What Workers
 * cannot do is refused, not imitated (DEPLOY.md "Cloudflare Workers"): no /metrics exposition
 * (Workers Logs and Analytics instead), and token counts
 * are the byte estimate (tiktoken's WASM would not fit the Worker's size limit) with the
 * provider's usage billed as on Node, so the recount sample is off. Files keep their bytes in the
 * R2 bucket and their rows in the catalog object (r2-file-store.ts); batches are rows of the
 * catalog object, run by the Cron Trigger (cron-jobs.ts).
 */
import { BackendPool } from '../../backends/backend-pool.ts';
import { createCapacityWaitQueue } from '../../backends/capacity-wait-queue.ts';
import { createLatencyAwareRouter } from '../../backends/routing/latency-aware-router.ts';
import { createRetryBudget } from '../../backends/routing/retry-budget.ts';
import type { Config } from '../../config.ts';
import type { AuditLog } from '../../db/audit-log.ts';
import type { BatchStore } from '../../db/batch-store.ts';
import type { Catalog } from '../../db/catalog.ts';
import type { LeaseStore } from '../../db/lease-store.ts';
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
import { type CatalogPortName, catalogObjectName } from './catalog/catalog-object.ts';
import type {
  CatalogChangeSource,
  PolledCatalogChanges,
} from './catalog/polled-catalog-changes.ts';
import { createR2FileStore } from './catalog/r2-file-store.ts';
import { resolveWithDnsOverHttps } from './dns-over-https.ts';
import { createFetchUpstream } from './fetch-upstream.ts';
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
import type { DurableObjectNamespace, R2Bucket } from './workers-types.ts';

export type CatalogObjectStub = CatalogChangeSource & {
  call(port: CatalogPortName, method: string, parameters: readonly unknown[]): Promise<unknown>;
};

/** The Worker's bindings (wrangler.toml) beside its TOKENBANK_* variables. */
export type WorkerBindings = {
  TENANT_LEDGERS: DurableObjectNamespace<TenantLedgerStub>;
  CATALOG: DurableObjectNamespace<CatalogObjectStub>;
  /** One object per provider: its payouts (provider-payout-object.ts). */
  PROVIDER_PAYOUTS: DurableObjectNamespace<ProviderPayoutStub>;
  /** One object per rate key: each API key's rpm, tpm and stream slots (rate-limit-object.ts). */
  RATE_LIMITS: DurableObjectNamespace<RateLimitStub>;
  /** dist/console/ as static assets (wrangler.toml `[assets]`); absent, no console is served. */
  ASSETS?: AssetsBinding;
  /** The bytes of the Files API's files (wrangler.toml `[[r2_buckets]]`). */
  FILES: R2Bucket;
};

/** One port of the catalog object, each call over RPC on a fresh stub. */
export function catalogObjectPort<Port extends object>(
  bindings: WorkerBindings,
  port: CatalogPortName,
): Port {
  return portOverRpc<Port>((method, parameters) =>
    catalogObjectOf(bindings).call(port, method, parameters),
  );
}

/**
 * The job lease of an isolate outside a Cron Trigger invocation: never held. The elected jobs run
 * only in the invocation that wins the catalog object's lease (cron-jobs.ts), with that lease in
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

/** The deployment's one catalog object; a stub is bound to the request that made it. */
export function catalogObjectOf(bindings: WorkerBindings): CatalogObjectStub {
  return bindings.CATALOG.get(bindings.CATALOG.idFromName(catalogObjectName));
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
  const overCatalogObject = <Port extends object>(port: CatalogPortName) =>
    catalogObjectPort<Port>(bindings, port);
  const catalog = overCatalogObject<Catalog>('catalog');
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
  const leases = overCatalogObject<LeaseStore>('leases');
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
    audit: overCatalogObject<AuditLog>('audit'),
    batches: overCatalogObject<BatchStore>('batches'),
    files: createR2FileStore(bindings.FILES, overCatalogObject<FileRecords>('files')),
    leases,
    leaseRegistry: new LeaseRegistry(leases),
  };
}
