/**
 * The gateway's periodic work, as plain functions the runtime schedules: the heartbeat that says
 * this process still owns its holds, the sweeper that settles or releases holds whose owner died
 * or that outlived the longest request, coupon expiry, health probes of unhealthy backends, and
 * the scrape of every backend's load metrics; with several replicas, the exchange of requests in
 * flight per backend and the reload of the backend pool from the catalog (a backend another
 * replica registered, should its announcement have been lost).
 * Every job is idempotent, so running one twice (or on two replicas) changes nothing. Still, the
 * sweeper and coupon expiry work on the shared store for every replica, so only the holder of
 * the job lease runs them (deps.jobLease: always this process on SQLite, one elected replica on
 * PostgreSQL); the other jobs keep this process's own state (its heartbeat, its view of the
 * backends' health and load) and run on every replica.
 */
import { shareDispatchCounts } from '../../backends/dispatch-count-exchange.ts';
import { probeUnhealthyBackends } from '../../backends/health/probe-backends.ts';
import { scrapeBackendMetrics } from '../../backends/health/scrape-metrics.ts';
import { ScrapeOriginGate } from '../../backends/health/scrape-origin-gate.ts';
import type { Deps } from '../../deps.ts';
import { createBatchScheduler } from '../batch/batch-scheduler.ts';
import { chargeStorageTick } from '../batch/storage-meter.ts';
import { checkLeases } from '../leases/lease-job.ts';

export type BackgroundJobs = {
  heartbeat(): Promise<void>;
  sweep(): Promise<number>;
  /**
   * Before serving: settles what a previous run of this gateway left. On a store one process
   * owns (SQLite), every other owner is a dead predecessor and its holds are recovered at once;
   * on a shared store, only those of owners silent past `ownerSilentMs`, as the sweeper does.
   */
  recoverAtStart(): Promise<number>;
  expireCoupons(): Promise<number>;
  probeBackends(): Promise<void>;
  /** Reads each backend's load from its metrics; a waiting request may find room after it. */
  scrapeMetrics(): Promise<void>;
  /** Tells the other replicas this one's requests in flight per backend, and hears theirs. */
  shareDispatchCounts(): Promise<void>;
  /** Makes the pool match the catalog's live backends. */
  refreshBackends(): Promise<void>;
  /** Charges the storage tick that just ended, once (the job lease's holder runs it). */
  chargeStorage(): Promise<number>;
  /** Reloads the running leases; the job lease's holder marks failed backends, closes those over. */
  checkLeases(): Promise<number>;
  /** A pass of the cross-cycle batch scheduler (the job lease's holder runs it). */
  runBatches(): Promise<void>;
  /** Sends no more batch lines (a shutdown began); those running end as they would. */
  stopBatches(): void;
};

export function createBackgroundJobs(deps: Deps): BackgroundJobs {
  const { limits } = deps.config;
  const scrapeOrigins = new ScrapeOriginGate(limits.metricsScrapeOriginIntervalMs);
  const batches = createBatchScheduler(deps);
  return {
    heartbeat: () => deps.ledger.heartbeat(deps.instanceId, deps.clock.nowMs()),
    async sweep() {
      const nowMs = deps.clock.nowMs();
      // Silent owners' holds are the elected sweeper's; this gateway's own overdue ones its own.
      const elected = await deps.jobLease.acquire();
      return sweepHolds(deps, elected ? nowMs - limits.ownerSilentMs : Number.MIN_SAFE_INTEGER);
    },
    async recoverAtStart() {
      const nowMs = deps.clock.nowMs();
      await deps.ledger.heartbeat(deps.instanceId, nowMs);
      // The router honours leases from the first request on.
      await deps.leaseRegistry.reload();
      if (!(await deps.jobLease.acquire())) {
        return 0;
      }
      return sweepHolds(deps, deps.jobLease.soleProcess ? nowMs : nowMs - limits.ownerSilentMs);
    },
    async expireCoupons() {
      if (!(await deps.jobLease.acquire())) {
        return 0;
      }
      const expired = await deps.ledger.expireCoupons(deps.clock.nowMs());
      if (expired > 0) {
        deps.logger.log('info', 'coupons_expired', { count: expired });
      }
      return expired;
    },
    probeBackends: () =>
      probeUnhealthyBackends(deps.pool, deps.upstream, limits.healthProbeTimeoutMs),
    async scrapeMetrics() {
      await scrapeBackendMetrics(deps.pool, deps.upstream, deps.clock, limits, scrapeOrigins);
      deps.capacityQueue.notify();
    },
    async shareDispatchCounts() {
      const { sharedState } = deps;
      await shareDispatchCounts(
        deps.pool,
        sharedState.dispatchCounts,
        sharedState.health,
        deps.clock.nowMs(),
      );
    },
    async refreshBackends() {
      deps.pool.reconcile(await deps.catalog.listLiveBackends());
    },
    async chargeStorage() {
      if (!(await deps.jobLease.acquire())) {
        return 0;
      }
      return chargeStorageTick(deps);
    },
    async checkLeases() {
      return checkLeases(deps, await deps.jobLease.acquire());
    },
    runBatches: () => batches.tick(),
    stopBatches: () => batches.stop(),
  };
}

/**
 * Settles or releases the holds of gateways silent since before `ownerSilentBeforeMs`, and this
 * gateway's own holds older than its request deadline and a grace: it ended those requests at
 * their deadline, so such a hold is one whose settlement failed (a store error), and it must not
 * stay pending for as long as this gateway lives.
 */
async function sweepHolds(deps: Deps, ownerSilentBeforeMs: number): Promise<number> {
  const nowMs = deps.clock.nowMs();
  const swept = await deps.ledger.sweep({
    atMs: nowMs,
    ownerSilentBeforeMs,
    overdue: {
      instanceId: deps.instanceId,
      admittedBeforeMs: nowMs - deps.config.requestTimeoutS * 1000 - overdueGraceMs,
    },
  });
  if (swept > 0) {
    deps.logger.log('warn', 'holds_swept', { count: swept });
  }
  return swept;
}

/** Past the deadline, how long a request's own settlement may take before its hold is swept. */
const overdueGraceMs = 60_000;
