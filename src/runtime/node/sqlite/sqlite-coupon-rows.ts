/**
 * Coupon grants as the SQLite ledger reads them: terms from `coupons`, money from the grant's
 * account. Inside the ledger's transactions a grant's terms and status come from memory (terms
 * never change; a status changes only through `end`, which updates it), its money from the
 * tenants' balances in memory (tenant-balances.ts), and a tenant's list of grants from memory
 * too, read once and again after one of its grants is created. All of it is forgotten on a
 * rollback or when another connection wrote the file (forgetAll). The API's reads go to the file.
 */
import type Database from 'better-sqlite3';
import type { CouponState, CouponTerms } from '../../../billing/ledger.ts';
import type { CouponKind, FundedGrant } from '../../../billing/waterfall.ts';
import { columnList, rowValues } from '../../../db/ledger-column.ts';
import { couponColumns as couponTable } from '../../../db/ledger-tables.ts';
import { BoundedMap } from '../../../platform/bounded-map.ts';
import { couponProperties, storedCouponOf } from '../../ledger-row-codecs.ts';
import { type AccountBalance, availableOf, type TenantBalances } from './tenant-balances.ts';

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
/** Tenants whose list of grants is kept in memory; past this, the oldest are read again. */
const tenantListsMax = 100_000;

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

export type CouponRowsOptions = {
  balances: TenantBalances;
  /** Writes the ledger's queued changes, so a read of the file sees them. */
  flush: () => void;
};

export function createCouponRows(connection: Database.Database, options: CouponRowsOptions) {
  const { balances, flush } = options;
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
    termsById: connection
      .prepare(`SELECT ${termColumns} FROM coupons c WHERE c.id = ?`)
      .safeIntegers(true),
    tenantBalances: connection
      .prepare(
        `SELECT id, credits_posted, debits_posted, debits_pending
         FROM accounts WHERE owner_id = ? AND kind = 'coupon'`,
      )
      .safeIntegers(true),
  };
  /** Terms never change once granted; a grant's status only ever leaves 'active', in `end`. */
  const termsCache = new BoundedMap<CouponState & FundedGrant>(termsCacheEntriesMax);
  /** Each tenant's grants, oldest first, by the id of their accounts. */
  const tenantLists = new BoundedMap<{ couponId: string; accountId: string }[]>(tenantListsMax);

  /** The tenant's grants oldest first, their balances learnt as they are read. */
  function grantsOf(tenantId: string) {
    let grants = tenantLists.get(tenantId);
    if (!grants) {
      flush();
      const rows = statements.tenantBalances.all(tenantId) as (AccountBalance & { id: string })[];
      const listed: { couponId: string; accountId: string; terms: CouponState }[] = [];
      for (const { id, ...balance } of rows) {
        const couponId = id.slice('coupon:'.length);
        const terms = termsOf(couponId);
        if (terms) {
          balances.learn(id, balance);
          listed.push({ couponId, accountId: id, terms });
        }
      }
      listed.sort((left, right) => byCreation(left.terms, right.terms));
      grants = listed.map(({ couponId, accountId }) => ({ couponId, accountId }));
      tenantLists.remember(tenantId, grants);
    }
    return grants;
  }

  /** A grant's terms and status with its money as of this transaction. */
  function withMoney(terms: CouponState & FundedGrant, balance: AccountBalance) {
    const available = availableOf(balance);
    return {
      ...terms,
      remainingMicro: available,
      availableMicro: available,
      heldMicro: balance.debits_pending,
    };
  }

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
    /** A tenant's grants, oldest first, with what each may still pay: all from memory. */
    fundedOfTenant(tenantId: string): (CouponState & FundedGrant)[] {
      const funded: (CouponState & FundedGrant)[] = [];
      for (const { couponId, accountId } of grantsOf(tenantId)) {
        const terms = termsOf(couponId);
        const balance = balances.balanceOf(accountId);
        if (terms && balance) {
          funded.push(withMoney(terms, balance));
        }
      }
      return funded;
    },
    /** A grant was created for the tenant (its account is new): its list is read again. */
    forgetTenant(tenantId: string): void {
      tenantLists.forget(tenantId);
    },
    /** Each grant whose status in memory differs from the file's. */
    disagreements(): string[] {
      const problems: string[] = [];
      for (const [couponId, terms] of termsCache.entries()) {
        if (statements.status.get(couponId) !== terms.status) {
          problems.push(`the in-memory status of coupon ${couponId} differs from the store`);
        }
      }
      return problems;
    },
    /** Forgets the lists and statuses: a rollback undid them, or another connection wrote. */
    forgetAll(): void {
      tenantLists.clear();
      termsCache.clear();
    },
    /** A tenant's grants oldest first, as the API lists them. */
    ofTenantByCreation: (tenantId: string) =>
      (statements.ofTenant.all(tenantId) as CouponRow[]).map(toCouponState).sort(byCreation),
    byId: (id: string) => {
      flush();
      const row = statements.byId.get(id) as CouponRow | undefined;
      return row && toCouponState(row);
    },
    byReference: (tenantId: string, reference: string) => {
      flush();
      const row = statements.byReference.get(tenantId, reference) as CouponRow | undefined;
      return row && toCouponState(row);
    },
    expiredActive: (atMs: number) => {
      flush();
      return (statements.expiredActive.all(atMs) as CouponRow[]).map(toCouponState);
    },
    insert: (coupon: CouponTerms & { createdAtMs: number }) => {
      statements.insert.run(rowValues(couponTable, couponProperties, storedCouponOf(coupon)));
    },
    /** A grant as it stands in this transaction, from memory. */
    current: (id: string): (CouponState & FundedGrant) | undefined => {
      const terms = termsOf(id);
      const balance = balances.balanceOf(`coupon:${id}`);
      return terms && balance && withMoney(terms, balance);
    },
    /** Marks an active grant voided or expired; false when it had already ended. */
    end: (id: string, status: 'voided' | 'expired', atMs: number) => {
      const ended = statements.end.run(status, atMs, id).changes === 1;
      const terms = termsCache.get(id);
      if (ended && terms) {
        termsCache.remember(id, { ...terms, status });
      }
      return ended;
    },
  };
}
