/**
 * One gateway replica of the simulation, built from the production pieces: its own BackendPool
 * (health, circuit breakers, Retry-After, room), the router under test, the attempt tracker, the
 * retry budget, the capacity wait queue, candidate selection and the first-token deadline. What
 * it does with them mirrors `forwardWithRetries` and `pickFirstBackend` step for step, in
 * virtual time: the first pick (or a wait for room), attempts over a network with round trips,
 * retries before the first token to backends not tried yet (the first always, later ones within
 * the budget), the end of each answer with its output tokens, scrapes of every backend's metrics
 * and probes of unhealthy ones.
 */

import { startAttempt } from '../../src/backends/attempt-tracker.ts';
import { BackendPool, type PooledBackend } from '../../src/backends/backend-pool.ts';
import {
  type CapacityWaitQueue,
  createCapacityWaitQueue,
} from '../../src/backends/capacity-wait-queue.ts';
import { firstTokenDeadlineMs } from '../../src/backends/health/attempt-failure.ts';
import { recordRoundTrip } from '../../src/backends/health/scrape-metrics.ts';
import { createRetryBudget, type RetryBudget } from '../../src/backends/routing/retry-budget.ts';
import type { AttemptFailure, RouteRequest, Router } from '../../src/backends/routing/router.ts';
import type { Limits } from '../../src/config.ts';
import { anyRoutable, routableCandidates } from '../../src/gateway/inference/select-candidates.ts';
import type { EventQueue } from './event-queue.ts';
import type { MetricsPages } from './metrics-pages.ts';
import { type BackendPlacement, oneWayMs } from './scenarios.ts';
import type { SequenceHandle, SimulatedBackend } from './simulated-backend.ts';
import type { TraceRequest } from './workload.ts';

export const model = 'm';

export type RequestOutcome = 'ok' | 'shed' | 'server_error' | 'timeout' | 'mid_stream';

export type RequestRecord = {
  request: TraceRequest;
  outcome: RequestOutcome;
  firstTokenMs: number | undefined;
  endToEndMs: number | undefined;
  servedRegion: string | undefined;
  servedBackendId: string | undefined;
  attempts: number;
};

export type GatewayContext = {
  events: EventQueue;
  cluster: ReadonlyMap<string, SimulatedBackend>;
  pages: MetricsPages;
  limits: Limits;
  scrapeIntervalMs: number;
  record(record: RequestRecord): void;
  decisions: { count: number; totalMs: number };
};

/**
 * A request that can wait (a batch line), as `runBatchLine` sends it: its allowed backends
 * narrowed like `preferBackends`, never queued for capacity (with no backend free it ends shed
 * at once, having never started), and its ending told to `record` instead of the run's records.
 */
export type DeferrableRequest = {
  narrow(allowed: readonly PooledBackend[]): readonly PooledBackend[];
  record(record: RequestRecord): void;
};

type Flow = {
  request: TraceRequest;
  record: (record: RequestRecord) => void;
  route: RouteRequest;
  allowed: readonly PooledBackend[];
  tried: Set<string>;
  attempts: number;
  firstTokenAtMs: number | undefined;
  servedRegion: string | undefined;
  servedBackendId: string | undefined;
  finished: boolean;
};

const healthProbeIntervalMs = 5_000;
const timeoutFailures: ReadonlySet<AttemptFailure> = new Set(['timeout', 'first_token_timeout']);

export class SimulatedGateway {
  readonly region: string;
  readonly pool: BackendPool;
  readonly router: Router;
  readonly #context: GatewayContext;
  readonly #retryBudget: RetryBudget;
  readonly #capacityQueue: CapacityWaitQueue;

  constructor(
    region: string,
    placements: readonly BackendPlacement[],
    router: Router,
    context: GatewayContext,
  ) {
    this.region = region;
    this.router = router;
    this.#context = context;
    const events = context.events;
    this.#retryBudget = createRetryBudget(context.limits);
    this.#capacityQueue = createCapacityWaitQueue({
      lengthMax: context.limits.capacityQueueLengthMax,
      setTimer: (callback, delayMs) => {
        let cancelled = false;
        events.after(delayMs, () => {
          if (!cancelled) {
            callback();
          }
        });
        return () => {
          cancelled = true;
        };
      },
    });
    this.pool = new BackendPool(context.limits, {
      onCapacityFreed: () => this.#capacityQueue.notify(),
    });
    for (const placement of placements) {
      this.pool.upsert({
        id: placement.id,
        providerId: 'prv_bench',
        url: `http://${placement.id}.bench/v1`,
        region: placement.region,
        models: [model],
        slots: placement.kind.slots,
        accelerators: 1,
        accelerator: null,
        apiKey: null,
        metricsUrl: null,
        state: 'active',
        createdAtMs: 0,
        updatedAtMs: 0,
      });
    }
  }

  /** Scrapes and probes on their intervals until `untilMs`, starting at `phaseMs`. */
  startBackgroundWork(untilMs: number, phaseMs: number): void {
    const events = this.#context.events;
    const scrapeTick = () => {
      this.#scrapeAll();
      if (events.nowMs() + this.#context.scrapeIntervalMs < untilMs) {
        events.after(this.#context.scrapeIntervalMs, scrapeTick);
      }
    };
    const probeTick = () => {
      this.#probeUnhealthy();
      if (events.nowMs() + healthProbeIntervalMs < untilMs) {
        events.after(healthProbeIntervalMs, probeTick);
      }
    };
    events.after(phaseMs, scrapeTick);
    events.after(phaseMs, probeTick);
  }

  receive(request: TraceRequest, deferrable?: DeferrableRequest): void {
    const { events, limits } = this.#context;
    const serving = this.pool.serving(model);
    const allowedRegions = request.allowedRegions;
    const allowed =
      allowedRegions === null
        ? serving
        : serving.filter((backend) => allowedRegions.includes(backend.record.region));
    const flow: Flow = {
      request,
      record: deferrable?.record ?? ((record) => this.#context.record(record)),
      route: {
        model,
        promptTokens: request.promptTokens,
        // Clients leave max_tokens to the model: the router expects the model's average answer.
        outputTokensAsked: undefined,
        stream: true,
        homeRegion: request.clientRegion,
        prices: undefined,
      },
      allowed: deferrable?.narrow(allowed) ?? allowed,
      tried: new Set(),
      attempts: 0,
      firstTokenAtMs: undefined,
      servedRegion: undefined,
      servedBackendId: undefined,
      finished: false,
    };
    const take = () =>
      this.#pick(
        flow.route,
        routableCandidates(this.pool, flow.allowed, new Set(), events.nowMs()),
      );
    const backend = take();
    if (backend) {
      this.#attempt(flow, backend, undefined);
    } else if (deferrable === undefined && anyRoutable(this.pool, flow.allowed, events.nowMs())) {
      this.#capacityQueue.enqueue(take, limits.capacityQueueTimeoutMs, (waited) => {
        if (waited) {
          this.#attempt(flow, waited, undefined);
        } else {
          this.#finish(flow, 'shed');
        }
      });
    } else {
      this.#finish(flow, 'shed');
    }
  }

  #pick(route: RouteRequest, candidates: readonly PooledBackend[]): PooledBackend | undefined {
    const startedMs = performance.now();
    const picked = this.router.pick(route, candidates);
    this.#context.decisions.totalMs += performance.now() - startedMs;
    this.#context.decisions.count += 1;
    return picked;
  }

  #attempt(flow: Flow, backend: PooledBackend, onSettled: (() => void) | undefined): void {
    const { events, cluster, limits } = this.#context;
    const server = cluster.get(backend.record.id);
    if (server === undefined) {
      throw new Error(`no simulated backend ${backend.record.id}`);
    }
    flow.tried.add(backend.record.id);
    flow.attempts += 1;
    const tracked = startAttempt(
      { pool: this.pool, router: this.router, clock: events },
      flow.route,
      backend,
      onSettled,
    );
    const oneWay = oneWayMs(this.region, server.region) * flow.request.networkJitter;
    let settled = false;
    let handle: SequenceHandle | undefined;
    const fail = (failure: AttemptFailure, retryAfterMs?: number) => {
      if (settled) {
        return;
      }
      settled = true;
      handle?.cancel();
      tracked.fail(failure, retryAfterMs);
      this.#retryOrGiveUp(flow, failure);
    };
    const deadlineMs = firstTokenDeadlineMs(tracked.route, limits);
    if (deadlineMs !== undefined) {
      events.after(deadlineMs, () => fail('first_token_timeout'));
    }
    events.after(oneWay, () => {
      if (settled) {
        return;
      }
      switch (server.mode) {
        case 'crashed':
          events.after(oneWay, () => fail('connect'));
          return;
        case 'fast_503':
          events.after(oneWay + 5, () => fail('unavailable'));
          return;
        case 'rate_limited':
          events.after(oneWay + 5, () => fail('rate_limited', 10_000));
          return;
        case 'black_hole':
          return;
        case 'up':
          handle = server.submit(flow.request.promptTokens, flow.request.outputTokens, {
            firstToken: () =>
              events.after(oneWay, () => {
                if (settled) {
                  return;
                }
                settled = true;
                tracked.succeed();
                flow.firstTokenAtMs = events.nowMs();
                flow.servedRegion = server.region;
                flow.servedBackendId = server.id;
              }),
            done: () =>
              events.after(oneWay, () => {
                if (flow.firstTokenAtMs !== undefined && !flow.finished) {
                  tracked.end(flow.request.outputTokens);
                  this.#finish(flow, 'ok');
                }
              }),
            cut: (afterFirstToken) =>
              events.after(oneWay, () => {
                if (!afterFirstToken) {
                  fail('connect');
                } else if (!flow.finished) {
                  tracked.end();
                  this.#finish(flow, 'mid_stream');
                }
              }),
          });
      }
    });
  }

  #retryOrGiveUp(flow: Flow, failure: AttemptFailure): void {
    const { events, limits } = this.#context;
    const giveUp = () =>
      this.#finish(flow, timeoutFailures.has(failure) ? 'timeout' : 'server_error');
    if (flow.attempts > limits.retryCountMax) {
      giveUp();
      return;
    }
    const candidates = routableCandidates(this.pool, flow.allowed, flow.tried, events.nowMs());
    const firstRetry = flow.attempts === 1;
    if (
      candidates.length === 0 ||
      !this.#retryBudget.tryAcquire(this.pool.inFlightTotal, firstRetry)
    ) {
      giveUp();
      return;
    }
    const backend = this.#pick(flow.route, candidates);
    if (backend === undefined) {
      this.#retryBudget.release();
      giveUp();
      return;
    }
    this.#attempt(flow, backend, () => this.#retryBudget.release());
  }

  #finish(flow: Flow, outcome: RequestOutcome): void {
    if (flow.finished) {
      return;
    }
    flow.finished = true;
    const nowMs = this.#context.events.nowMs();
    flow.record({
      request: flow.request,
      outcome,
      firstTokenMs:
        flow.firstTokenAtMs === undefined
          ? undefined
          : flow.firstTokenAtMs - flow.request.arrivalMs,
      endToEndMs: outcome === 'ok' ? nowMs - flow.request.arrivalMs : undefined,
      servedRegion: flow.servedRegion,
      servedBackendId: flow.servedBackendId,
      attempts: flow.attempts,
    });
  }

  #scrapeAll(): void {
    const { events, cluster, pages } = this.#context;
    for (const backend of this.pool.all()) {
      const server = cluster.get(backend.record.id);
      if (server === undefined) {
        continue;
      }
      const oneWay = oneWayMs(this.region, server.region);
      events.after(oneWay, () => {
        if (server.mode === 'crashed' || server.mode === 'black_hole') {
          return;
        }
        const load = pages.read(server, events.nowMs());
        events.after(oneWay, () => {
          recordRoundTrip(backend, 2 * oneWay);
          if (load !== undefined) {
            this.pool.recordScrape(backend, load, events.nowMs());
          }
          this.#capacityQueue.notify();
        });
      });
    }
  }

  #probeUnhealthy(): void {
    const { events, cluster } = this.#context;
    for (const backend of this.pool.all()) {
      const server = cluster.get(backend.record.id);
      if (backend.health !== 'unhealthy' || server === undefined) {
        continue;
      }
      if (server.mode !== 'crashed' && server.mode !== 'black_hole') {
        events.after(2 * oneWayMs(this.region, server.region), () =>
          this.pool.markHealthy(backend),
        );
      }
    }
  }
}
