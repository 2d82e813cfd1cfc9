/**
 * The Metrics port over prom-client, one registry per gateway: counters and histograms the core
 * feeds as requests go by, and gauges read at scrape time from the live state (the backend pool,
 * requests in flight, settlements pending, holds in the store). Optionally the process's own
 * metrics (memory, event-loop lag, GC), which only a real `tokenbank serve` turns on.
 */
import type Database from 'better-sqlite3';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import {
  type BackendPool,
  flagsOf,
  stateOf,
  verificationCounts,
} from '../../backends/backend-pool.ts';
import type { BackgroundWork } from '../../platform/background-work.ts';
import type { Metrics } from '../../platform/metrics.ts';
import type { RequestGate } from '../../platform/request-gate.ts';
import {
  type SharedStateHealth,
  sharedStateParts,
} from '../../platform/shared-state/shared-state-health.ts';

export type HoldsPending = { count: number; amountMicro: bigint };

export type MetricsSources = {
  pool: BackendPool;
  gate: RequestGate;
  background: BackgroundWork;
  /** Read at scrape time; a shared store answers asynchronously. */
  holdsPending: () => HoldsPending | Promise<HoldsPending>;
  /** Whether this replica runs the elected background jobs. */
  jobLeader: () => boolean;
  currency: string;
  /** Process memory, CPU, event-loop lag and GC: once per process, not per test gateway. */
  processMetrics: boolean;
  /** Whether the state shared with other replicas (Redis) works, per part. */
  sharedStateHealth: SharedStateHealth;
};

const backendStates = ['healthy', 'unhealthy', 'draining', 'open'] as const;

/** Seconds, from 10 ms (a cached answer) to 10 minutes (the request timeout). */
const durationBucketsS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
const firstTokenBucketsS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60];

/** Counts reservations still holding money, from the store (an index on status serves it). */
export function createHoldsReader(connection: Database.Database): () => HoldsPending {
  const statement = connection
    .prepare(
      `SELECT count(*) AS count, coalesce(sum(reserved_amount), 0) AS amount
       FROM reservations WHERE status = 'reserved'`,
    )
    .safeIntegers(true);
  return () => {
    const row = statement.get() as { count: bigint; amount: bigint };
    return { count: Number(row.count), amountMicro: row.amount };
  };
}

export function createPrometheusMetrics(sources: MetricsSources): Metrics {
  const registry = new Registry();
  const registers = [registry];
  if (sources.processMetrics) {
    collectDefaultMetrics({ register: registry, prefix: 'tokenbank_' });
  }
  const requests = new Counter({
    name: 'tokenbank_requests_total',
    help: 'HTTP requests answered, by served model (none when the request named none) and status.',
    labelNames: ['model', 'status'] as const,
    registers,
  });
  const firstToken = new Histogram({
    name: 'tokenbank_time_to_first_token_seconds',
    help: 'Streams: from admission to the first output token relayed to the client.',
    labelNames: ['model'] as const,
    buckets: firstTokenBucketsS,
    registers,
  });
  const duration = new Histogram({
    name: 'tokenbank_request_duration_seconds',
    help: 'Inference requests: from admission to settlement or release.',
    labelNames: ['model', 'outcome'] as const,
    buckets: durationBucketsS,
    registers,
  });
  const tokens = new Counter({
    name: 'tokenbank_tokens_total',
    help: 'Tokens billed, by model and kind (input excludes cached_input).',
    labelNames: ['model', 'kind'] as const,
    registers,
  });
  const money = new Counter({
    name: 'tokenbank_money_debited_micro_total',
    help: 'Money settled requests debited, in micro-units of the currency, by who paid.',
    labelNames: ['source', 'currency'] as const,
    registers,
  });
  const writeOffs = new Counter({
    name: 'tokenbank_write_offs_micro_total',
    help: 'Usage above what the tenant could pay, written off, in micro-units of the currency.',
    labelNames: ['currency'] as const,
    registers,
  });
  const limited = new Counter({
    name: 'tokenbank_limited_total',
    help: 'Requests refused by a limit, by limit.',
    labelNames: ['limit'] as const,
    registers,
  });
  registerStateGauges(sources, registers);
  return {
    countRequest: (model, status) => requests.inc({ model, status: String(status) }),
    observeTimeToFirstTokenMs: (model, durationMs) =>
      firstToken.observe({ model }, durationMs / 1000),
    observeRequestDurationMs: (model, outcome, durationMs) =>
      duration.observe({ model, outcome }, durationMs / 1000),
    countTokens: (model, kind, count) => {
      if (count > 0) {
        tokens.inc({ model, kind }, count);
      }
    },
    countMoney: (source, amountMicro) => {
      if (amountMicro <= 0n) {
        return;
      }
      money.inc({ source, currency: sources.currency }, Number(amountMicro));
      if (source === 'write_off') {
        writeOffs.inc({ currency: sources.currency }, Number(amountMicro));
      }
    },
    countLimited: (kind) => limited.inc({ limit: kind }),
    render: async () => ({ contentType: registry.contentType, body: await registry.metrics() }),
  };
}

/** Gauges whose value is read from the live state when Prometheus scrapes. */
function registerStateGauges(sources: MetricsSources, registers: Registry[]): void {
  const { pool } = sources;
  new Gauge({
    name: 'tokenbank_requests_in_flight',
    help: 'Inference requests admitted and not yet settled or released.',
    registers,
    collect() {
      this.set(sources.gate.inFlightCount);
    },
  });
  new Gauge({
    name: 'tokenbank_background_work_pending',
    help: 'Settlements, checkpoints and verifications waiting to finish.',
    registers,
    collect() {
      this.set(sources.background.pendingCount);
    },
  });
  new Gauge({
    name: 'tokenbank_holds_pending',
    help: 'Reservations holding money for requests not yet settled or released.',
    registers,
    async collect() {
      this.set((await sources.holdsPending()).count);
    },
  });
  new Gauge({
    name: 'tokenbank_holds_pending_micro',
    help: 'Money held for requests in flight, in micro-units of the currency.',
    labelNames: ['currency'] as const,
    registers,
    async collect() {
      this.set({ currency: sources.currency }, Number((await sources.holdsPending()).amountMicro));
    },
  });
  new Gauge({
    name: 'tokenbank_background_jobs_leader',
    help: 'Whether this replica runs the jobs that must run once on the store (sweep, expiry).',
    registers,
    collect() {
      this.set(sources.jobLeader() ? 1 : 0);
    },
  });
  new Gauge({
    name: 'tokenbank_backend_in_flight',
    help: 'Requests this gateway has in flight on each backend.',
    labelNames: ['backend', 'provider', 'region'] as const,
    registers,
    collect() {
      this.reset();
      for (const backend of pool.all()) {
        const { id, providerId, region } = backend.record;
        this.set({ backend: id, provider: providerId, region }, backend.inFlight);
      }
    },
  });
  new Gauge({
    name: 'tokenbank_backend_state',
    help: 'Each backend state, 1 for the one it is in.',
    labelNames: ['backend', 'state'] as const,
    registers,
    collect() {
      this.reset();
      for (const backend of pool.all()) {
        const current = stateOf(backend);
        for (const state of backendStates) {
          this.set({ backend: backend.record.id, state }, state === current ? 1 : 0);
        }
      }
    },
  });
  new Gauge({
    name: 'tokenbank_backend_latency_ewma_seconds',
    help: 'Average time to response headers, as the router sees it.',
    labelNames: ['backend'] as const,
    registers,
    collect() {
      this.reset();
      for (const backend of pool.all()) {
        if (backend.latencyEwmaMs !== undefined) {
          this.set({ backend: backend.record.id }, backend.latencyEwmaMs / 1000);
        }
      }
    },
  });
  registerVerificationGauges(pool, registers);
  registerSharedStateMetrics(sources.sharedStateHealth, registers);
}

/** Redis trouble, per part: whether it is degraded to local state now, and how often it was. */
function registerSharedStateMetrics(health: SharedStateHealth, registers: Registry[]): void {
  new Gauge({
    name: 'tokenbank_shared_state_degraded',
    help: 'Per part of the state shared with other replicas, 1 while it falls back to local state.',
    labelNames: ['part'] as const,
    registers,
    collect() {
      for (const part of sharedStateParts) {
        this.set({ part }, health.view(part).degraded ? 1 : 0);
      }
    },
  });
  new Counter({
    name: 'tokenbank_shared_state_fallbacks_total',
    help: 'Calls to the shared state (Redis) served by local state instead, per part.',
    labelNames: ['part'] as const,
    registers,
    collect() {
      this.reset();
      for (const part of sharedStateParts) {
        this.inc({ part }, health.view(part).fallbackCount);
      }
    },
  });
}

/** The sampled recounts of provider-reported usage, per backend. */
function registerVerificationGauges(pool: BackendPool, registers: Registry[]): void {
  const gauges = [
    ['excess_claims', 'Claims of usage beyond what the request could have produced.'],
    ['sampled_requests', 'Requests whose reported usage was recounted.'],
    ['reported_input_tokens', 'Input tokens the backend reported on the sampled requests.'],
    ['allowed_input_tokens', 'Recounted input plus template tokens on the sampled requests.'],
    ['reported_output_tokens', 'Output tokens the backend reported on the sampled requests.'],
    ['recounted_output_tokens', 'Output tokens the gateway counted on the sampled requests.'],
    ['discrepancy_output_tokens', 'Reported minus recounted output tokens on the samples.'],
    ['flagged', '1 when the backend claimed beyond a bound or reported beyond a recount.'],
  ] as const;
  for (const [name, help] of gauges) {
    new Gauge({
      name: `tokenbank_backend_verification_${name}`,
      help,
      labelNames: ['backend'] as const,
      registers,
      collect() {
        this.reset();
        for (const backend of pool.all()) {
          const verification = backend.verification;
          const values = {
            ...verificationCounts(verification),
            discrepancy_output_tokens:
              verification.reportedOutputTokens - verification.recountedOutputTokens,
            flagged: flagsOf(verification).length > 0 ? 1 : 0,
          };
          this.set({ backend: backend.record.id }, values[name]);
        }
      },
    });
  }
}
