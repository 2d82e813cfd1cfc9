/**
 * Coupon grants as the SQLite ledger reads them: terms from `coupons`, money from the grant's
 * account. One query serves the waterfall (funded grants) and the API (coupon states).
 */
import type Database from 'better-sqlite3';
import type { CouponState, CouponTerms } from '../../../billing/ledger.ts';
import type { CouponKind, FundedGrant } from '../../../billing/waterfall.ts';
import { columnList, rowValues } from '../../../db/ledger-column.ts';
import { couponColumns as couponTable } from '../../../db/ledger-tables.ts';
import { BoundedMap } from '../../../platform/bounded-map.ts';
import { couponProperties, storedCouponOf } from '../ledger-row-codecs.ts';

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

const termColumns = `c.id, c.tenant_id AS tenantId, c.kind, c.program, c.amount,
  c.coverage_bps AS coverageBps, c.models, c.regions, c.priority, c.starts_at_ms AS startsAtMs,
  c.expires_at_ms AS expiresAtMs, c.status, c.reference, c.created_at_ms AS createdAtMs`;

const couponColumns = `${termColumns},
  a.credits_posted - a.debits_posted - a.debits_pending AS available, a.debits_pending AS held`;

/** Coupon terms kept in memory; past this, the oldest are read again when needed. */
const termsCacheEntriesMax = 100_000;

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

/** Oldest first: created, then id. */
function byCreation(left: CouponState, right: CouponState): number {
  return (
    left.createdAtMs - right.createdAtMs || (left.id < right.id ? -1 : left.id > right.id ? 1 : 0)
  );
}

export type CouponRows = ReturnType<typeof createCouponRows>;

export function createCouponRows(connection: Database.Database) {
  const statements = {
    ofTenant: connection
      .prepare(`SELECT ${couponColumns} ${fromCoupons} WHERE c.tenant_id = ?`)
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
      `INSERT INTO coupons (${columnList(couponTable, couponProperties)})
       VALUES (${couponProperties.map(() => '?').join(', ')})`,
    ),
    end: connection.prepare(
      `UPDATE coupons SET status = ?, ended_at_ms = ? WHERE id = ? AND status = 'active'`,
    ),
    status: connection.prepare('SELECT status FROM coupons WHERE id = ?').pluck(),
    balances: connection
      .prepare(
        `SELECT credits_posted - debits_posted - debits_pending AS available, debits_pending AS held
         FROM accounts WHERE id = ?`,
      )
      .safeIntegers(true),
    termsById: connection
      .prepare(`SELECT ${termColumns} FROM coupons c WHERE c.id = ?`)
      .safeIntegers(true),
    tenantBalances: connection
      .prepare(
        `SELECT id, credits_posted - debits_posted - debits_pending AS available, debits_pending AS held
         FROM accounts WHERE owner_id = ? AND kind = 'coupon'`,
      )
      .safeIntegers(true),
  };
  /** Terms never change once granted; a grant's status only ever leaves 'active'. */
  const termsCache = new BoundedMap<CouponState & FundedGrant>(termsCacheEntriesMax);
  function termsOf(couponId: string): (CouponState & FundedGrant) | undefined {
    let terms = termsCache.get(couponId);
    if (!terms) {
      const row = statements.termsById.get(couponId) as CouponRow | undefined;
      if (!row) {
        return undefined;
      }
      terms = toCouponState({ ...row, available: 0n, held: 0n });
      termsCache.remember(couponId, terms);
    }
    return terms;
  }
  return {
    /**
     * A tenant's funded grants, oldest first, from one indexed read of its coupon accounts. The grants'
     * terms come from memory; a status read there may be stale only for a grant that ended since,
     * and an ended grant has nothing available (the ledger check verifies it), so the waterfall
     * takes nothing from it either way.
     */
    fundedOfTenant: (tenantId: string) => {
      const rows = statements.tenantBalances.all(tenantId) as {
        id: string;
        available: bigint;
        held: bigint;
      }[];
      const grants: (CouponState & FundedGrant)[] = [];
      for (const row of rows) {
        const terms = termsOf(row.id.slice('coupon:'.length));
        if (terms) {
          grants.push({
            ...terms,
            remainingMicro: row.available,
            availableMicro: row.available,
            heldMicro: row.held,
          });
        }
      }
      return grants.sort(byCreation);
    },
    /** A tenant's grants oldest first, as the API lists them. */
    ofTenantByCreation: (tenantId: string) =>
      (statements.ofTenant.all(tenantId) as CouponRow[]).map(toCouponState).sort(byCreation),
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
      statements.insert.run(rowValues(couponTable, couponProperties, storedCouponOf(coupon)));
    },
    /**
     * A grant as it stands now: its terms from memory, its status and money read fresh (two
     * primary-key reads, cheaper than the join of `byId` and its JSON).
     */
    current: (id: string): (CouponState & FundedGrant) | undefined => {
      const terms = termsOf(id);
      const money = statements.balances.get(`coupon:${id}`) as
        | { available: bigint; held: bigint }
        | undefined;
      if (!terms || !money) {
        return undefined;
      }
      return {
        ...terms,
        status: statements.status.get(id) as CouponState['status'],
        remainingMicro: money.available,
        availableMicro: money.available,
        heldMicro: money.held,
      };
    },
    /** Marks an active grant voided or expired; false when it had already ended. */
    end: (id: string, status: 'voided' | 'expired', atMs: number) =>
      statements.end.run(status, atMs, id).changes === 1,
  };
}
