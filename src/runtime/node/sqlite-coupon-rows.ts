/**
 * Coupon grants as the SQLite ledger reads them: terms from `coupons`, money from the grant's
 * account. One query serves the waterfall (funded grants) and the API (coupon states).
 */
import type Database from 'better-sqlite3';
import type { CouponState, CouponTerms } from '../../billing/ledger.ts';
import type { CouponKind, FundedGrant } from '../../billing/waterfall.ts';

type CouponRow = {
  id: string;
  tenantId: string;
  kind: CouponKind;
  program: string;
  amount: bigint;
  coverageBps: bigint;
  models: string | null;
  regions: string | null;
  priority: bigint;
  startsAtMs: bigint;
  expiresAtMs: bigint | null;
  status: 'active' | 'voided' | 'expired';
  reference: string;
  createdAtMs: bigint;
  available: bigint;
  held: bigint;
};

const couponColumns = `c.id, c.tenant_id AS tenantId, c.kind, c.program, c.amount,
  c.coverage_bps AS coverageBps, c.models, c.regions, c.priority, c.starts_at_ms AS startsAtMs,
  c.expires_at_ms AS expiresAtMs, c.status, c.reference, c.created_at_ms AS createdAtMs,
  a.credits_posted - a.debits_posted - a.debits_pending AS available, a.debits_pending AS held`;

const fromCoupons = `FROM coupons c JOIN accounts a ON a.id = 'coupon:' || c.id`;

function toCouponState(row: CouponRow): CouponState & FundedGrant {
  return {
    id: row.id,
    tenantId: row.tenantId,
    kind: row.kind,
    program: row.program,
    amountMicro: row.amount,
    remainingMicro: row.available,
    availableMicro: row.available,
    heldMicro: row.held,
    coverageBps: Number(row.coverageBps),
    models: row.models === null ? null : (JSON.parse(row.models) as string[]),
    regions: row.regions === null ? null : (JSON.parse(row.regions) as string[]),
    priority: Number(row.priority),
    startsAtMs: Number(row.startsAtMs),
    expiresAtMs: row.expiresAtMs === null ? null : Number(row.expiresAtMs),
    status: row.status,
    reference: row.reference,
    createdAtMs: Number(row.createdAtMs),
  };
}

export type CouponRows = ReturnType<typeof createCouponRows>;

export function createCouponRows(connection: Database.Database) {
  const statements = {
    ofTenant: connection
      .prepare(
        `SELECT ${couponColumns} ${fromCoupons} WHERE c.tenant_id = ? ORDER BY c.created_at_ms, c.id`,
      )
      .safeIntegers(true),
    byId: connection
      .prepare(`SELECT ${couponColumns} ${fromCoupons} WHERE c.id = ?`)
      .safeIntegers(true),
    byReference: connection
      .prepare(`SELECT ${couponColumns} ${fromCoupons} WHERE c.tenant_id = ? AND c.reference = ?`)
      .safeIntegers(true),
    expiredActive: connection
      .prepare(
        `SELECT ${couponColumns} ${fromCoupons} WHERE c.status = 'active' AND c.expires_at_ms <= ? ORDER BY c.id`,
      )
      .safeIntegers(true),
    insert: connection.prepare(
      `INSERT INTO coupons (id, tenant_id, kind, program, amount, coverage_bps, models, regions, priority,
         starts_at_ms, expires_at_ms, status, reference, created_at_ms, ended_at_ms)
       VALUES (@id, @tenantId, @kind, @program, @amountMicro, @coverageBps, @models, @regions, @priority,
         @startsAtMs, @expiresAtMs, 'active', @reference, @createdAtMs, NULL)`,
    ),
    end: connection.prepare(
      `UPDATE coupons SET status = ?, ended_at_ms = ? WHERE id = ? AND status = 'active'`,
    ),
  };
  return {
    ofTenant: (tenantId: string) =>
      (statements.ofTenant.all(tenantId) as CouponRow[]).map(toCouponState),
    byId: (id: string) => {
      const row = statements.byId.get(id) as CouponRow | undefined;
      return row && toCouponState(row);
    },
    byReference: (tenantId: string, reference: string) => {
      const row = statements.byReference.get(tenantId, reference) as CouponRow | undefined;
      return row && toCouponState(row);
    },
    expiredActive: (atMs: number) =>
      (statements.expiredActive.all(atMs) as CouponRow[]).map(toCouponState),
    insert: (coupon: CouponTerms & { createdAtMs: number }) => {
      statements.insert.run({
        ...coupon,
        models: coupon.models === null ? null : JSON.stringify(coupon.models),
        regions: coupon.regions === null ? null : JSON.stringify(coupon.regions),
      });
    },
    /** Marks an active grant voided or expired; false when it had already ended. */
    end: (id: string, status: 'voided' | 'expired', atMs: number) =>
      statements.end.run(status, atMs, id).changes === 1,
  };
}
