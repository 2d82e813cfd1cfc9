/**
 * Builds the Deps of a Node gateway over an opened SQLite store: the one place that wires ports
 * to their Node implementations, shared by `tokenbank serve` and the in-process test harness.
 */
import { BackendPool } from '../../backends/backend-pool.ts';
import type { ResolveHost } from '../../backends/backend-url-policy.ts';
import { createCapacityWaitQueue } from '../../backends/capacity-wait-queue.ts';
import { createLatencyAwareRouter } from '../../backends/latency-aware-router.ts';
import { createRetryBudget } from '../../backends/retry-budget.ts';
import { metricsTargetId } from '../../backends/scrape-metrics.ts';
import type { Config } from '../../config.ts';
import { createSqliteAuditLog } from '../../db/sqlite-audit-log.ts';
import { createSqliteCatalog } from '../../db/sqlite-catalog.ts';
import type { Deps } from '../../deps.ts';
import { CatalogCache } from '../../gateway/catalog-cache.ts';
import { CredentialCache } from '../../gateway/credential-cache.ts';
import { createBackgroundWork } from '../../platform/background-work.ts';
import type { Clock } from '../../platform/clock.ts';
import { createMemoryCounterStore } from '../../platform/counter-store.ts';
import { newId } from '../../platform/identifiers.ts';
import type { Logger } from '../../platform/logger.ts';
import type { Random } from '../../platform/random.ts';
import { createRequestGate } from '../../platform/request-gate.ts';
import { readNodeRequestBody, resolveHostWithDns, sha256Hex } from './node-ports.ts';
import { createHoldsReader, createPrometheusMetrics } from './prometheus-metrics.ts';
import type { OpenedSqlite } from './sqlite-database.ts';
import { createSqliteLedger } from './sqlite-ledger.ts';
import { createTiktokenTokenizer } from './tiktoken-tokenizer.ts';
import { createUndiciUpstream } from './undici-upstream.ts';

export type NodeDepsOptions = {
  config: Config;
  opened: OpenedSqlite;
  clock: Clock;
  random: Random;
  logger: Logger;
  adminTokenHashes: readonly string[];
  resolveHost?: ResolveHost;
  /** Process memory, CPU and GC metrics: for a real server, not for every test gateway. */
  processMetrics?: boolean;
};

export function createNodeDeps(options: NodeDepsOptions): Deps {
  const { config, clock, logger } = options;
  const catalog = createSqliteCatalog(options.opened.database);
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
  return {
    config,
    catalog,
    pool,
    router: createLatencyAwareRouter({ clock, random: options.random, settings: config.limits }),
    retryBudget: createRetryBudget(config.limits),
    capacityQueue,
    upstream,
    clock,
    logger,
    random: options.random,
    hashText: sha256Hex,
    resolveHost,
    readRequestBody: readNodeRequestBody,
    clients: new CredentialCache(cacheOptions),
    providers: new CredentialCache(cacheOptions),
    adminTokenHashes: options.adminTokenHashes,
    ledger: createSqliteLedger(options.opened.connection),
    tokenizer: createTiktokenTokenizer({
      encodingDefault: config.tokenizerEncodingDefault,
      modelEncodings: config.modelEncodings,
    }),
    catalogCache: new CatalogCache({
      catalog,
      clock,
      refreshIntervalMs: config.limits.catalogRefreshMs,
    }),
    background,
    instanceId: newId('gw'),
    counters: createMemoryCounterStore(config.limits.counterEntriesMax),
    metrics: createPrometheusMetrics({
      pool,
      gate,
      background,
      holdsPending: createHoldsReader(options.opened.connection),
      currency: config.currency,
      processMetrics: options.processMetrics ?? false,
    }),
    gate,
    audit: createSqliteAuditLog(options.opened.database),
  };
}
