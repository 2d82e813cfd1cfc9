/**
 * The job lease rows of the coordinator object (table `job_leases`): a lease is a name, its holder and
 * when it lapses. Taking one is a single conditional upsert, so two Cron Trigger invocations (in
 * one isolate or two) asking at once cannot both get it: the object runs one statement at a time,
 * and the row changes hands only when it is free, lapsed, or already the asker's (a renewal).
 */
import { and, eq, sql } from 'drizzle-orm';
import type { SqliteDatabase } from '../../../db/portable-sqlite.ts';
import { jobLeases } from '../../../db/schema.ts';

export type JobLeaseRows = {
  /** Gives lease `name` to `holder` until `untilMs` unless another holds it past `atMs`; whether it did. */
  take(name: string, holder: string, atMs: number, untilMs: number): Promise<boolean>;
  /** Ends the lease if `holder` still has it. */
  give(name: string, holder: string): Promise<void>;
};

export function createJobLeaseRows(database: SqliteDatabase): JobLeaseRows {
  return {
    take: async (name, holder, atMs, untilMs) =>
      database
        .insert(jobLeases)
        .values({ name, holder, expiresAtMs: untilMs })
        .onConflictDoUpdate({
          target: jobLeases.name,
          set: { holder, expiresAtMs: untilMs },
          setWhere: sql`${jobLeases.holder} = ${holder} OR ${jobLeases.expiresAtMs} <= ${atMs}`,
        })
        .returning({ holder: jobLeases.holder })
        .all().length === 1,
    give: async (name, holder) => {
      database
        .delete(jobLeases)
        .where(and(eq(jobLeases.name, name), eq(jobLeases.holder, holder)))
        .run();
    },
  };
}
