/**
 * The Durable Object of one rate key on Workers (`idFromName(key)`: `rpm:{key id}`,
 * `tpm:{key id}`, `streams:{key id}`): the counters of durable-counter-store.ts, kept where every
 * isolate of the deployment reaches the same ones, so a key's limits hold once across them all
 * rather than once per isolate. Each call runs without awaiting between its read and its write,
 * so the object's single thread makes every take atomic, and one clock (the object's own) refills
 * the bucket, as Redis's TIME does for Node replicas: isolates' clocks need not agree.
 *
 * Everything lives in the object's SQLite storage, not only in its memory: an object is evicted
 * when idle and restarted by a deploy, and a bucket or a slot count forgotten then would admit a
 * whole burst more (or free slots still streaming). A full bucket has no row (token-bucket.ts); a
 * slot is a row with an expiry, so one whose isolate died without releasing it frees itself once
 * the longest request it could be serving is over. Each bucket row notes when it will be full
 * again, and the object's alarm drops the rows that are, and the slots that expired, so a key
 * nobody uses any more leaves its object empty.
 */
import { DurableObject } from 'cloudflare:workers';
import type { Bucket, TakeResult } from '../../../platform/shared-state/counter-store.ts';
import {
  type BucketState,
  giveToBucket,
  takeFromBucket,
} from '../../../platform/shared-state/token-bucket.ts';
import { type DurableSql, durableSql } from '../durable-sql.ts';
import type { DurableObjectState } from '../workers-types.ts';

/** The object's own tables: counters only, no money and nothing of the catalog (no drizzle/). */
const schema = [
  `CREATE TABLE IF NOT EXISTS rate_buckets (key TEXT PRIMARY KEY, level REAL NOT NULL,
     at_ms INTEGER NOT NULL, full_at_ms INTEGER)`,
  `CREATE TABLE IF NOT EXISTS slot_holders (key TEXT NOT NULL, expires_at_ms INTEGER NOT NULL)`,
  'CREATE INDEX IF NOT EXISTS slot_holders_key ON slot_holders (key, expires_at_ms)',
];

/**
 * The column an object made before it existed lacks; such a row (NULL) is dropped, as before,
 * when a call finds its bucket full.
 */
const fullAtColumn = 'ALTER TABLE rate_buckets ADD COLUMN full_at_ms INTEGER';

/** When a bucket kept at `state` is full again, if nothing is taken from it meanwhile. */
function fullAtMs(bucket: Bucket, state: BucketState): number {
  const missing = Math.max(0, bucket.capacity - state.level);
  return state.atMs + Math.ceil((missing * bucket.refillPeriodMs) / bucket.capacity);
}

export class RateLimitObject extends DurableObject {
  private readonly sql: DurableSql;

  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env);
    this.sql = durableSql(ctx.storage.sql);
    // Synchronous, in the constructor: no call is delivered before the tables exist.
    for (const statement of schema) {
      this.sql.run(statement);
    }
    const columns = this.sql.all("SELECT name FROM pragma_table_info('rate_buckets')");
    if (!columns.some((column) => column.name === 'full_at_ms')) {
      this.sql.run(fullAtColumn);
    }
  }

  private state(key: string): BucketState | undefined {
    const row = this.sql.first('SELECT level, at_ms FROM rate_buckets WHERE key = ?', key);
    return row && { level: Number(row.level), atMs: Number(row.at_ms) };
  }

  /** Keeps the bucket's state, or drops its row when it is full; when its row may go, if kept. */
  private keep(bucket: Bucket, state: BucketState | undefined): number | undefined {
    if (!state) {
      this.sql.run('DELETE FROM rate_buckets WHERE key = ?', bucket.key);
      return undefined;
    }
    const fullMs = fullAtMs(bucket, state);
    this.sql.run(
      `INSERT INTO rate_buckets (key, level, at_ms, full_at_ms) VALUES (?1, ?2, ?3, ?4)
       ON CONFLICT (key) DO UPDATE SET level = excluded.level, at_ms = excluded.at_ms,
         full_at_ms = excluded.full_at_ms`,
      bucket.key,
      state.level,
      state.atMs,
      fullMs,
    );
    return fullMs;
  }

  /** CounterStore.take, on the object's clock. */
  async take(bucket: Bucket, amount: number): Promise<TakeResult> {
    const change = takeFromBucket(bucket, this.state(bucket.key), amount, Date.now());
    if (change.result.ok) {
      await this.dropRowsAt(this.keep(bucket, change.state));
    }
    return change.result;
  }

  /** CounterStore.give, on the object's clock. */
  async give(bucket: Bucket, amount: number): Promise<void> {
    const state = giveToBucket(bucket, this.state(bucket.key), amount, Date.now());
    await this.dropRowsAt(this.keep(bucket, state));
  }

  /** CounterStore.acquire: a slot held at most `holdMs` unless released before. */
  async acquire(key: string, countMax: number, holdMs: number): Promise<boolean> {
    const nowMs = Date.now();
    this.sql.run('DELETE FROM slot_holders WHERE key = ? AND expires_at_ms <= ?', key, nowMs);
    const held = this.sql.first('SELECT COUNT(*) AS count FROM slot_holders WHERE key = ?', key);
    if (Number(held?.count ?? 0) >= countMax) {
      return false;
    }
    this.sql.run(
      'INSERT INTO slot_holders (key, expires_at_ms) VALUES (?, ?)',
      key,
      nowMs + holdMs,
    );
    await this.dropRowsAt(nowMs + holdMs);
    return true;
  }

  /**
   * CounterStore.release: slots are alike, so the one expiring first goes (a dead isolate's slot,
   * if there is one, is among the oldest).
   */
  async release(key: string): Promise<void> {
    this.sql.run(
      `DELETE FROM slot_holders WHERE rowid = (SELECT rowid FROM slot_holders WHERE key = ?
         ORDER BY expires_at_ms LIMIT 1)`,
      key,
    );
  }

  /** Sets the alarm for `atMs` unless it rings before then. */
  private async dropRowsAt(atMs: number | undefined): Promise<void> {
    if (atMs === undefined) {
      return;
    }
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > atMs) {
      await this.ctx.storage.setAlarm(atMs);
    }
  }

  /** Drops the rows of full buckets and expired slots; rings again for the next to go. */
  async alarm(): Promise<void> {
    const nowMs = Date.now();
    this.sql.run('DELETE FROM rate_buckets WHERE full_at_ms <= ?', nowMs);
    this.sql.run('DELETE FROM slot_holders WHERE expires_at_ms <= ?', nowMs);
    const next = this.sql.first(
      `SELECT MIN(atMs) AS atMs FROM (SELECT MIN(full_at_ms) AS atMs FROM rate_buckets
         UNION ALL SELECT MIN(expires_at_ms) FROM slot_holders)`,
    );
    if (next?.atMs !== null && next?.atMs !== undefined) {
      await this.ctx.storage.setAlarm(Number(next.atMs));
    }
  }
}
