/**
 * Builds the Deps of a Node gateway over an opened SQLite store: the one place that wires ports
 * to their Node implementations, shared by `tokenbank serve` and the in-process test harness.
 */
import { BackendPool } from '../../backends/backend-pool.ts';
import type { ResolveHost } from '../../backends/backend-url-policy.ts';
import { createLeastInFlightRouter } from '../../backends/least-in-flight-router.ts';
import type { Config } from '../../config.ts';
import { createSqliteCatalog } from '../../db/sqlite-catalog.ts';
import type { Deps } from '../../deps.ts';
import { CatalogCache } from '../../gateway/catalog-cache.ts';
import { CredentialCache } from '../../gateway/credential-cache.ts';
import { createBackgroundWork } from '../../platform/background-work.ts';
import type { Clock } from '../../platform/clock.ts';
import { newId } from '../../platform/identifiers.ts';
import type { Logger } from '../../platform/logger.ts';
import type { Random } from '../../platform/random.ts';
import { readNodeRequestBody, resolveHostWithDns, sha256Hex } from './node-ports.ts';
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
};

export function createNodeDeps(options: NodeDepsOptions): Deps {
  const { config, clock, logger } = options;
  const catalog = createSqliteCatalog(options.opened.database);
  const cacheOptions = {
    ttlMs: config.limits.credentialCacheTtlMs,
    entriesMax: config.limits.credentialCacheEntriesMax,
    clock,
  };
  return {
    config,
    catalog,
    pool: new BackendPool(config.limits.backendFailureCountMax),
    router: createLeastInFlightRouter(options.random),
    upstream: createUndiciUpstream(config.limits),
    clock,
    logger,
    random: options.random,
    hashText: sha256Hex,
    resolveHost: options.resolveHost ?? resolveHostWithDns,
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
    background: createBackgroundWork(logger),
    instanceId: newId('gw'),
  };
}
