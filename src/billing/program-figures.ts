/**
 * A subsidy program's figures per tenant and coupon kind, read from two independent sources (the
 * SQL is db/program-figures-queries.ts; this module only turns its rows into figures): the
 * records (coupons granted, usage records' payers) and the ledger (the coupon accounts' posted
 * movements and stored balances). Reconciling them is how a statement, and the ledger check,
 * say that the records agree with the money: granted = grant transfers, used = coupon debits of
 * settlements, remaining = the coupons' balances.
 */
import { formatMoney } from './money.ts';
import { type CouponKind, couponKinds } from './waterfall.ts';

/** The queries of a program's figures, by name; each answers rows with the columns read below. */
export type ProgramFiguresQueryName =
  | 'programCoupons'
  | 'programUsage'
  | 'programRequests'
  | 'programMovements'
  | 'programBalances';

/** Runs one query over the program (or every program) and period the caller chose. */
export type ProgramFiguresQuery = (
  name: ProgramFiguresQueryName,
) => Promise<Record<string, unknown>[]>;

/** What the ledger's accounts say of one program, tenant and kind. */
export type LedgerFigures = {
  /** Movements in the period: in from the program, back to it, to breakage, and spent. */
  grantedMicro: bigint;
  voidedMicro: bigint;
  expiredMicro: bigint;
  usedMicro: bigint;
  /** Posted balance from the transfers: before the period, at its end, after all of them. */
  openingMicro: bigint;
  closingMicro: bigint;
  netMicro: bigint;
  /** The accounts' stored running totals, now: posted balance and holds. */
  storedMicro: bigint;
  heldMicro: bigint;
};

export type ProgramFigures = {
  program: string;
  tenantId: string;
  kind: CouponKind;
  /** Coupons granted before the period's end. */
  coupons: number;
  /** The records, in the period: face value granted, and what usage records say coupons paid. */
  grantedMicro: bigint;
  usedMicro: bigint;
  /** Requests the program's coupons co-paid in the period, and their whole cost. */
  requests: number;
  copaidMicro: bigint;
  ledger: LedgerFigures;
};

/** Requests co-paid by any kind of the program's coupons: a request paid by two kinds once. */
export type ProgramRequestTotals = {
  program: string;
  tenantId: string;
  requests: number;
  copaidMicro: bigint;
};

export type ProgramFigureSet = {
  figures: ProgramFigures[];
  requestTotals: ProgramRequestTotals[];
};

/** Money and counts come back as bigint (SQLite), text (PostgreSQL's int8 and numeric) or numbers. */
export function integerValue(value: unknown): bigint {
  return typeof value === 'bigint' ? value : BigInt(String(value ?? 0));
}

export function couponKindOf(value: unknown): CouponKind {
  const kind = couponKinds.find((known) => known === value);
  if (kind === undefined) {
    throw new Error(`a coupon row holds kind ${String(value)}`);
  }
  return kind;
}

const keyOf = (row: Record<string, unknown>) =>
  `${String(row.program)}\u0000${String(row.tenant_id)}\u0000${String(row.kind)}`;

function byKey(rows: readonly Record<string, unknown>[]): Map<string, Record<string, unknown>> {
  return new Map(rows.map((row) => [keyOf(row), row]));
}

function ledgerFigures(
  movements: Record<string, unknown> | undefined,
  balances: Record<string, unknown> | undefined,
): LedgerFigures {
  return {
    grantedMicro: integerValue(movements?.granted),
    voidedMicro: integerValue(movements?.voided),
    expiredMicro: integerValue(movements?.expired),
    usedMicro: integerValue(movements?.used),
    openingMicro: integerValue(movements?.opening),
    closingMicro: integerValue(movements?.closing),
    netMicro: integerValue(movements?.net),
    storedMicro: integerValue(balances?.balance),
    heldMicro: integerValue(balances?.held),
  };
}

/** The coupons part of the figures alone: what listing the programs needs. */
export type CouponFigures = Pick<
  ProgramFigures,
  'program' | 'tenantId' | 'kind' | 'coupons' | 'grantedMicro'
>;

export async function readCouponFigures(query: ProgramFiguresQuery): Promise<CouponFigures[]> {
  return (await query('programCoupons')).map((row) => ({
    program: String(row.program),
    tenantId: String(row.tenant_id),
    kind: couponKindOf(row.kind),
    coupons: Number(integerValue(row.coupons)),
    grantedMicro: integerValue(row.granted),
  }));
}

/** Every program, tenant and kind any source names, with what each source says of it. */
export async function readProgramFigures(query: ProgramFiguresQuery): Promise<ProgramFigureSet> {
  const coupons = byKey(await query('programCoupons'));
  const usage = byKey(await query('programUsage'));
  const movements = byKey(await query('programMovements'));
  const balances = byKey(await query('programBalances'));
  const rows = new Map([...balances, ...movements, ...usage, ...coupons]);
  const figures = [...rows].map(([key, row]): ProgramFigures => {
    const granted = coupons.get(key);
    const paid = usage.get(key);
    return {
      program: String(row.program),
      tenantId: String(row.tenant_id),
      kind: couponKindOf(row.kind),
      coupons: Number(integerValue(granted?.coupons)),
      grantedMicro: integerValue(granted?.granted),
      usedMicro: integerValue(paid?.used),
      requests: Number(integerValue(paid?.requests)),
      copaidMicro: integerValue(paid?.copaid),
      ledger: ledgerFigures(movements.get(key), balances.get(key)),
    };
  });
  const requestTotals = (await query('programRequests')).map(
    (row): ProgramRequestTotals => ({
      program: String(row.program),
      tenantId: String(row.tenant_id),
      requests: Number(integerValue(row.requests)),
      copaidMicro: integerValue(row.copaid),
    }),
  );
  return { figures, requestTotals };
}

/**
 * Where the records and the ledger disagree, one problem a line: coupons granted against grant
 * transfers, what usage records say coupons paid against the coupons' transfers to requests (both
 * in the period), and the coupons' stored balances against every transfer that moved them.
 */
export function reconcileProgramFigures(figures: readonly ProgramFigures[]): string[] {
  return figures.flatMap((figure) => {
    const where = `program ${figure.program}, tenant ${figure.tenantId}, ${figure.kind}`;
    const { ledger } = figure;
    const problems: string[] = [];
    if (figure.grantedMicro !== ledger.grantedMicro) {
      problems.push(
        `${where}: coupons granted ${formatMoney(figure.grantedMicro)}, grant transfers ${formatMoney(ledger.grantedMicro)}`,
      );
    }
    if (figure.usedMicro !== ledger.usedMicro) {
      problems.push(
        `${where}: usage records say coupons paid ${formatMoney(figure.usedMicro)}, coupon transfers to requests ${formatMoney(ledger.usedMicro)}`,
      );
    }
    if (ledger.storedMicro !== ledger.netMicro) {
      problems.push(
        `${where}: coupon balances are ${formatMoney(ledger.storedMicro)}, their transfers add up to ${formatMoney(ledger.netMicro)}`,
      );
    }
    return problems;
  });
}
