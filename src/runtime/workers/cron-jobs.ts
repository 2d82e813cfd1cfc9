/**
 * The elected jobs of a Cron Trigger invocation on Workers: the lease job
 * (gateway/leases/lease-job.ts), the storage tick (gateway/batch/storage-meter.ts) and the
 * cross-cycle batch scheduler
 * (gateway/batch/batch-scheduler.ts), the very functions the Node gateway runs on its timers.
 * What differs is only how they are scheduled. An invocation runs them only while it holds the
 * job lease (durable-job-lease.ts), so overlapping invocations, in one isolate or several, never
 * run them twice at once. Its wall time is bounded, so it sends batch lines for at most
 * limits.workersCronPassMs, waits for those it sent, and leaves the rest to the next invocation:
 * every batch's state is in the coordinator object, and the scheduler of each invocation is new,
 * built from the store alone. Lines an invocation that was cut off left running are ended as
 * interrupted by the next holder (batch-steps.ts), once the lease's term says their runner is gone.
 */
import type { Deps } from '../../deps.ts';
import { type BatchScheduler, createBatchScheduler } from '../../gateway/batch/batch-scheduler.ts';
import { chargeStorageTick } from '../../gateway/batch/storage-meter.ts';
import { checkLeases } from '../../gateway/leases/lease-job.ts';
import { newId } from '../../platform/identifiers.ts';
import { createDurableJobLease } from './coordinator/durable-job-lease.ts';
import type { JobLeaseRows } from './coordinator/job-lease-rows.ts';

/** The name of the one lease the elected jobs share. */
const electedJobsLease = 'elected-jobs';

/** Beyond its pass and its lines' request deadline, what a holder may take to write and let go. */
const leaseMarginMs = 60_000;

/** Runs the elected jobs if this invocation wins the lease; lets it go once they are done. */
export async function runElectedJobs(deps: Deps, leases: JobLeaseRows): Promise<void> {
  const { config, clock, logger } = deps;
  const jobLease = createDurableJobLease({
    rows: leases,
    name: electedJobsLease,
    holder: newId('gw'),
    termMs: config.limits.workersCronPassMs + config.requestTimeoutS * 1_000 + leaseMarginMs,
    clock,
  });
  if (!(await jobLease.acquire())) {
    logger.log('info', 'elected_jobs_skipped', { reason: 'another invocation holds the lease' });
    return;
  }
  const elected: Deps = { ...deps, jobLease };
  try {
    // Prices an admin changed in another isolate count from this tick on.
    await logged(deps, 'reload_catalog', () => deps.catalogCache.reload());
    await logged(deps, 'check_leases', () => checkLeases(elected, true));
    await logged(deps, 'charge_storage', () => chargeStorageTick(elected));
    await logged(deps, 'run_batches', () =>
      runBatchPasses(
        createBatchScheduler(elected),
        elected,
        clock.nowMs() + config.limits.workersCronPassMs,
      ),
    );
  } finally {
    await deps.background.drain();
    await jobLease.release();
  }
}

/**
 * Passes of the scheduler until nothing runs after one, the lease is lost or the deadline comes:
 * each pass moves the batches a step and sends lines into the room there is, and the lines
 * that end send the next ones; the pass after they have all ended writes the finished batches'
 * files. At the deadline no more lines are sent and those running are waited for.
 */
async function runBatchPasses(
  scheduler: BatchScheduler,
  deps: Deps,
  deadlineMs: number,
): Promise<void> {
  try {
    for (;;) {
      await scheduler.tick();
      if (scheduler.runningCount === 0 || !deps.jobLease.held) {
        return;
      }
      if (!(await idleBefore(scheduler, deadlineMs - deps.clock.nowMs()))) {
        return;
      }
    }
  } finally {
    scheduler.stop();
    await scheduler.idle();
  }
}

/** Whether the scheduler's lines all ended within `waitMs`. */
async function idleBefore(scheduler: BatchScheduler, waitMs: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), Math.max(0, waitMs));
  });
  try {
    return await Promise.race([scheduler.idle().then(() => true), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

async function logged(deps: Deps, job: string, run: () => Promise<unknown>): Promise<void> {
  try {
    await run();
  } catch (error) {
    deps.logger.log('error', 'job_failed', {
      name: job,
      message: error instanceof Error ? error.message : String(error),
    });
  }
}
