/**
 * The JobLease port: which gateway process runs the background jobs that must run once across
 * all replicas on one store (the sweeper and coupon expiry). Those jobs are idempotent anyway, so
 * two leaders for a moment (a lease changing hands) costs a wasted run, never money; the lease
 * keeps N replicas from doing N times the work and contending for the same rows.
 * With the embedded SQLite store the gateway is normally the only process on its file, so it is
 * always the leader (`soleProcessLease`); PostgreSQL elects one with an advisory lock
 * (runtime/node/postgres/postgres-job-lease.ts).
 */

export type JobLease = {
  /** True while this process holds the lease; when it does not, it tries to take it first. */
  acquire(): Promise<boolean>;
  /** What the last `acquire` answered, for metrics: no store call. */
  readonly held: boolean;
  /** Gives the lease up (at shutdown), so another replica takes it on its next try. */
  release(): Promise<void>;
  /** No other gateway can be live on this store (SQLite): another owner of holds is dead. */
  readonly soleProcess: boolean;
};

/** The lease of a process alone on its store: always held. */
export const soleProcessLease: JobLease = {
  acquire: async () => true,
  held: true,
  release: async () => undefined,
  soleProcess: true,
};
