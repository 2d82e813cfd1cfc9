/**
 * A subsidy program's statement and the list of programs as the API shows them: JSON with money
 * as decimal strings, and the statement's CSV for a subsidy office (one row per tenant and kind,
 * then a total row per kind and the grand total, each row saying which program, period and
 * currency it belongs to and whether the figures reconciled with the ledger).
 */
import { formatMoney } from '../../billing/money.ts';
import type {
  ProgramListing,
  ProgramSummary,
  StatementAmounts,
} from '../../billing/program-statement.ts';
import { toRfc3339 } from '../../platform/clock.ts';
import { type CsvValue, toCsv } from './csv.ts';

function amountsView(amounts: StatementAmounts) {
  return {
    coupons: amounts.coupons,
    opening: formatMoney(amounts.openingMicro),
    granted: formatMoney(amounts.grantedMicro),
    used: formatMoney(amounts.usedMicro),
    expired: formatMoney(amounts.expiredMicro),
    voided: formatMoney(amounts.voidedMicro),
    remaining: formatMoney(amounts.remainingMicro),
    requests: amounts.requests,
    copaid_value: formatMoney(amounts.copaidMicro),
  };
}

/** What the reconciliation compared, said once in every statement. */
const reconciledAgainst =
  'coupons granted = grant transfers; usage records = coupon transfers to requests; ' +
  'remaining = coupon balances';

export function programStatementView(
  summary: ProgramSummary,
  currency: string,
  tenantNames: ReadonlyMap<string, string>,
) {
  return {
    object: 'program_statement',
    program: summary.program,
    currency,
    from: toRfc3339(summary.range.fromMs),
    to: toRfc3339(summary.range.toMs),
    data: summary.lines.map((line) => ({
      object: 'program_statement_line',
      tenant_id: line.tenantId,
      tenant_name: tenantNames.get(line.tenantId) ?? null,
      kind: line.kind,
      ...amountsView(line),
    })),
    totals: summary.totals.map((total) => ({
      kind: total.kind,
      tenants: total.tenants,
      ...amountsView(total),
    })),
    grand_total: { tenants: summary.grandTotal.tenants, ...amountsView(summary.grandTotal) },
    reconciliation: {
      ok: summary.reconciliation.ok,
      compared: reconciledAgainst,
      problems: summary.reconciliation.problems,
    },
  };
}

type StatementView = ReturnType<typeof programStatementView>;

const amountColumns = [
  'coupons',
  'opening',
  'granted',
  'used',
  'expired',
  'voided',
  'remaining',
  'requests',
  'copaid_value',
] as const;

const statementColumns = [
  'program',
  'currency',
  'from',
  'to',
  'row',
  'tenant_id',
  'tenant_name',
  'kind',
  'tenants',
  ...amountColumns,
  'reconciled',
] as const;

type AmountsRow = ReturnType<typeof amountsView>;

export function programStatementCsv(view: StatementView): string {
  const rowOf = (
    row: string,
    who: { tenant_id: string; tenant_name: string | null; kind: string; tenants: number | null },
    amounts: AmountsRow,
  ): CsvValue[] => [
    view.program,
    view.currency,
    view.from,
    view.to,
    row,
    who.tenant_id,
    who.tenant_name,
    who.kind,
    who.tenants,
    ...amountColumns.map((column) => amounts[column]),
    view.reconciliation.ok,
  ];
  return toCsv(statementColumns, [
    ...view.data.map((line) => rowOf('tenant', { ...line, tenants: null }, line)),
    ...view.totals.map((total) =>
      rowOf('kind_total', { tenant_id: '', tenant_name: null, ...total }, total),
    ),
    rowOf(
      'grand_total',
      { tenant_id: '', tenant_name: null, kind: 'all', tenants: view.grand_total.tenants },
      view.grand_total,
    ),
  ]);
}

export function programListingView(listing: ProgramListing) {
  const kindView = (kind: ProgramListing['kinds'][keyof ProgramListing['kinds']]) =>
    kind && {
      coupons: kind.coupons,
      tenants: kind.tenants,
      granted: formatMoney(kind.grantedMicro),
    };
  return {
    object: 'program',
    program: listing.program,
    coupons: listing.coupons,
    tenants: listing.tenants,
    granted: formatMoney(listing.grantedMicro),
    kinds: Object.fromEntries(
      Object.entries(listing.kinds).map(([kind, figures]) => [kind, kindView(figures)]),
    ),
  };
}
