/**
 * The live pool of backends in this gateway process: each registered backend with the state the
 * router needs (in-flight requests, health, consecutive failures, latency). The catalog is the
 * source of truth for what is registered; this is the fast in-memory view of it, indexed by model.
 */
import type { BackendRecord } from '../db/catalog.ts';

export type BackendHealth = 'healthy' | 'unhealthy';

/** What GET /admin/v1/backends shows as the state of a backend. */
export type BackendState = 'healthy' | 'unhealthy' | 'draining' | 'open';

export type PooledBackend = {
  record: BackendRecord;
  inFlight: number;
  health: BackendHealth;
  consecutiveFailures: number;
  /** Exponentially weighted time to response headers; undefined until first observed. */
  latencyEwmaMs: number | undefined;
  lastFailureAtMs: number | undefined;
  verification: UsageVerification;
};

/** Sampled recounts of what the backend reported: how the operator catches inflated usage. */
export type UsageVerification = {
  sampledCount: number;
  reportedOutputTokens: number;
  recountedOutputTokens: number;
  /** Reported output above the recount by more than the tolerance, summed over the samples. */
  flagged: boolean;
};

/** Weight of the newest sample in the latency average. */
const latencySmoothing = 0.2;

export class BackendPool {
  readonly #byId = new Map<string, PooledBackend>();
  #byModel = new Map<string, PooledBackend[]>();
  readonly #failureCountMax: number;

  constructor(failureCountMax: number) {
    this.#failureCountMax = failureCountMax;
  }

  /** Adds a backend or refreshes its record, keeping its runtime state. */
  upsert(record: BackendRecord): void {
    if (record.state === 'removed') {
      this.remove(record.id);
      return;
    }
    const existing = this.#byId.get(record.id);
    if (existing) {
      existing.record = record;
    } else {
      this.#byId.set(record.id, {
        record,
        inFlight: 0,
        health: 'healthy',
        consecutiveFailures: 0,
        latencyEwmaMs: undefined,
        lastFailureAtMs: undefined,
        verification: {
          sampledCount: 0,
          reportedOutputTokens: 0,
          recountedOutputTokens: 0,
          flagged: false,
        },
      });
    }
    this.#reindex();
  }

  /** Requests already running keep their reference and finish; no new one is routed here. */
  remove(id: string): void {
    if (this.#byId.delete(id)) {
      this.#reindex();
    }
  }

  get(id: string): PooledBackend | undefined {
    return this.#byId.get(id);
  }

  all(): PooledBackend[] {
    return [...this.#byId.values()];
  }

  /** Every backend that serves the model, whatever its health. */
  serving(model: string): readonly PooledBackend[] {
    return this.#byModel.get(model) ?? [];
  }

  models(): string[] {
    return [...this.#byModel.keys()];
  }

  begin(backend: PooledBackend): void {
    backend.inFlight += 1;
  }

  end(backend: PooledBackend): void {
    backend.inFlight -= 1;
  }

  recordSuccess(backend: PooledBackend, latencyMs: number): void {
    backend.consecutiveFailures = 0;
    backend.health = 'healthy';
    backend.latencyEwmaMs =
      backend.latencyEwmaMs === undefined
        ? latencyMs
        : backend.latencyEwmaMs + latencySmoothing * (latencyMs - backend.latencyEwmaMs);
  }

  /** A connection failure; enough of them in a row take the backend out until a probe passes. */
  recordFailure(backend: PooledBackend, nowMs: number): void {
    backend.consecutiveFailures += 1;
    backend.lastFailureAtMs = nowMs;
    if (backend.consecutiveFailures >= this.#failureCountMax) {
      backend.health = 'unhealthy';
    }
  }

  recordVerification(
    backend: PooledBackend,
    reportedOutputTokens: number,
    recountedOutputTokens: number,
    toleranceBps: number,
  ): void {
    const verification = backend.verification;
    verification.sampledCount += 1;
    verification.reportedOutputTokens += reportedOutputTokens;
    verification.recountedOutputTokens += recountedOutputTokens;
    verification.flagged =
      verification.reportedOutputTokens * 10_000 >
      verification.recountedOutputTokens * (10_000 + toleranceBps);
  }

  markHealthy(backend: PooledBackend): void {
    backend.health = 'healthy';
    backend.consecutiveFailures = 0;
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
  }
}

export function stateOf(backend: PooledBackend): BackendState {
  return backend.record.state === 'draining' ? 'draining' : backend.health;
}

/** A backend the router may choose for a new request. */
export function isRoutable(backend: PooledBackend): boolean {
  return backend.record.state === 'active' && backend.health === 'healthy';
}
