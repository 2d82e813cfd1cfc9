/**
 * Builds the Deps of a Node gateway over an opened store (gateway-store.ts: SQLite or
 * PostgreSQL, the same ports either way): the one place that wires ports to their Node
 * implementations, shared by `tokenbank serve` and the in-process test harness.
 * With TOKENBANK_REDIS_URL the hot state the replicas share (rate limits, dispatch counts,
 * catalog changes, reference locks) is in Redis (redis-shared-state.ts), else in this process.
 */
import { BackendPool } from '../../backends/backend-pool.ts';
import { createCapacityWaitQueue } from '../../backends/capacity-wait-queue.ts';
import { metricsTargetId } from '../../backends/health/scrape-metrics.ts';
import { createLatencyAwareRouter } from '../../backends/routing/latency-aware-router.ts';
import { createRetryBudget } from '../../backends/routing/retry-budget.ts';
import type { ResolveHost } from '../../backends/upstream/backend-url-policy.ts';
import type { Config } from '../../config.ts';
import type { Deps } from '../../deps.ts';
import { AdminTokens } from '../../gateway/admin/admin-tokens.ts';
import type { ConsoleAssets } from '../../gateway/console/console-assets.ts';
import { LeaseRegistry } from '../../gateway/leases/lease-registry.ts';
import { MemoryCatalogCache } from '../../gateway/replicas/catalog-cache.ts';
import { listenForCatalogChanges } from '../../gateway/replicas/catalog-changes.ts';
import { createBackgroundWork } from '../../platform/background-work.ts';
import type { Clock } from '../../platform/clock.ts';
import { CredentialCache } from '../../platform/credential-cache.ts';
import { newId } from '../../platform/identifiers.ts';
import type { Logger } from '../../platform/logger.ts';
import type { Random } from '../../platform/random.ts';
import { createRequestGate } from '../../platform/request-gate.ts';
import { diskConsoleAssets } from './disk-console-assets.ts';
import type { GatewayStore } from './gateway-store.ts';
import { nodeRequestAccess, resolveHostWithDns, sha256Hex } from './node-ports.ts';
import { createPrometheusMetrics } from './prometheus-metrics.ts';
import { openSharedState } from './redis/redis-shared-state.ts';
import type { OpenedSqlite } from './sqlite/sqlite-database.ts';
import { sqliteGatewayStore } from './sqlite/sqlite-gateway-store.ts';
import { createUndiciUpstream } from './undici-upstream.ts';
import { createWorkerTokenizer } from './worker-tokenizer.ts';

export type NodeDepsOptions = {
  config: Config;
  clock: Clock;
  random: Random;
  logger: Logger;
  adminTokenHashes: readonly string[];
  resolveHost?: ResolveHost;
  /** Process memory, CPU and GC metrics: for a real server, not for every test gateway. */
  processMetrics?: boolean;
  /** Where the console's built client is read; the package's dist/console/ by default. */
  consoleAssets?: ConsoleAssets;
} & (
  | { store: GatewayStore }
  /** A SQLite store opened and migrated by the caller (tests, benchmarks). */
  | { opened: OpenedSqlite }
);

export function createNodeDeps(options: NodeDepsOptions): Deps {
  const { config, clock, logger } = options;
  const store = 'store' in options ? options.store : sqliteGatewayStore(options.opened, config);
  const { catalog } = store;
  const cacheOptions = {
    ttlMs: config.limits.credentialCacheTtlMs,
    entriesMax: config.limits.credentialCacheEntriesMax,
    clock,
  };
  const resolveHost = options.resolveHost ?? resolveHostWithDns;
  const upstream = createUndiciUpstream(config.limits, {
    publicAddressesOnly: !config.allowPrivateBackends,
    resolveHost,
  });
  const capacityQueue = createCapacityWaitQueue({
    lengthMax: config.limits.capacityQueueLengthMax,
  });
  const pool = new BackendPool(config.limits, {
    onRemoved: (backendId) => {
      upstream.forget(backendId);
      upstream.forget(metricsTargetId(backendId));
    },
    onCapacityFreed: () => capacityQueue.notify(),
  });
  const background = createBackgroundWork(logger);
  const gate = createRequestGate();
  const instanceId = newId('gw');
  const shared = openSharedState({ config, instanceId, clock, logger });
  const deps: Deps = {
    config,
    catalog,
    pool,
    router: createLatencyAwareRouter({
      clock,
      random: options.random,
      settings: config.limits,
      liveReplicaCount: () => pool.liveReplicaCount,
    }),
    retryBudget: createRetryBudget(config.limits),
    capacityQueue,
    upstream,
    clock,
    logger,
    random: options.random,
    hashText: sha256Hex,
    resolveHost,
    request: nodeRequestAccess,
    clients: new CredentialCache(cacheOptions),
    providers: new CredentialCache(cacheOptions),
    adminTokens: new AdminTokens({
      catalog,
      clock,
      ttlMs: config.limits.credentialCacheTtlMs,
      hashes: options.adminTokenHashes,
      configured: config.adminToken !== undefined,
    }),
    ledger: store.ledger,
    tokenizer: createWorkerTokenizer({
      encodingDefault: config.tokenizerEncodingDefault,
      modelEncodings: config.modelEncodings,
      queueLengthMax: config.limits.tokenizerQueueLengthMax,
      inlineCharsMax: config.limits.tokenizeInlineCharsMax,
      logger,
    }),
    catalogCache: new MemoryCatalogCache({
      catalog,
      clock,
      refreshIntervalMs: config.limits.catalogRefreshMs,
    }),
    background,
    instanceId,
    counters: shared.counters,
    sharedState: shared.sharedState,
    metrics: createPrometheusMetrics({
      pool,
      gate,
      background,
      holdsPending: store.holdsPending,
      jobLeader: () => store.jobLease.held,
      currency: config.currency,
      processMetrics: options.processMetrics ?? false,
      sharedStateHealth: shared.sharedState.health,
    }),
    jobLease: store.jobLease,
    gate,
    audit: store.audit,
    batches: store.batches,
    files: store.files,
    leases: store.leases,
    leaseRegistry: new LeaseRegistry(store.leases),
    consoleAssets: options.consoleAssets ?? diskConsoleAssets(),
  };
  listenForCatalogChanges(deps);
  return deps;
}
