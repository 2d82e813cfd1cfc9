/**
 * The SQL of a subsidy program's figures (billing/program-statement.ts), per program, tenant and
 * coupon kind, from two independent sources so that each can check the other:
 * - the records: the coupons granted (their face value) and the usage records (what each
 *   program coupon paid of each request, and the request's whole cost);
 * - the ledger: every posted movement of the program's coupon accounts (grants in, spending out,
 *   expiry to breakage, voids back to the program) and the accounts' stored balances.
 * Written once for SQLite and PostgreSQL; the two differ only in how a usage record's payers
 * (JSON) are listed, which the store's SqlDialect says. Parameters are named `@program` (NULL for
 * every program), `@fromMs` and `@toMs` (the period, `to` exclusive); a store binds them its way.
 * There is no index on transfer accounts or usage times: these are full scans, for an operator's
 * report and the ledger check, never for a request.
 */

export type SqlDialect = {
  /** What follows `FROM usage_records u` to list each payer of `u` as `p`. */
  payersOfUsage: string;
  /** One field of a payer `p`, as text. */
  payerField(field: 'source' | 'id' | 'amount'): string;
  /** Where `part` first occurs in `text`, counting from 1. */
  position(text: string, part: string): string;
};

export const sqliteDialect: SqlDialect = {
  payersOfUsage: ', json_each(u.paid_by) p',
  payerField: (field) => `json_extract(p.value, '$.${field}')`,
  position: (text, part) => `instr(${text}, ${part})`,
};

export const postgresDialect: SqlDialect = {
  payersOfUsage: 'CROSS JOIN LATERAL jsonb_array_elements(u.paid_by) AS p(value)',
  payerField: (field) => `(p.value ->> '${field}')`,
  position: (text, part) => `strpos(${text}, ${part})`,
};

/**
 * A stored decimal amount ("12.5", "0.000123": formatMoney's text, always with a point) as
 * integer micro-units, exactly: the whole part times a million plus the fraction padded to six
 * digits. No float is involved.
 */
function decimalMicro(dialect: SqlDialect, text: string): string {
  const point = dialect.position(text, "'.'");
  return `(CAST(substr(${text}, 1, ${point} - 1) AS BIGINT) * 1000000
    + CAST(substr(substr(${text}, ${point} + 1) || '000000', 1, 6) AS BIGINT))`;
}

const inProgram = (column: string) => `(@program IS NULL OR ${column} = @program)`;

/** Coupons granted before `to`: how many, and the face value of those granted in the period. */
const programCoupons = `SELECT c.program AS program, c.tenant_id AS tenant_id, c.kind AS kind,
    COUNT(*) AS coupons,
    SUM(CASE WHEN c.created_at_ms >= @fromMs THEN c.amount ELSE 0 END) AS granted
  FROM coupons c
  WHERE c.created_at_ms < @toMs AND ${inProgram('c.program')}
  GROUP BY c.program, c.tenant_id, c.kind`;

/**
 * What the program's coupons paid of each charge in the period, one row per charge (and kind,
 * when `byKind`): two coupons of one program paying one charge count it once. A charge is a
 * request settled in the period (its usage record names its payers), a storage tick (a ledger
 * transaction of its own, with no usage record: its coupon transfers are its record), or a
 * card-hour lease (its charge and its end's refund, both keyed by the lease: what the coupons
 * paid net of what came back to them; its value is its charge).
 */
function paidRequests(dialect: SqlDialect, byKind: boolean): string {
  const kind = byKind ? 'c.kind' : "'all'";
  return `SELECT c.program AS program, u.tenant_id AS tenant_id, ${kind} AS kind,
      u.request_id AS request_id,
      SUM(${decimalMicro(dialect, dialect.payerField('amount'))}) AS used, MAX(u.cost) AS cost
    FROM usage_records u ${dialect.payersOfUsage}
    JOIN coupons c ON c.id = ${dialect.payerField('id')}
    WHERE ${dialect.payerField('source')} = 'coupon'
      AND u.settled_at_ms >= @fromMs AND u.settled_at_ms < @toMs AND ${inProgram('c.program')}
    GROUP BY c.program, u.tenant_id, ${byKind ? 'c.kind, ' : ''}u.request_id
    UNION ALL
    SELECT c.program, x.tenant_id, ${kind}, x.idempotency_key, SUM(t.amount), MAX(x.amount)
    FROM ledger_transactions x JOIN transfers t ON t.transaction_id = x.id
    JOIN coupons c ON 'coupon:' || c.id = t.debit_account_id
    WHERE x.kind = 'storage' AND t.flag IN ('posted', 'post_pending')
      AND x.created_at_ms >= @fromMs AND x.created_at_ms < @toMs AND ${inProgram('c.program')}
    GROUP BY c.program, x.tenant_id, ${byKind ? 'c.kind, ' : ''}x.idempotency_key
    UNION ALL
    SELECT c.program, x.tenant_id, ${kind}, 'lease:' || x.reference,
      SUM(CASE WHEN t.debit_account_id = 'coupon:' || c.id THEN t.amount ELSE -t.amount END),
      MAX(CASE WHEN x.kind = 'lease' THEN x.amount ELSE 0 END)
    FROM ledger_transactions x JOIN transfers t ON t.transaction_id = x.id
    JOIN coupons c ON 'coupon:' || c.id IN (t.debit_account_id, t.credit_account_id)
    WHERE x.kind IN ('lease', 'lease_end') AND t.flag IN ('posted', 'post_pending')
      AND x.created_at_ms >= @fromMs AND x.created_at_ms < @toMs AND ${inProgram('c.program')}
    GROUP BY c.program, x.tenant_id, ${byKind ? 'c.kind, ' : ''}x.reference`;
}

/** Requests co-paid, what the coupons paid of them and their whole cost (`kind` 'all' across kinds). */
function programUsage(dialect: SqlDialect, byKind: boolean): string {
  return `SELECT program, tenant_id, kind, COUNT(*) AS requests, SUM(used) AS used,
      SUM(cost) AS copaid
    FROM (${paidRequests(dialect, byKind)}) paid
    GROUP BY program, tenant_id, kind`;
}

/** Posted movements of coupon accounts, each seen from its coupon: in (credited) or out. */
const couponMovements = `SELECT substr(t.debit_account_id, 8) AS coupon_id,
    t.credit_account_id AS other_account, t.amount AS amount, 0 AS credited,
    t.created_at_ms AS at_ms
  FROM transfers t
  WHERE t.debit_account_id LIKE 'coupon:%' AND t.flag IN ('posted', 'post_pending')
  UNION ALL
  SELECT substr(t.credit_account_id, 8), t.debit_account_id, t.amount, 1, t.created_at_ms
  FROM transfers t
  WHERE t.credit_account_id LIKE 'coupon:%' AND t.flag IN ('posted', 'post_pending')`;

const inPeriod = 'm.at_ms >= @fromMs AND m.at_ms < @toMs';
const signed = 'CASE WHEN m.credited = 1 THEN m.amount ELSE -m.amount END';
const fromProgram = "substr(m.other_account, 1, 19) = 'subsidy_receivable:'";
const toBreakage = "m.other_account = 'breakage'";

/**
 * The ledger's side: in the period, money granted (in from the program), voided (back to it),
 * expired (to breakage) and used (anything else, net of money coming back); the balance before
 * the period, at its end, and after every movement ever.
 */
const programMovements = `SELECT c.program AS program, c.tenant_id AS tenant_id, c.kind AS kind,
    SUM(CASE WHEN ${inPeriod} AND m.credited = 1 AND ${fromProgram} THEN m.amount ELSE 0 END)
      AS granted,
    SUM(CASE WHEN ${inPeriod} AND m.credited = 0 AND ${fromProgram} THEN m.amount ELSE 0 END)
      AS voided,
    SUM(CASE WHEN ${inPeriod} AND m.credited = 0 AND ${toBreakage} THEN m.amount ELSE 0 END)
      AS expired,
    SUM(CASE WHEN ${inPeriod} AND NOT (${fromProgram}) AND NOT (${toBreakage})
      THEN -(${signed}) ELSE 0 END) AS used,
    SUM(CASE WHEN m.at_ms < @fromMs THEN ${signed} ELSE 0 END) AS opening,
    SUM(CASE WHEN m.at_ms < @toMs THEN ${signed} ELSE 0 END) AS closing,
    SUM(${signed}) AS net
  FROM (${couponMovements}) m JOIN coupons c ON c.id = m.coupon_id
  WHERE ${inProgram('c.program')}
  GROUP BY c.program, c.tenant_id, c.kind`;

/** The coupon accounts' stored running totals: posted balance and holds, now. */
const programBalances = `SELECT c.program AS program, c.tenant_id AS tenant_id, c.kind AS kind,
    SUM(a.credits_posted - a.debits_posted) AS balance, SUM(a.debits_pending) AS held
  FROM coupons c JOIN accounts a ON a.id = 'coupon:' || c.id
  WHERE ${inProgram('c.program')}
  GROUP BY c.program, c.tenant_id, c.kind`;

/** Each query of a program's figures by the name billing asks for it, in the store's dialect. */
export function programFiguresQueries(dialect: SqlDialect) {
  return {
    programCoupons,
    programUsage: programUsage(dialect, true),
    programRequests: programUsage(dialect, false),
    programMovements,
    programBalances,
  } as const;
}
