/**
 * The live pool of backends in this gateway process: each registered backend with the state the
 * router needs (in-flight requests, health, circuit breaker, Retry-After, scraped load, learned
 * estimates). The catalog is the source of truth for what is registered; this is the fast
 * in-memory view of it, indexed by model. A draining backend keeps its requests in flight and
 * leaves the pool when the last one ends; its models stay known, so a request for them answers
 * "no capacity now" rather than "no such model". A backend awaiting the operator's approval, or
 * one refused at start (its address is no longer allowed), never enters it.
 */
import type { Limits } from '../config.ts';
import type { BackendRecord } from '../db/catalog.ts';
import {
  abandonCircuitProbe,
  type BreakerSettings,
  beginCircuitAttempt,
  type CircuitBreaker,
  circuitAdmits,
  createCircuitBreaker,
  recordCircuitFailure,
  recordCircuitSuccess,
  refreshCircuit,
} from './health/circuit-breaker.ts';
import { decodeSamplesSince, noDecodeTotals } from './health/scraped-decode.ts';
import type { ScrapedLoad } from './health/scraped-load.ts';
import { type BackendEstimates, createBackendEstimates } from './routing/backend-estimates.ts';
import {
  type BackendLoad,
  createBackendLoad,
  hasRoom,
  type LoadSettings,
  recordScrapedLoad,
  spareRoomOf,
} from './routing/backend-load.ts';
import { createDecayingRate } from './routing/decaying-average.ts';
import { learnScrapedDecode } from './routing/route-learning.ts';
import type { AttemptFailure } from './routing/router.ts';

export type BackendHealth = 'healthy' | 'unhealthy';

/** What GET /admin/v1/backends shows as the state of a backend. */
export type BackendState = 'healthy' | 'unhealthy' | 'draining' | 'open';

/** What GET /admin/v1/backends shows of a backend the pool does not hold. */
export type OutOfPoolState = 'pending' | 'refused' | 'draining' | 'healthy';

export type PooledBackend = {
  record: BackendRecord;
  inFlight: number;
  health: BackendHealth;
  /** Connection failures and timeouts in a row; enough of them make the backend unhealthy. */
  consecutiveFailures: number;
  /** Exponentially weighted time to the first byte; undefined until first observed. */
  latencyEwmaMs: number | undefined;
  lastFailureAtMs: number | undefined;
  verification: UsageVerification;
  breaker: CircuitBreaker;
  /** The backend asked for no requests until then (Retry-After). */
  retryAfterUntilMs: number | undefined;
  load: BackendLoad;
  estimates: BackendEstimates;
};

/**
 * What the gateway knows of the backend's honesty: claims beyond a request's bound (billed at the
 * bound), and sampled recounts of what it reported within the bound.
 */
export type UsageVerification = {
  /** Claims past the bound since the backend joined this process's pool. */
  excessClaimCount: number;
  sampledCount: number;
  reportedInputTokens: number;
  /** The recounted prompt plus the template tokens a backend may add. */
  allowedInputTokens: number;
  reportedOutputTokens: number;
  recountedOutputTokens: number;
  /** Summed over the samples, reported input above what is allowed by more than the tolerance. */
  inputInflated: boolean;
  /** Summed over the samples, reported output above the recount by more than the tolerance. */
  outputInflated: boolean;
};

export type UsageSample = {
  reportedInputTokens: number;
  allowedInputTokens: number;
  reportedOutputTokens: number;
  recountedOutputTokens: number;
};

/** Why a backend is flagged, as GET /admin/v1/backends lists it. */
export type BackendFlag = 'usage_over_bound' | 'input_inflated' | 'output_inflated';

function exceeds(reported: number, expected: number, toleranceBps: number): boolean {
  return reported * 10_000 > expected * (10_000 + toleranceBps);
}

/** A backend's verification record as numbers, under the names the API and metrics use. */
export function verificationCounts(verification: UsageVerification) {
  return {
    excess_claims: verification.excessClaimCount,
    sampled_requests: verification.sampledCount,
    reported_input_tokens: verification.reportedInputTokens,
    allowed_input_tokens: verification.allowedInputTokens,
    reported_output_tokens: verification.reportedOutputTokens,
    recounted_output_tokens: verification.recountedOutputTokens,
  };
}

/** The flags of a backend from its verification record. */
export function flagsOf(verification: UsageVerification): BackendFlag[] {
  const flags: BackendFlag[] = [];
  if (verification.excessClaimCount > 0) {
    flags.push('usage_over_bound');
  }
  if (verification.inputInflated) {
    flags.push('input_inflated');
  }
  if (verification.outputInflated) {
    flags.push('output_inflated');
  }
  return flags;
}

export type PoolSettings = BreakerSettings &
  LoadSettings &
  Pick<Limits, 'backendFailureCountMax' | 'breakerOpenShareMaxBps' | 'retryAfterMsMax'>;

export type PoolListeners = {
  /** A backend left the pool (removed, or drained and idle): its connections can go. */
  onRemoved?: (backendId: string) => void;
  /** An attempt ended somewhere: a request waiting for room may find some now. */
  onCapacityFreed?: () => void;
};

/** Weight of the newest sample in the latency average. */
const latencySmoothing = 0.2;

/** Failures that say nothing answered: enough in a row and the backend is unhealthy. */
const connectionFailures: ReadonlySet<AttemptFailure> = new Set(['connect', 'timeout']);

export class BackendPool {
  readonly #byId = new Map<string, PooledBackend>();
  #byModel = new Map<string, PooledBackend[]>();
  /** Drained backends that left the pool, by id: their models stay known. */
  readonly #drained = new Map<string, BackendRecord>();
  #drainedModels = new Set<string>();
  /** Backends refused at start, by id, with the reason: no record brings them back. */
  readonly #refused = new Map<string, string>();
  #inFlightTotal = 0;
  #peerReplicaCount = 0;
  readonly #settings: PoolSettings;
  readonly #listeners: PoolListeners;

  constructor(settings: PoolSettings, listeners: PoolListeners = {}) {
    this.#settings = settings;
    this.#listeners = listeners;
  }

  get settings(): PoolSettings {
    return this.#settings;
  }

  /** Adds a backend or refreshes its record, keeping its runtime state. */
  upsert(record: BackendRecord): void {
    if (record.state === 'removed' || record.state === 'pending') {
      this.remove(record.id);
      return;
    }
    if (this.#refused.has(record.id)) {
      return;
    }
    const existing = this.#byId.get(record.id);
    if (record.state === 'draining' && (existing === undefined || existing.inFlight === 0)) {
      this.#leave(record.id, record);
      return;
    }
    this.#drained.delete(record.id);
    if (existing) {
      existing.record = record;
    } else {
      this.#byId.set(record.id, newPooledBackend(record));
    }
    this.#reindex();
  }

  /** Requests already running keep their reference and finish; no new one is routed here. */
  remove(id: string): void {
    const deleted = this.#byId.delete(id);
    if (this.#drained.delete(id) || deleted) {
      this.#reindex();
    }
    if (deleted) {
      this.#listeners.onRemoved?.(id);
    }
  }

  /**
   * Makes the pool match the catalog's live backends (another replica registered, changed or
   * removed one): each is upserted with its runtime state kept, and one the catalog no longer
   * lists leaves.
   */
  reconcile(records: readonly BackendRecord[]): void {
    const live = new Set(records.map((record) => record.id));
    for (const id of [...this.#byId.keys(), ...this.#drained.keys()]) {
      if (!live.has(id)) {
        this.remove(id);
      }
    }
    for (const record of records) {
      const known = this.#byId.get(record.id)?.record ?? this.#drained.get(record.id);
      // An unchanged record would only cost a reindex.
      if (known === undefined || known.updatedAtMs !== record.updatedAtMs) {
        this.upsert(record);
      }
    }
  }

  /** Keeps a backend out of this process's pool for good, whatever the catalog says of it. */
  refuse(id: string, reason: string): void {
    this.remove(id);
    this.#refused.set(id, reason);
  }

  /** Why the backend was refused, when it was. */
  refusal(id: string): string | undefined {
    return this.#refused.get(id);
  }

  /**
   * The other replicas' requests in flight per backend id, as last shared; absent is 0.
   * Undefined when the exchange failed: the peers' requests are unknown, not none.
   */
  recordPeerLoad(inFlightByBackend: ReadonlyMap<string, number> | undefined): void {
    for (const [id, backend] of this.#byId) {
      backend.load.peersInFlight = inFlightByBackend?.get(id) ?? 0;
      backend.load.peersHeard = inFlightByBackend !== undefined;
    }
  }

  /** The other replicas that shared their dispatch counts lately (through Redis). */
  recordPeerReplicas(count: number): void {
    this.#peerReplicaCount = count;
  }

  /** Gateways routing to these backends now, this one included: 1 without Redis. */
  get liveReplicaCount(): number {
    return this.#peerReplicaCount + 1;
  }

  get(id: string): PooledBackend | undefined {
    return this.#byId.get(id);
  }

  all(): PooledBackend[] {
    return [...this.#byId.values()];
  }

  /** Every backend in the pool that serves the model, whatever its health. */
  serving(model: string): readonly PooledBackend[] {
    return this.#byModel.get(model) ?? [];
  }

  /** Served by a backend in the pool, or by one drained out of it. */
  knowsModel(model: string): boolean {
    return this.#byModel.has(model) || this.#drainedModels.has(model);
  }

  models(): string[] {
    return [...this.#byModel.keys()];
  }

  get inFlightTotal(): number {
    return this.#inFlightTotal;
  }

  /** An attempt starts; returns whether it is the half-open circuit's probe. */
  begin(backend: PooledBackend, nowMs: number): boolean {
    backend.inFlight += 1;
    this.#inFlightTotal += 1;
    backend.load.dispatchedSinceScrape += 1;
    return beginCircuitAttempt(backend.breaker, nowMs);
  }

  /** An attempt ended, whatever its outcome. */
  end(backend: PooledBackend): void {
    backend.inFlight -= 1;
    this.#inFlightTotal -= 1;
    backend.load.endedSinceScrape += 1;
    if (
      backend.record.state === 'draining' &&
      backend.inFlight === 0 &&
      this.#byId.get(backend.record.id) === backend
    ) {
      this.#leave(backend.record.id, backend.record);
    }
    this.#listeners.onCapacityFreed?.();
  }

  /** The first byte came back: the backend works. */
  recordSuccess(backend: PooledBackend, latencyMs: number, probe = false): void {
    backend.consecutiveFailures = 0;
    backend.health = 'healthy';
    backend.latencyEwmaMs =
      backend.latencyEwmaMs === undefined
        ? latencyMs
        : backend.latencyEwmaMs + latencySmoothing * (latencyMs - backend.latencyEwmaMs);
    if (recordCircuitSuccess(backend.breaker, probe, this.#settings)) {
      // Closing took several good probes: the failures before the opening are history.
      backend.estimates.failures = createDecayingRate();
    }
  }

  /**
   * An attempt failed before its first byte. Connection failures in a row make the backend
   * unhealthy until a probe passes; any failures in a row open its circuit, unless half of its
   * models' backends are open already; a Retry-After keeps requests away until it passes.
   */
  recordFailure(
    backend: PooledBackend,
    failure: AttemptFailure,
    nowMs: number,
    options: { probe?: boolean; retryAfterMs?: number | undefined } = {},
  ): void {
    backend.lastFailureAtMs = nowMs;
    if (connectionFailures.has(failure)) {
      backend.consecutiveFailures += 1;
      if (backend.consecutiveFailures >= this.#settings.backendFailureCountMax) {
        backend.health = 'unhealthy';
      }
    }
    recordCircuitFailure(
      backend.breaker,
      options.probe === true,
      nowMs,
      this.#settings,
      this.#mayOpenCircuit(backend, nowMs),
    );
    if (options.retryAfterMs !== undefined && options.retryAfterMs > 0) {
      const untilMs = nowMs + Math.min(options.retryAfterMs, this.#settings.retryAfterMsMax);
      backend.retryAfterUntilMs = Math.max(backend.retryAfterUntilMs ?? 0, untilMs);
    }
  }

  /** An attempt ended with no verdict on the backend (the client left first). */
  recordAbandoned(backend: PooledBackend, probe: boolean): void {
    abandonCircuitProbe(backend.breaker, probe);
  }

  /**
   * A scrape's load, and the time between tokens its decode totals show since the last one. A
   * frozen page teaches neither (backend-load.ts).
   */
  recordScrape(backend: PooledBackend, scraped: ScrapedLoad, atMs: number): void {
    const previous = backend.load.scraped;
    const elapsedMs =
      backend.load.scrapedAtMs === undefined ? undefined : atMs - backend.load.scrapedAtMs;
    if (!recordScrapedLoad(backend.load, scraped, atMs)) {
      return;
    }
    const samples = decodeSamplesSince(
      previous?.decoding ?? noDecodeTotals,
      scraped.decoding,
      elapsedMs,
    );
    // Per-answer totals say nothing of the batch: the running counts at both ends do, roughly.
    const runningMean =
      previous?.running === undefined || scraped.running === undefined
        ? undefined
        : (previous.running + scraped.running) / 2;
    for (const [label, sample] of samples) {
      const models = label === '' ? backend.record.models : [label];
      for (const model of models) {
        if (backend.record.models.includes(model)) {
          learnScrapedDecode(
            backend.estimates,
            model,
            { interTokenMs: sample.interTokenMs, batch: sample.batch ?? runningMean },
            atMs,
          );
        }
      }
    }
  }

  recordVerification(backend: PooledBackend, sample: UsageSample, toleranceBps: number): void {
    const verification = backend.verification;
    verification.sampledCount += 1;
    verification.reportedInputTokens += sample.reportedInputTokens;
    verification.allowedInputTokens += sample.allowedInputTokens;
    verification.reportedOutputTokens += sample.reportedOutputTokens;
    verification.recountedOutputTokens += sample.recountedOutputTokens;
    verification.inputInflated = exceeds(
      verification.reportedInputTokens,
      verification.allowedInputTokens,
      toleranceBps,
    );
    verification.outputInflated = exceeds(
      verification.reportedOutputTokens,
      verification.recountedOutputTokens,
      toleranceBps,
    );
  }

  /** One more claim past a request's bound; returns how many the backend has made. */
  recordExcessClaim(backend: PooledBackend): number {
    backend.verification.excessClaimCount += 1;
    return backend.verification.excessClaimCount;
  }

  markHealthy(backend: PooledBackend): void {
    backend.health = 'healthy';
    backend.consecutiveFailures = 0;
  }

  /** Whether a new request may go to the backend now (a half-open one takes a probe at a time). */
  isRoutable(backend: PooledBackend, nowMs: number): boolean {
    return (
      backend.record.state === 'active' &&
      backend.health === 'healthy' &&
      (backend.retryAfterUntilMs === undefined || nowMs >= backend.retryAfterUntilMs) &&
      circuitAdmits(backend.breaker, nowMs)
    );
  }

  /** Below its queue limit: one more request would not make it overfull. */
  hasRoom(backend: PooledBackend, nowMs: number): boolean {
    return hasRoom(backend, nowMs, this.#settings);
  }

  /** What work that can wait may still send it now, leaving the interactive reserve free. */
  spareRoom(backend: PooledBackend, nowMs: number, interactiveReserveBps: number): number {
    return spareRoomOf(backend, nowMs, this.#settings, interactiveReserveBps);
  }

  /** Never more than `breakerOpenShareMaxBps` of the backends of any of its models open. */
  #mayOpenCircuit(backend: PooledBackend, nowMs: number): boolean {
    for (const model of backend.record.models) {
      const serving = this.serving(model);
      let open = 0;
      for (const other of serving) {
        refreshCircuit(other.breaker, nowMs);
        open += other !== backend && other.breaker.state !== 'closed' ? 1 : 0;
      }
      if ((open + 1) * 10_000 > serving.length * this.#settings.breakerOpenShareMaxBps) {
        return false;
      }
    }
    return true;
  }

  #leave(id: string, record: BackendRecord): void {
    const wasPooled = this.#byId.delete(id);
    this.#drained.set(id, record);
    this.#reindex();
    if (wasPooled) {
      this.#listeners.onRemoved?.(id);
    }
  }

  #reindex(): void {
    const byModel = new Map<string, PooledBackend[]>();
    for (const backend of this.#byId.values()) {
      for (const model of backend.record.models) {
        const list = byModel.get(model);
        if (list) {
          list.push(backend);
        } else {
          byModel.set(model, [backend]);
        }
      }
    }
    this.#byModel = byModel;
    this.#drainedModels = new Set([...this.#drained.values()].flatMap((record) => record.models));
  }
}

function newPooledBackend(record: BackendRecord): PooledBackend {
  return {
    record,
    inFlight: 0,
    health: 'healthy',
    consecutiveFailures: 0,
    latencyEwmaMs: undefined,
    lastFailureAtMs: undefined,
    verification: {
      excessClaimCount: 0,
      sampledCount: 0,
      reportedInputTokens: 0,
      allowedInputTokens: 0,
      reportedOutputTokens: 0,
      recountedOutputTokens: 0,
      inputInflated: false,
      outputInflated: false,
    },
    breaker: createCircuitBreaker(),
    retryAfterUntilMs: undefined,
    load: createBackendLoad(),
    estimates: createBackendEstimates(),
  };
}

export function stateOf(backend: PooledBackend): BackendState {
  if (backend.record.state === 'draining') {
    return 'draining';
  }
  if (backend.health === 'unhealthy') {
    return 'unhealthy';
  }
  return backend.breaker.state === 'closed' ? 'healthy' : 'open';
}
