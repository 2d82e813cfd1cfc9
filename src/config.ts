/**
 * Every setting of the gateway, validated once at start by one zod schema. Limits live here with
 * explicit defaults so that nothing on the request path relies on a library's hidden default.
 */
import { z } from 'zod';

const integer = (minimum: number, maximum: number) =>
  z.coerce.number().int().min(minimum).max(maximum);

const booleanFlag = z
  .union([z.boolean(), z.enum(['1', '0', 'true', 'false', 'yes', 'no', ''])])
  .transform((value) => value === true || value === '1' || value === 'true' || value === 'yes');

export const limitsSchema = z
  .strictObject({
    /** Largest request body accepted on any route. */
    requestBodyBytesMax: integer(1024, 64 * 1024 * 1024).default(4 * 1024 * 1024),
    /** Largest non-streaming upstream response the gateway buffers. */
    upstreamResponseBytesMax: integer(1024, 256 * 1024 * 1024).default(32 * 1024 * 1024),
    upstreamConnectTimeoutMs: integer(100, 60_000).default(5_000),
    /** Time to the upstream's response headers; an LLM may think for a while before answering. */
    upstreamHeadersTimeoutMs: integer(100, 3_600_000).default(300_000),
    /** Longest silence between two upstream body chunks. */
    upstreamBodyIdleTimeoutMs: integer(100, 3_600_000).default(300_000),
    upstreamConnectionsPerBackend: integer(1, 4096).default(64),
    /** Extra attempts on other backends before the first byte reaches the client. */
    retryCountMax: integer(0, 10).default(2),
    /** Consecutive connection failures that mark a backend unhealthy. */
    backendFailureCountMax: integer(1, 100).default(2),
    healthProbeIntervalMs: integer(100, 600_000).default(5_000),
    healthProbeTimeoutMs: integer(100, 60_000).default(2_000),
    listPageSizeMax: integer(1, 1000).default(100),
    /** How long an authenticated key stays cached in memory before it is read again. */
    credentialCacheTtlMs: integer(0, 600_000).default(10_000),
    credentialCacheEntriesMax: integer(1, 10_000_000).default(100_000),
    /** Longest list in a JSON field we store: models of a key or backend, regions of a tenant. */
    listFieldLengthMax: integer(1, 10_000).default(256),
    /** Largest max_tokens a request may ask for, whatever the model. */
    outputTokensMax: integer(1, 10_000_000).default(1_000_000),
    messagesCountMax: integer(1, 100_000).default(4_096),
    /** Deepest nesting of objects and arrays a JSON body may have. */
    jsonDepthMax: integer(4, 10_000).default(64),
    /** Tokens one image part is reserved at... */
    imageTokensEstimate: integer(0, 1_000_000).default(1_024),
    /** ...and the most a backend may bill for one, on any model served. */
    imageTokensMax: integer(0, 1_000_000).default(16_384),
    /** Input a backend may bill beyond one token per byte: template tokens per text... */
    templateTokensPerText: integer(0, 100_000).default(16),
    /** ...and per request (a default system prompt, primers). */
    templateTokensPerRequest: integer(0, 1_000_000).default(256),
    embeddingInputsMax: integer(1, 100_000).default(2_048),
    /** Output cap assumed when a request gives no max_tokens and the model sets none. */
    outputTokensDefault: integer(1, 1_000_000).default(4_096),
    /** Largest unfinished server-sent event held while waiting for its end. */
    streamEventBytesMax: integer(1024, 64 * 1024 * 1024).default(1024 * 1024),
    /** Delivered text a stream holds for its recount; beyond it, the older text is counted now. */
    deliveredTextCharsMax: integer(1024, 64 * 1024 * 1024).default(16_384),
    /** Texts up to this long are tokenized on the event loop (well under a millisecond)... */
    tokenizeInlineCharsMax: integer(0, 65_536).default(2_048),
    /** ...longer ones wait for the tokenizer's thread; past this many, the byte estimate is used. */
    tokenizerQueueLengthMax: integer(1, 1_000_000).default(1_024),
    /** How often the catalog cache (prices, models) is reloaded from the store. */
    catalogRefreshMs: integer(0, 3_600_000).default(5_000),
    /** On Workers: how often an isolate reads the coordinator object's log of changes. */
    catalogChangePollMs: integer(0, 60_000).default(1_000),
    /** A stream records its progress every this many delivered chunks... */
    checkpointEventCount: integer(1, 1_000_000).default(64),
    /** ...or this often, whichever comes first, so a crash loses little usage. */
    checkpointIntervalMs: integer(100, 3_600_000).default(2_000),
    heartbeatIntervalMs: integer(100, 600_000).default(1_000),
    /** A gateway silent this long is taken for dead and its holds are swept. */
    ownerSilentMs: integer(500, 3_600_000).default(10_000),
    sweepIntervalMs: integer(100, 3_600_000).default(5_000),
    couponExpiryIntervalMs: integer(100, 86_400_000).default(60_000),
    /** Most ledger entries one listing returns. */
    ledgerEntriesMax: integer(1, 100_000).default(1_000),
    /**
     * Cloudflare Workers: tenant Durable Objects one read or payout asks at once when it needs
     * every tenant's part (a provider's earnings and balance, a program's statement).
     */
    tenantFanOutMax: integer(1, 1_000).default(16),
    /**
     * Cloudflare Workers: a tenant object copies its new usage records to D1 this long after the
     * first of them (several requests' records then travel in one batch)...
     */
    usageCopyDelayMs: integer(0, 600_000).default(1_000),
    /** ...at most this many records in one D1 batch... */
    usageCopyBatchMax: integer(1, 500).default(50),
    /** ...and tries again this long after D1 refused or could not be reached. */
    usageCopyRetryMs: integer(100, 3_600_000).default(30_000),
    /** Cloudflare Workers: a payout whose parts did not all move is tried again this often. */
    payoutRetryIntervalMs: integer(100, 3_600_000).default(60_000),
    /** Reservations a gateway remembers with their holds, so it settles them without reading. */
    openReservationsMax: integer(1, 10_000_000).default(100_000),
    /** Wallet and coupon balances the SQLite ledger keeps in memory; past it, it reads the file. */
    ledgerAccountsInMemoryMax: integer(1, 10_000_000).default(100_000),
    /** Time between two SQLite WAL checkpoints, run by a worker thread off the request path. */
    sqliteCheckpointIntervalMs: integer(10, 600_000).default(250),
    /** WAL pages after which the writer checkpoints by itself: the safety net if the worker stops. */
    sqliteWriterAutocheckpointPages: integer(100, 10_000_000).default(20_000),
    /** Share of requests whose provider-reported output is recounted, in basis points. */
    verificationSampleBps: integer(0, 10_000).default(500),
    /** Reported output above the recount by more than this (basis points) flags the backend. */
    verificationToleranceBps: integer(0, 100_000).default(500),
    /** Claims beyond a request's bound after which a backend is drained on every replica. */
    usageExcessClaimsMax: integer(1, 1_000_000).default(3),
    /** How often each backend's load is scraped from its `metrics_url` (or `/metrics` beside its URL). */
    metricsScrapeIntervalMs: integer(50, 600_000).default(250),
    /** At most one scrape per origin (scheme, host, port) this often, whichever backends share it. */
    metricsScrapeOriginIntervalMs: integer(50, 600_000).default(250),
    /**
     * Backends one scrape pass asks at most, those waiting longest first; the rest wait for the
     * next pass. On Workers each is a subrequest of the request that ran the pass.
     */
    metricsScrapesPerPassMax: integer(1, 10_000).default(32),
    metricsScrapeTimeoutMs: integer(50, 60_000).default(1_000),
    /** Failed scrapes of a backend double the pause before the next, up to this. */
    metricsScrapeBackoffMsMax: integer(50, 3_600_000).default(30_000),
    /** Largest metrics page read from a backend. */
    metricsResponseBytesMax: integer(1024, 64 * 1024 * 1024).default(1024 * 1024),
    /** Scraped load older than this is ignored: the router falls back to its own counters. */
    metricsStaleMs: integer(100, 3_600_000).default(1_000),
    /**
     * Gateways sharing the backends, for replicas without Redis: with Redis each replica counts
     * the live ones itself (those that shared their dispatch counts within
     * dispatchCountsStaleMs). With one, and fresh metrics, the router takes the cheapest.
     */
    gatewayReplicaCount: integer(1, 100_000).optional(),
    /** A backend is full at slots x (1 + this / 10,000) requests: no new request goes there. */
    backendQueueBps: integer(0, 1_000_000).default(10_000),
    /** Requests waiting in the gateway while every candidate is full, and for how long at most. */
    capacityQueueLengthMax: integer(0, 1_000_000).default(1_024),
    capacityQueueTimeoutMs: integer(0, 600_000).default(10_000),
    /** Retries in flight at once, in basis points of the requests in flight, with a floor. */
    retryBudgetBps: integer(0, 10_000).default(1_000),
    retryBudgetMin: integer(0, 100_000).default(3),
    /** Per-try deadline for a stream's first token: 2.5x the predicted time, within these bounds. */
    firstTokenTimeoutMinMs: integer(50, 3_600_000).default(2_000),
    firstTokenTimeoutMaxMs: integer(50, 3_600_000).default(30_000),
    /** Consecutive failed attempts that open a backend's circuit... */
    breakerFailureCountMax: integer(1, 10_000).default(5),
    /** ...or open it while the backend has not answered once since it joined the pool. */
    breakerColdFailureCountMax: integer(1, 10_000).default(2),
    /** First open time of a circuit; each reopening doubles it, up to the maximum. */
    breakerOpenMs: integer(10, 3_600_000).default(5_000),
    breakerOpenMsMax: integer(10, 86_400_000).default(60_000),
    /** Successful half-open probes that close a circuit again. */
    breakerCloseSuccessCount: integer(1, 1_000).default(3),
    /** Share of the pool whose circuits may be open at once (basis points); never above half. */
    breakerOpenShareMaxBps: integer(0, 5_000).default(5_000),
    /** A backend's Retry-After is honoured up to this long. */
    retryAfterMsMax: integer(0, 3_600_000).default(60_000),
    /** How fast the router forgets failures: the half-life of its failure-rate estimate. */
    routingFailureHalfLifeMs: integer(10, 3_600_000).default(10_000),
    /**
     * Share of the predicted decode time (output tokens x inter-token latency) a stream's route
     * cost counts, in basis points; a JSON answer counts all of it.
     */
    routingStreamDecodeWeightBps: integer(0, 10_000).default(2_000),
    /**
     * An interactive request goes to a cheaper region (price, off-peak window included) when the
     * best backend there is predicted to take at most this much longer; 0 ignores prices.
     */
    routingPriceMarginMs: integer(0, 3_600_000).default(50),
    /** Spill from the home region only while another's cost x (1 + bps / 10,000) + ms stays below. */
    regionSpillMarginBps: integer(0, 10_000).default(2_000),
    regionSpillMarginMs: integer(0, 600_000).default(100),
    regionSpillHoldMs: integer(0, 600_000).default(2_000),
    /** Deadline of a graceful shutdown before in-flight requests are cut. */
    shutdownGraceMs: integer(0, 3_600_000).default(30_000),
    /** After the cut, how long a shutdown waits for settlements before it closes the store. */
    shutdownSettleMs: integer(0, 600_000).default(10_000),
    /** Largest max_tokens per model, below outputTokensMax: `{"qwen2.5-7b": 8192}`. */
    outputTokensMaxByModel: z
      .record(z.string().min(1).max(256), integer(1, 10_000_000))
      .default({}),
    /** Requests per minute of a key whose own `rpm` is unset; 0 leaves such keys unlimited. */
    keyRequestsPerMinuteDefault: integer(0, 100_000_000).default(0),
    /** Tokens per minute of a key whose own `tpm` is unset; 0 leaves such keys unlimited. */
    keyTokensPerMinuteDefault: integer(0, 1_000_000_000_000).default(0),
    /** Streams one key may have open at once; more answer 429 rate_limit_exceeded. */
    streamsPerKeyMax: integer(1, 1_000_000).default(1_024),
    /** Inference requests in flight in this process; more answer 503 no_capacity. */
    inFlightRequestsMax: integer(1, 10_000_000).default(10_000),
    /** Settlements and checkpoints waiting for the store; more refuse new requests with 503. */
    backgroundWorkPendingMax: integer(1, 10_000_000).default(100_000),
    /** Rate-limit buckets kept in memory before refilled ones are dropped. */
    counterEntriesMax: integer(1, 100_000_000).default(1_000_000),
    /** PostgreSQL store: connections this process opens at most (the elected-jobs lease adds one). */
    postgresConnectionsMax: integer(1, 1_000).default(10),
    /** Longest wait for a PostgreSQL connection: a new one, or a free one from a busy pool. */
    postgresConnectTimeoutMs: integer(100, 600_000).default(5_000),
    /** Longest one PostgreSQL statement may run (the server's statement_timeout). */
    postgresStatementTimeoutMs: integer(100, 3_600_000).default(30_000),
    /** A PostgreSQL transaction left idle this long is ended by the server. */
    postgresIdleInTransactionTimeoutMs: integer(100, 3_600_000).default(60_000),
    /** A pooled PostgreSQL connection unused this long is closed. */
    postgresIdleConnectionTimeoutMs: integer(100, 3_600_000).default(30_000),
    /** Retries of a ledger transaction the store aborted for a serialization failure or deadlock. */
    ledgerConflictRetryCountMax: integer(0, 100).default(8),
    /** Redis (TOKENBANK_REDIS_URL): longest wait for a connection, then for one command's answer. */
    redisConnectTimeoutMs: integer(50, 60_000).default(2_000),
    redisCommandTimeoutMs: integer(10, 60_000).default(1_000),
    /** Reconnection attempts to Redis back off up to this pause between two. */
    redisReconnectDelayMsMax: integer(10, 60_000).default(1_000),
    /** After a failed Redis call, this replica keeps to its local state this long before retrying. */
    sharedStateRetryMs: integer(0, 600_000).default(1_000),
    /** How often a replica publishes its requests in flight per backend and reads the others'. */
    dispatchCountsShareIntervalMs: integer(10, 60_000).default(100),
    /** A replica that published no counts for this long counts for no requests anywhere. */
    dispatchCountsStaleMs: integer(100, 600_000).default(1_000),
    /** Longest a top-up or coupon grant holds its reference's lock, should its replica die. */
    referenceLockTtlMs: integer(100, 600_000).default(10_000),
    /** Backends one provider may have registered (not removed) at once. */
    backendsPerProviderMax: integer(1, 1_000_000).default(64),
    /** Usage records one page of a usage read or export returns without `?limit`, and at most. */
    usagePageSizeDefault: integer(1, 100_000).default(1_000),
    usagePageSizeMax: integer(1, 100_000).default(10_000),
    /** A usage read without `?from` covers this many days back from `to`... */
    usageRangeDaysDefault: integer(1, 3_660).default(30),
    /** ...and no usage read spans more days than this. */
    usageRangeDaysMax: integer(1, 3_660).default(92),
    /** Longest a second request with the same reference waits for the first before a 409. */
    referenceLockWaitMs: integer(0, 600_000).default(5_000),
    /** How often the batch scheduler looks for work and spare room. */
    batchTickMs: integer(10, 600_000).default(1_000),
    /** Share of every backend's slots batch lines leave free for interactive requests. */
    batchInteractiveReserveBps: integer(0, 10_000).default(2_500),
    /** Batch lines this gateway runs at once, whatever the room. */
    batchLinesInFlightMax: integer(1, 100_000).default(64),
    /**
     * The last stretch of a batch's window runs whatever the price, so it finishes in time: at
     * least this long, longer when its lines left need more at their measured pace...
     */
    batchDeadlineRunwayS: integer(0, 7 * 86_400).default(3_600),
    /** ...and the run time a line is assumed to take until lines have been measured. */
    batchLineSecondsEstimate: integer(1, 86_400).default(60),
    /** The longest custom_id of a batch line. */
    batchCustomIdCharsMax: integer(1, 4_096).default(512),
    /** Validation errors a failed batch lists (the count of the rest is said). */
    batchErrorsListedMax: integer(1, 10_000).default(100),
    /** Batches of one tenant not yet ended. */
    batchesOpenPerTenantMax: integer(1, 100_000).default(100),
    /** Largest file one POST /v1/files may upload (OpenAI's batch input limit is of this order). */
    fileUploadBytesMax: integer(1, 1024 * 1024 * 1024).default(100 * 1024 * 1024),
    /** What an upload's form may carry besides the file: boundaries, part headers, `purpose`. */
    fileFormOverheadBytesMax: integer(1024, 1024 * 1024).default(64 * 1024),
    /** Longest file name an upload may give. */
    fileNameCharsMax: integer(1, 4096).default(255),
    /** Most lines (requests) one batch input file may hold. */
    batchLinesMax: integer(1, 10_000_000).default(50_000),
    /** Files one tenant may hold at once, of every purpose, counted when it uploads one more. */
    filesPerTenantMax: integer(1, 100_000_000).default(1_000),
    /** Bytes one tenant's files may hold at once, counted when it uploads one more. */
    fileBytesPerTenantMax: integer(1, Number.MAX_SAFE_INTEGER).default(1024 * 1024 * 1024),
    /** How long a tenant's files are kept once it stops paying its storage ticks. */
    storageGraceS: integer(0, 366 * 86_400).default(7 * 86_400),
    /** An upload is refused unless the tenant can pay this long a storage of all it would hold. */
    storageUploadCoverS: integer(0, 366 * 86_400).default(86_400),
    /** How often the elected gateway looks for a storage tick to charge (idempotent per tick). */
    storageCheckIntervalMs: integer(100, 3_600_000).default(60_000),
    /**
     * On Workers, how long one Cron Trigger invocation keeps sending batch lines; the lines it
     * sent then end as they would, and the rest wait for the next invocation (every minute).
     */
    workersCronPassMs: integer(1_000, 900_000).default(45_000),
    /** How often each gateway reloads the running leases, and the elected one closes those over. */
    leaseCheckIntervalMs: integer(100, 3_600_000).default(30_000),
    /** Response bytes a transport reservation allows per output token, and... */
    transportResponseBytesPerToken: integer(1, 1_000_000).default(16),
    /** ...beyond them (the answer's envelope, an embedding's vectors); settlement charges the actual. */
    transportResponseOverheadBytes: integer(0, 256 * 1024 * 1024).default(16 * 1024),
  })
  .refine((limits) => limits.usagePageSizeDefault <= limits.usagePageSizeMax, {
    message: 'usagePageSizeDefault must not exceed usagePageSizeMax',
    path: ['usagePageSizeDefault'],
  })
  .refine((limits) => limits.usageRangeDaysDefault <= limits.usageRangeDaysMax, {
    message: 'usageRangeDaysDefault must not exceed usageRangeDaysMax',
    path: ['usageRangeDaysDefault'],
  })
  .refine((limits) => limits.fileUploadBytesMax <= limits.fileBytesPerTenantMax, {
    message: 'fileUploadBytesMax must not exceed fileBytesPerTenantMax: no such file could be held',
    path: ['fileUploadBytesMax'],
  })
  // A scrape must stay fresh until the next one lands, or the router never uses what it scraped.
  .refine((limits) => limits.metricsStaleMs >= 2 * limits.metricsScrapeIntervalMs, {
    message:
      'metricsStaleMs must be at least twice metricsScrapeIntervalMs (three times is safer): a scrape would go stale before the next one arrives',
    path: ['metricsStaleMs'],
  });

export const configSchema = z.object({
  port: integer(0, 65_535).default(8787),
  host: z.string().min(1).default('127.0.0.1'),
  database: z.string().min(1).default('./data/tokenbank.db'),
  redisUrl: z.string().url().optional(),
  /** Every Redis key and channel of this deployment starts with it; replicas share one prefix. */
  redisPrefix: z
    .string()
    .regex(
      /^[A-Za-z0-9:_.-]{1,64}$/,
      'TOKENBANK_REDIS_PREFIX must be 1 to 64 of A-Z a-z 0-9 : _ . -',
    )
    .default('tokenbank:'),
  adminToken: z
    .string()
    .min(24, 'TOKENBANK_ADMIN_TOKEN must be at least 24 characters')
    .max(512)
    .optional(),
  currency: z
    .string()
    .regex(/^[A-Z]{3}$/, 'TOKENBANK_CURRENCY must be a 3-letter ISO 4217 code')
    .default('CNY'),
  allowPrivateBackends: booleanFlag.default(false),
  /** A backend registered by a provider serves at once, without the operator's approval. */
  autoApproveBackends: booleanFlag.default(false),
  /** A backend's metrics_url may name another host than its url (a separate exporter). */
  allowForeignMetricsHosts: booleanFlag.default(false),
  requestTimeoutS: integer(1, 86_400).default(600),
  /** Length of a storage tick: stored bytes are charged once per tick, in GB-hours. */
  storageTickS: integer(1, 31 * 86_400).default(3_600),
  logLevel: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  /** BPE encoding per model for the gateway's own counts; others use the default. */
  tokenizerEncodingDefault: z.enum(['o200k_base', 'cl100k_base']).default('o200k_base'),
  modelEncodings: z.record(z.string(), z.enum(['o200k_base', 'cl100k_base'])).default({}),
  limits: limitsSchema.default(limitsSchema.parse({})),
});

export type Config = z.infer<typeof configSchema>;
export type Limits = z.infer<typeof limitsSchema>;

export type StoreKind = 'sqlite' | 'postgres';

/**
 * Which store a TOKENBANK_DB setting names: a `postgres://` or `postgresql://` URL is a shared
 * PostgreSQL (several replicas); anything else, a path or `sqlite:PATH`, the embedded SQLite file.
 */
export function storeKindOf(database: string): StoreKind {
  return /^postgres(ql)?:\/\//i.test(database) ? 'postgres' : 'sqlite';
}

/** The store as logs and messages name it: a PostgreSQL URL without its user and password. */
export function storeLabelOf(database: string): string {
  if (storeKindOf(database) === 'sqlite') {
    return database;
  }
  const parsed = new URL(database);
  return `postgres://${parsed.host}${parsed.pathname}`;
}

/** Environment variables of API.md and the config key each one sets. */
const environmentKeys = {
  TOKENBANK_PORT: 'port',
  TOKENBANK_HOST: 'host',
  TOKENBANK_DB: 'database',
  TOKENBANK_REDIS_URL: 'redisUrl',
  TOKENBANK_REDIS_PREFIX: 'redisPrefix',
  TOKENBANK_ADMIN_TOKEN: 'adminToken',
  TOKENBANK_CURRENCY: 'currency',
  TOKENBANK_ALLOW_PRIVATE_BACKENDS: 'allowPrivateBackends',
  TOKENBANK_AUTO_APPROVE_BACKENDS: 'autoApproveBackends',
  TOKENBANK_ALLOW_FOREIGN_METRICS_HOSTS: 'allowForeignMetricsHosts',
  TOKENBANK_REQUEST_TIMEOUT_S: 'requestTimeoutS',
  TOKENBANK_STORAGE_TICK_S: 'storageTickS',
  TOKENBANK_LOG_LEVEL: 'logLevel',
  TOKENBANK_LIMITS: 'limits',
} as const satisfies Record<string, keyof Config>;

export type ConfigInput = Partial<Record<keyof Config, unknown>>;

/** TOKENBANK_LIMITS holds a JSON object of limits to override; unparsable text fails validation. */
function parseLimitsJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return 'not JSON';
  }
}

export type ConfigResult = { ok: true; config: Config } | { ok: false; message: string };

/**
 * Flags win over environment, environment over defaults. An empty environment variable counts as
 * unset. The message of a failure names both the setting and its variable.
 */
export function parseConfig(
  environment: Record<string, string | undefined>,
  flags: ConfigInput = {},
): ConfigResult {
  const input: Record<string, unknown> = {};
  for (const [variable, key] of Object.entries(environmentKeys)) {
    const value = environment[variable];
    if (value !== undefined && value !== '') {
      input[key] = key === 'limits' ? parseLimitsJson(value) : value;
    }
  }
  for (const [key, value] of Object.entries(flags)) {
    if (value !== undefined) {
      input[key] = value;
    }
  }
  const parsed = configSchema.safeParse(input);
  if (parsed.success) {
    return { ok: true, config: parsed.data };
  }
  const message = parsed.error.issues
    .map((issue) => {
      const key = String(issue.path[0] ?? '');
      const variable = Object.entries(environmentKeys).find(([, name]) => name === key)?.[0];
      return `${key}${variable ? ` (${variable})` : ''}: ${issue.message}`;
    })
    .join('; ');
  return { ok: false, message: `invalid configuration: ${message}` };
}
