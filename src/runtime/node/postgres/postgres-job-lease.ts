/**
 * The JobLease over PostgreSQL: the replica whose dedicated session holds the advisory lock
 * (pg_try_advisory_lock, session level) runs the elected jobs. The lock lives as long as that
 * session: a replica killed with -9 loses its connection, the server releases the lock, and the
 * next replica to try takes it. A leader checks on every acquire that its session still answers;
 * a session that broke means the lock may be someone else's now, so it stops leading and tries
 * again on a new session. At most one session holds the lock at any instant.
 */
import pg from 'pg';
import type { JobLease } from '../../../platform/job-lease.ts';
import type { Logger } from '../../../platform/logger.ts';
import {
  advisoryLockKeys,
  advisoryLockNamespace,
  type PostgresLimits,
  postgresClientConfig,
} from './postgres-database.ts';

export type PostgresJobLease = JobLease;

export function createPostgresJobLease(
  url: string,
  limits: PostgresLimits,
  logger: Logger,
): PostgresJobLease {
  let client: pg.Client | undefined;
  let held = false;
  /** One acquire at a time: two jobs due together share one answer. */
  let pending: Promise<boolean> | undefined;

  const dropSession = () => {
    const broken = client;
    client = undefined;
    if (held) {
      held = false;
      logger.log('warn', 'job_lease_lost', {});
    }
    broken?.end().catch(() => undefined);
  };

  async function session(): Promise<pg.Client> {
    if (client) {
      return client;
    }
    const fresh = new pg.Client(postgresClientConfig(url, limits));
    // Without a listener a broken idle session would crash the process.
    fresh.on('error', (error) => {
      logger.log('warn', 'job_lease_session_failed', { message: error.message });
      if (client === fresh) {
        dropSession();
      }
    });
    await fresh.connect();
    client = fresh;
    return fresh;
  }

  async function tryAcquire(): Promise<boolean> {
    try {
      const current = await session();
      if (held) {
        await current.query('SELECT 1');
        return true;
      }
      const result = await current.query('SELECT pg_try_advisory_lock($1, $2) AS acquired', [
        advisoryLockNamespace,
        advisoryLockKeys.backgroundJobs,
      ]);
      held = (result.rows[0] as { acquired?: boolean } | undefined)?.acquired === true;
      if (held) {
        logger.log('info', 'job_lease_acquired', {});
      }
      return held;
    } catch (error) {
      logger.log('warn', 'job_lease_unavailable', {
        message: error instanceof Error ? error.message : String(error),
      });
      dropSession();
      return false;
    }
  }

  return {
    acquire() {
      pending ??= tryAcquire().finally(() => {
        pending = undefined;
      });
      return pending;
    },
    get held() {
      return held;
    },
    // Other replicas share the store: only their silence says they are gone.
    soleProcess: false,
    async release() {
      await pending;
      const current = client;
      client = undefined;
      held = false;
      // Ending the session releases its lock; an unlock first makes it explicit.
      await current?.query('SELECT pg_advisory_unlock_all()').catch(() => undefined);
      await current?.end().catch(() => undefined);
    },
  };
}
