/**
 * What a tenant's Durable Object does when its alarm rings, in place of the Node gateway's
 * sweeper and expiry jobs: it ends the holds no Worker will end, and expires the grants whose
 * time passed. A Worker isolate is heard from (a heartbeat of its instance) each time it reserves
 * in the object; no request runs longer than the request timeout, so an isolate silent here for
 * longer than that plus a grace has nothing running here, and its open holds are swept (settled
 * from their last checkpoint, else released). A live isolate's holds admitted before the
 * timeout are swept too: it ended those requests, so a hold still open is a settlement that
 * failed. The alarm rings again when the oldest open hold can be swept or the next grant expires.
 */
import type { Ledger } from '../../../billing/ledger.ts';
import type { DurableSql, SqlRow } from '../durable-sql.ts';

export type AlarmSettings = {
  /** The longest a request runs, plus the time its settlement may take. */
  requestLifetimeMs: number;
  /** The alarm rings no more often than this. */
  intervalMs: number;
};

/** Sweeps and expires as of `nowMs`; returns when to ring next, if anything is left to watch. */
export async function ringTenantAlarm(
  ledger: Ledger,
  sql: DurableSql,
  nowMs: number,
  settings: AlarmSettings,
): Promise<number | undefined> {
  const admittedBeforeMs = nowMs - settings.requestLifetimeMs;
  const instances = sql.all(
    'SELECT id FROM gateway_instances WHERE heartbeat_at_ms >= ?',
    admittedBeforeMs,
  );
  // Silent owners first (the overdue instance of this pass is a name no isolate has).
  await ledger.sweep({
    atMs: nowMs,
    ownerSilentBeforeMs: admittedBeforeMs,
    overdue: { instanceId: '', admittedBeforeMs },
  });
  for (const instance of instances) {
    await ledger.sweep({
      atMs: nowMs,
      ownerSilentBeforeMs: admittedBeforeMs,
      overdue: { instanceId: String(instance.id), admittedBeforeMs },
    });
  }
  await ledger.expireCoupons(nowMs);
  return nextRingMs(sql, nowMs, settings);
}

/** When the oldest open hold can be swept and the next grant expires, as stored. */
function watchedTimes(sql: DurableSql, settings: AlarmSettings) {
  // A hold can be swept once its request's lifetime has passed, whoever owns it.
  const held = sql.first(
    "SELECT MIN(admitted_at_ms) AS atMs FROM reservations WHERE status = 'reserved'",
  );
  const expiry = sql.first(
    `SELECT MIN(expires_at_ms) AS atMs FROM coupons
     WHERE status = 'active' AND expires_at_ms IS NOT NULL`,
  );
  const timeOf = (row: SqlRow | undefined) =>
    row?.atMs === null || row?.atMs === undefined ? undefined : Number(row.atMs);
  const heldAtMs = timeOf(held);
  return {
    sweepAtMs: heldAtMs === undefined ? undefined : heldAtMs + settings.requestLifetimeMs,
    expiresAtMs: timeOf(expiry),
  };
}

/**
 * Whether a hold can be swept or a grant expired at `nowMs`: an alarm that rang only to copy
 * usage records skips the sweep's reads (one per live isolate) when neither is due.
 */
export function watchIsDue(sql: DurableSql, nowMs: number, settings: AlarmSettings): boolean {
  const { sweepAtMs, expiresAtMs } = watchedTimes(sql, settings);
  return [sweepAtMs, expiresAtMs].some((atMs) => atMs !== undefined && atMs <= nowMs);
}

/** When the alarm should ring next, or undefined when nothing is held and no grant will expire. */
export function nextRingMs(
  sql: DurableSql,
  nowMs: number,
  settings: AlarmSettings,
): number | undefined {
  const times = watchedTimes(sql, settings);
  const sweepAtMs =
    times.sweepAtMs === undefined
      ? undefined
      : Math.max(times.sweepAtMs, nowMs + settings.intervalMs);
  const candidates = [sweepAtMs, times.expiresAtMs].filter(
    (atMs): atMs is number => atMs !== undefined,
  );
  return candidates.length === 0 ? undefined : Math.max(nowMs + 1, Math.min(...candidates));
}

/** The earlier of two times, either of which may be missing. */
export function earliest(
  first: number | undefined,
  second: number | undefined,
): number | undefined {
  if (first === undefined || second === undefined) {
    return first ?? second;
  }
  return Math.min(first, second);
}
