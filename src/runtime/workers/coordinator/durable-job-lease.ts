/**
 * The JobLease on Workers (platform/job-lease.ts): a row of the coordinator object
 * (job-lease-rows.ts) held by one Cron Trigger invocation for a term, renewed on every acquire.
 * The holder is the invocation, not the isolate: two invocations overlapping in one isolate are
 * two candidates, and only one runs the elected jobs. A holder that dies keeps the lease until its
 * term lapses; the term covers everything a holder may still have running, so a successor never
 * takes over work that is in fact still under way.
 */
import type { Clock } from '../../../platform/clock.ts';
import type { JobLease } from '../../../platform/job-lease.ts';
import type { JobLeaseRows } from './job-lease-rows.ts';

export function createDurableJobLease(options: {
  rows: JobLeaseRows;
  name: string;
  holder: string;
  termMs: number;
  clock: Clock;
}): JobLease {
  const { rows, name, holder, termMs, clock } = options;
  let held = false;
  return {
    async acquire() {
      const nowMs = clock.nowMs();
      held = await rows.take(name, holder, nowMs, nowMs + termMs);
      return held;
    },
    get held() {
      return held;
    },
    async release() {
      held = false;
      await rows.give(name, holder);
    },
    // Other isolates and invocations share the coordinator object: only the lease tells them apart.
    soleProcess: false,
  };
}
