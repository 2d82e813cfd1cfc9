/**
 * The gateway's periodic work, as plain functions the runtime schedules: the heartbeat that says
 * this process still owns its holds, the sweeper that settles or releases holds whose owner died
 * or that outlived the longest request, coupon expiry, health probes of unhealthy backends, and
 * the scrape of every backend's load metrics.
 * Every job is idempotent, so running one twice (or on two replicas) changes nothing.
 */
import { probeUnhealthyBackends } from '../backends/probe-backends.ts';
import { scrapeBackendMetrics } from '../backends/scrape-metrics.ts';
import type { Deps } from '../deps.ts';

/** Extra time past the request timeout before a hold counts as abandoned. */
const sweepGraceMs = 30_000;

export type BackgroundJobs = {
  heartbeat(): Promise<void>;
  sweep(): Promise<number>;
  expireCoupons(): Promise<number>;
  probeBackends(): Promise<void>;
  /** Reads each backend's load from its metrics; a waiting request may find room after it. */
  scrapeMetrics(): Promise<void>;
};

export function createBackgroundJobs(deps: Deps): BackgroundJobs {
  const { limits } = deps.config;
  return {
    heartbeat: () => deps.ledger.heartbeat(deps.instanceId, deps.clock.nowMs()),
    async sweep() {
      const nowMs = deps.clock.nowMs();
      const swept = await deps.ledger.sweep({
        atMs: nowMs,
        ownerSilentBeforeMs: nowMs - limits.ownerSilentMs,
        admittedBeforeMs: nowMs - deps.config.requestTimeoutS * 1000 - sweepGraceMs,
      });
      if (swept > 0) {
        deps.logger.log('warn', 'holds_swept', { count: swept });
      }
      return swept;
    },
    async expireCoupons() {
      const expired = await deps.ledger.expireCoupons(deps.clock.nowMs());
      if (expired > 0) {
        deps.logger.log('info', 'coupons_expired', { count: expired });
      }
      return expired;
    },
    probeBackends: () =>
      probeUnhealthyBackends(deps.pool, deps.upstream, limits.healthProbeTimeoutMs),
    async scrapeMetrics() {
      await scrapeBackendMetrics(deps.pool, deps.upstream, deps.clock, limits);
      deps.capacityQueue.notify();
    },
  };
}
