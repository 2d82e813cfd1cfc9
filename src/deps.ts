/**
 * Everything the app needs from the outside world, built once by a runtime adapter and handed to
 * createApp. Routes read it from the Hono context (`c.get('deps')`), never from globals.
 */
import type { Context } from 'hono';
import type { BackendPool } from './backends/backend-pool.ts';
import type { CapacityWaitQueue } from './backends/capacity-wait-queue.ts';
import type { RetryBudget } from './backends/routing/retry-budget.ts';
import type { Router } from './backends/routing/router.ts';
import type { ResolveHost } from './backends/upstream/backend-url-policy.ts';
import type { Upstream } from './backends/upstream/upstream.ts';
import type { PinnedPrice } from './billing/cost.ts';
import type { Ledger } from './billing/ledger.ts';
import type { BookedMeterPrice } from './billing/meter-prices.ts';
import type { Config } from './config.ts';
import type { AuditLog } from './db/audit-log.ts';
import type { BatchStore } from './db/batch-store.ts';
import type { ApiKeyRecord, Catalog, ProviderRecord, TenantRecord } from './db/catalog.ts';
import type { FileStore } from './db/file-store.ts';
import type { LeaseStore } from './db/lease-store.ts';
import type { ConsoleAssets } from './gateway/console/console-assets.ts';
import type { LeaseRegistry } from './gateway/leases/lease-registry.ts';
import type { AbortNotice } from './platform/abort-notice.ts';
import type { BackgroundWork } from './platform/background-work.ts';
import type { Clock } from './platform/clock.ts';
import type { CredentialCache } from './platform/credential-cache.ts';
import type { HashText } from './platform/identifiers.ts';
import type { JobLease } from './platform/job-lease.ts';
import type { Logger } from './platform/logger.ts';
import type { Metrics } from './platform/metrics.ts';
import type { Random } from './platform/random.ts';
import type { RequestGate } from './platform/request-gate.ts';
import type { CounterStore } from './platform/shared-state/counter-store.ts';
import type { SharedState } from './platform/shared-state/shared-state.ts';
import type { Tokenizer } from './platform/tokenizer.ts';

/**
 * How handlers read the client's request. A runtime reads its own request object: building the
 * WHATWG Request (headers, body stream, abort signal) costs more than the whole of a bare proxy.
 */
export type RequestAccess = {
  /** Reads the whole body once, refusing more than `bytesMax` bytes. */
  readBody(c: Context<HonoEnv>, bytesMax: number): Promise<Uint8Array>;
  /** One request header, by its lower-case name. */
  header(c: Context<HonoEnv>, name: string): string | undefined;
  /** Aborts when the client goes away before its answer is complete; call once per request. */
  clientSignal(c: Context<HonoEnv>): AbortNotice;
};

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
  request: RequestAccess;
  clients: CredentialCache<ClientIdentity>;
  providers: CredentialCache<ProviderRecord>;
  /** SHA-256 of every admin token that is accepted. */
  adminTokens: AdminTokenSet;
  ledger: Ledger;
  tokenizer: Tokenizer;
  catalogCache: CatalogCache;
  background: BackgroundWork;
  /** This gateway process, as its holds name their owner. */
  instanceId: string;
  /** Per-key rate windows and stream counts: shared by the replicas with Redis, else local. */
  counters: CounterStore;
  /** What else the replicas share (Redis), or this process's own stand-ins. */
  sharedState: SharedState;
  metrics: Metrics;
  /** Whether this replica runs the jobs that must run once on a shared store (sweep, expiry). */
  jobLease: JobLease;
  /** Requests in flight, and whether a shutdown has begun. */
  gate: RequestGate;
  audit: AuditLog;
  /** Batches and their lines, run by the cross-cycle scheduler (gateway/batch/). */
  batches: BatchStore;
  /** The Files API's files (batch inputs and outputs), every read scoped by tenant. */
  files: FileStore;
  /** Card-hour leases and the backends they pin. */
  leases: LeaseStore;
  /** The running leases as the router sees them, in memory. */
  leaseRegistry: LeaseRegistry;
  /** The web console's built client (dist/console), as this runtime provides it. */
  consoleAssets: ConsoleAssets;
};

/**
 * The catalog reads on the hot path (price versions, model output caps) served from memory; the
 * in-memory implementation is gateway/replicas/catalog-cache.ts.
 */
export type CatalogCache = {
  /** Reads the catalog again at once (after this process's own admin writes, or a change bus). */
  reload(): Promise<void>;
  /** The price of a model in a region as it stood at `atMs`, with the multiplier then. */
  pinnedPrice(model: string, region: string, atMs: number): Promise<PinnedPrice | undefined>;
  /** When the off-peak window of the price in force at `atMs` next begins (`atMs` inside it). */
  nextOffpeakAtMs(model: string, region: string, atMs: number): Promise<number | undefined>;
  /** The output cap a request without max_tokens is reserved for. */
  outputTokensDefault(model: string, deploymentDefault: number): Promise<number>;
  /** The storage and transport prices now, newest of each meter and region pair. */
  meterPrices(): Promise<readonly BookedMeterPrice[]>;
};

/**
 * The admin tokens accepted, by hash (gateway/admin/admin-tokens.ts): fixed when the operator
 * configured one, else stored and rotatable through any replica.
 */
export type AdminTokenSet = {
  readonly configured: boolean;
  /** The accepted hashes, read again from the store when the copy is older than its TTL. */
  current(): Promise<readonly string[]>;
  /** Reads the stored hashes now. */
  reload(): Promise<void>;
};

/** What the request log line says of a request; handlers fill it in on the way. */
export type RequestLog = {
  /** `admin:{hash prefix}`, `provider:{id}` or `key:{id}`, once authenticated. */
  actor: string | undefined;
  tenantId: string | undefined;
  /** Set only once the model is known to be served: never a name a client made up. */
  model: string | undefined;
  backendId: string | undefined;
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
