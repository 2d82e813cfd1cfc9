/**
 * `tokenbank admin statement` and `tokenbank admin programs`: a subsidy program's statement for
 * its issuer (per tenant and coupon kind, what was granted, used, expired, voided and remains,
 * and the requests co-paid; totals; whether it reconciles with the ledger), or with --lines every
 * charge its coupons paid; and the list of programs. --csv prints the gateway's CSV byte for byte.
 * A statement that does not reconcile prints why and exits 1.
 */
import { UsageError } from '../gateway-flags.ts';
import { type AdminResource, pathSegment } from './admin-action.ts';
import {
  type Column,
  column,
  escapeControlCharacters,
  formatValue,
  isRecord,
  type JsonRecord,
  renderList,
  renderTable,
} from './render-table.ts';
import { csvFlag, formatOf, rangeAndPageFlags } from './report-resources.ts';

const amountColumns: Column[] = [
  column('COUPONS', 'coupons'),
  column('OPENING', 'opening'),
  column('GRANTED', 'granted'),
  column('USED', 'used'),
  column('EXPIRED', 'expired'),
  column('VOIDED', 'voided'),
  column('REMAINING', 'remaining'),
  column('REQUESTS', 'requests'),
  column('CO-PAID VALUE', 'copaid_value'),
];

const lineColumns: Column[] = [
  column('TENANT', 'tenant_id'),
  column('NAME', 'tenant_name'),
  column('KIND', 'kind'),
  ...amountColumns,
];

const totalColumns: Column[] = [
  column('KIND', 'kind'),
  column('TENANTS', 'tenants'),
  ...amountColumns,
];

const chargeColumns: Column[] = [
  column('REQUEST', 'request_id'),
  column('TIME', 'time'),
  column('TENANT', 'tenant_id'),
  column('COUPON', 'coupon_id'),
  column('MODEL', 'model'),
  column('PROVIDER', 'provider_id'),
  column('TOKENS IN', 'input_tokens'),
  column('TOKENS OUT', 'output_tokens'),
  column('AMOUNT', 'amount'),
];

const programColumns: Column[] = [
  column('PROGRAM', 'program'),
  column('COUPONS', 'coupons'),
  column('TENANTS', 'tenants'),
  column('GRANTED', 'granted'),
  ...['compute', 'storage', 'transport'].map(
    (kind): Column => ({
      header: `${kind.toUpperCase()} GRANTED`,
      value: (row) => {
        const kinds = isRecord(row.kinds) ? row.kinds : {};
        const figures = kinds[kind];
        return isRecord(figures) ? figures.granted : undefined;
      },
    }),
  ),
];

function isSummary(body: unknown): body is JsonRecord {
  return isRecord(body) && body.object === 'program_statement';
}

function reconciliationOf(body: JsonRecord): {
  ok: boolean;
  compared: unknown;
  problems: unknown[];
} {
  const reconciliation = isRecord(body.reconciliation) ? body.reconciliation : {};
  return {
    ok: reconciliation.ok === true,
    compared: reconciliation.compared,
    problems: Array.isArray(reconciliation.problems) ? reconciliation.problems : [],
  };
}

/** The summary: a heading, the lines, the totals per kind, the grand total, the reconciliation. */
export function renderSummary(body: JsonRecord): string {
  const heading = `program ${formatValue(body.program)}, ${formatValue(body.from)} to ${formatValue(body.to)}, amounts in ${formatValue(body.currency)}`;
  const lines = renderList(body, lineColumns, 'coupons of this program in this period');
  const totals = Array.isArray(body.totals) ? body.totals.filter(isRecord) : [];
  const grand = isRecord(body.grand_total) ? body.grand_total : {};
  const grandText = [
    ['tenants', 'tenants'],
    ['granted', 'granted'],
    ['used', 'used'],
    ['expired', 'expired'],
    ['voided', 'voided'],
    ['remaining', 'remaining'],
    ['requests', 'requests'],
    ['co-paid value', 'copaid_value'],
  ]
    .map(([label, field]) => `${label} ${formatValue(grand[field ?? ''])}`)
    .join(', ');
  const { ok, compared, problems } = reconciliationOf(body);
  const reconciled = ok
    ? `reconciled with the ledger: ${formatValue(compared)}\n`
    : `NOT reconciled with the ledger: ${problems.length} problems\n${problems
        .map((problem) => `  ${escapeControlCharacters(String(problem))}\n`)
        .join('')}`;
  return [
    `${heading}\n\n`,
    lines,
    totals.length === 0 ? '' : `\ntotals per kind:\n${renderTable(totals, totalColumns)}`,
    `\ngrand total: ${grandText}\n`,
    reconciled,
  ].join('');
}

function renderStatement(body: unknown): string {
  if (typeof body === 'string') {
    return body;
  }
  return isSummary(body) ? renderSummary(body) : renderList(body, chargeColumns, 'charges');
}

export const statementResource: AdminResource = {
  summary: "a subsidy program's statement, for its issuer",
  actions: {},
  direct: {
    summary: "what a program's coupons granted, paid and left, per tenant and kind, with totals",
    arguments: ['PROGRAM'],
    flags: {
      ...rangeAndPageFlags,
      from: {
        kind: 'string',
        placeholder: 'T',
        description:
          "from this RFC 3339 time, inclusive (default: the program's start; with --lines, 30 days before --to)",
      },
      tenant: { kind: 'string', placeholder: 'ID', description: 'only this tenant' },
      lines: {
        kind: 'boolean',
        description: 'every charge the coupons paid instead, a page at a time (--limit, --after)',
      },
      csv: csvFlag,
    },
    notes: [
      "The CSV (--csv) is the statement to hand to the program's issuer. GRANTED and USED come",
      'from the coupons and the usage records; the statement says whether they reconcile with the',
      "ledger's transfers and the coupons' balances, and exits 1 when they do not.",
    ].join('\n'),
    request: (input) => {
      const lines = input.enabled('lines');
      if (!lines && (input.text('limit') !== undefined || input.text('after') !== undefined)) {
        throw new UsageError('--limit and --after page the charges: add --lines');
      }
      const format = formatOf(input);
      return {
        method: 'GET',
        path: `/admin/v1/programs/${pathSegment(input.argument('PROGRAM'))}/statement`,
        query: {
          detail: lines ? 'lines' : undefined,
          from: input.text('from'),
          to: input.text('to'),
          limit: input.text('limit'),
          after: input.text('after'),
          tenant_id: input.text('tenant'),
          format,
        },
        response: format,
      };
    },
    render: renderStatement,
    answerFailed: (body) => isSummary(body) && !reconciliationOf(body).ok,
  },
};

export const programResource: AdminResource = {
  summary: 'subsidy programs: their coupons, tenants and what they granted',
  actions: {},
  direct: {
    summary: 'list every program that granted a coupon, with what it granted per kind',
    request: () => ({ method: 'GET', path: '/admin/v1/programs' }),
    render: (body) => renderList(body, programColumns, 'programs'),
  },
};
