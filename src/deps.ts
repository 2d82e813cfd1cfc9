/**
 * Everything the app needs from the outside world, built once by a runtime adapter and handed to
 * createApp. Routes read it from the Hono context (`c.get('deps')`), never from globals.
 */
import type { Context } from 'hono';
import type { BackendPool } from './backends/backend-pool.ts';
import type { ResolveHost } from './backends/backend-url-policy.ts';
import type { CapacityWaitQueue } from './backends/capacity-wait-queue.ts';
import type { RetryBudget } from './backends/retry-budget.ts';
import type { Router } from './backends/router.ts';
import type { Upstream } from './backends/upstream.ts';
import type { Ledger } from './billing/ledger.ts';
import type { Config } from './config.ts';
import type { AuditLog } from './db/audit-log.ts';
import type { ApiKeyRecord, Catalog, ProviderRecord, TenantRecord } from './db/catalog.ts';
import type { CatalogCache } from './gateway/catalog-cache.ts';
import type { CredentialCache } from './gateway/credential-cache.ts';
import type { RequestLog } from './gateway/middleware/request-log.ts';
import type { BackgroundWork } from './platform/background-work.ts';
import type { Clock } from './platform/clock.ts';
import type { CounterStore } from './platform/counter-store.ts';
import type { HashText } from './platform/identifiers.ts';
import type { Logger } from './platform/logger.ts';
import type { Metrics } from './platform/metrics.ts';
import type { Random } from './platform/random.ts';
import type { RequestGate } from './platform/request-gate.ts';
import type { Tokenizer } from './platform/tokenizer.ts';

/** Reads the whole request body once, refusing more than `bytesMax` bytes. */
export type ReadRequestBody = (c: Context<HonoEnv>, bytesMax: number) => Promise<Uint8Array>;

export type ClientIdentity = { key: ApiKeyRecord; tenant: TenantRecord };

export type Deps = {
  config: Config;
  catalog: Catalog;
  pool: BackendPool;
  router: Router;
  /** Retries in flight, bounded by a share of the requests in flight. */
  retryBudget: RetryBudget;
  /** Requests waiting for a backend with room. */
  capacityQueue: CapacityWaitQueue;
  upstream: Upstream;
  clock: Clock;
  logger: Logger;
  random: Random;
  hashText: HashText;
  resolveHost: ResolveHost;
  readRequestBody: ReadRequestBody;
  clients: CredentialCache<ClientIdentity>;
  providers: CredentialCache<ProviderRecord>;
  /** SHA-256 of every admin token that is accepted. */
  adminTokenHashes: readonly string[];
  ledger: Ledger;
  tokenizer: Tokenizer;
  catalogCache: CatalogCache;
  background: BackgroundWork;
  /** This gateway process, as its holds name their owner. */
  instanceId: string;
  /** Per-key rate windows and stream counts. */
  counters: CounterStore;
  metrics: Metrics;
  /** Requests in flight, and whether a shutdown has begun. */
  gate: RequestGate;
  audit: AuditLog;
};

export type HonoEnv = {
  Variables: {
    deps: Deps;
    requestId: string;
    client: ClientIdentity;
    provider: ProviderRecord;
    requestLog: RequestLog;
  };
};
