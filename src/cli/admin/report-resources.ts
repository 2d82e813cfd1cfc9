/**
 * `tokenbank admin usage`, `ledger` and `audit`: what a tenant used and paid, the transfers behind
 * its balance, the ledger's own check, and who changed what through the admin and provider APIs
 * (programs' statements: statement-resources.ts). With --csv an export is the server's CSV
 * printed byte for byte (to redirect into a file); otherwise a table. Money is printed exactly as
 * the server sends it.
 */
import type { ActionInput, AdminAction, AdminResource, FlagSpec } from './admin-action.ts';
import { pathSegment } from './admin-action.ts';
import {
  type Column,
  column,
  escapeControlCharacters,
  formatValue,
  isRecord,
  type JsonRecord,
  renderList,
} from './render-table.ts';

/** `wallet`, or `coupon:cpn_1` for a coupon. */
function payerText(part: JsonRecord): string {
  const source = formatValue(part.source);
  return part.id === null || part.id === undefined ? source : `${source}:${formatValue(part.id)}`;
}

/** Who paid a charge, as `wallet=0.40 coupon:cpn_1=0.60`; nothing for a free request. */
function paidByText(row: JsonRecord): string | undefined {
  const parts = Array.isArray(row.paid_by) ? row.paid_by.filter(isRecord) : [];
  return parts.length === 0
    ? undefined
    : parts.map((part) => `${payerText(part)}=${formatValue(part.amount)}`).join(' ');
}

const usageColumns: Column[] = [
  column('REQUEST', 'request_id'),
  column('TIME', 'created_at'),
  column('MODEL', 'model'),
  column('TOKENS IN', 'input_tokens'),
  column('TOKENS OUT', 'output_tokens'),
  column('SOURCE', 'usage_source'),
  column('OUTCOME', 'outcome'),
  column('COST', 'cost'),
  { header: 'PAID BY', value: paidByText },
];

const entryColumns: Column[] = [
  column('TRANSACTION', 'transaction_id'),
  column('KIND', 'kind'),
  column('REQUEST', 'request_id'),
  column('REFERENCE', 'reference'),
  column('DEBIT', 'debit_account'),
  column('CREDIT', 'credit_account'),
  column('AMOUNT', 'amount'),
  column('FLAG', 'flag'),
  column('TIME', 'created_at'),
];

export const rangeFlags = {
  from: {
    kind: 'string',
    placeholder: 'T',
    description: 'from this RFC 3339 time, inclusive (default: 30 days before --to)',
  },
  to: {
    kind: 'string',
    placeholder: 'T',
    description: 'up to this RFC 3339 time, exclusive (default: now)',
  },
} as const satisfies AdminAction['flags'];

export const rangeAndPageFlags = {
  ...rangeFlags,
  limit: {
    kind: 'string',
    placeholder: 'N',
    description: "rows per page (default: the gateway's usagePageSizeDefault)",
  },
  after: {
    kind: 'string',
    placeholder: 'CURSOR',
    description: 'the next_cursor of the page before (--json shows it)',
  },
} as const satisfies AdminAction['flags'];

export const csvFlag = {
  kind: 'boolean',
  description: 'print the CSV export exactly as the gateway sends it',
} as const satisfies FlagSpec;

/** The CSV text as sent, or the JSON list as a table. */
export function csvOrTable(columns: readonly Column[], noun: string) {
  return (body: unknown): string =>
    typeof body === 'string' ? body : renderList(body, columns, noun);
}

export function formatOf(input: ActionInput): 'csv' | 'json' {
  return input.enabled('csv') ? 'csv' : 'json';
}

/** `ok (N accounts, M transactions)`, or `not ok` and one problem a line. */
export function renderLedgerCheck(body: unknown): string {
  const record = isRecord(body) ? body : {};
  const counts = `${formatValue(record.accounts)} accounts, ${formatValue(record.transactions)} transactions`;
  if (record.ok === true) {
    return `ok (${counts})\n`;
  }
  const problems = Array.isArray(record.problems) ? record.problems : [];
  const lines = problems.map((problem) => `  ${escapeControlCharacters(String(problem))}`);
  return `not ok (${counts}): ${problems.length} problems\n${lines.map((line) => `${line}\n`).join('')}`;
}

export const usageResource: AdminResource = {
  summary: "a tenant's requests: tokens, cost and who paid",
  actions: {},
  direct: {
    summary: "list a tenant's metered requests, oldest first",
    arguments: ['TENANT_ID'],
    flags: { ...rangeAndPageFlags, csv: csvFlag },
    notes: [
      'PAID BY shows each payer as source[:coupon id]=amount. The CSV has every field of each',
      'request, with paid_by as source:id:amount:kind;...',
    ].join('\n'),
    request: (input) => {
      const format = formatOf(input);
      return {
        method: 'GET',
        path: `/admin/v1/tenants/${pathSegment(input.argument('TENANT_ID'))}/usage`,
        query: {
          from: input.text('from'),
          to: input.text('to'),
          limit: input.text('limit'),
          after: input.text('after'),
          format: format === 'csv' ? 'csv' : undefined,
        },
        response: format,
      };
    },
    render: csvOrTable(usageColumns, 'usage'),
  },
};

export const ledgerResource: AdminResource = {
  summary: "a tenant's ledger entries; the check of the whole ledger",
  actions: {
    check: {
      summary: 'recompute every balance from its transfers and check the invariants',
      notes: 'When the check finds problems it prints them one a line and exits 1.',
      request: () => ({ method: 'GET', path: '/admin/v1/ledger/check' }),
      render: renderLedgerCheck,
      answerFailed: (body) => !isRecord(body) || body.ok !== true,
    },
  },
  direct: {
    summary: "list the transfers on a tenant's accounts, newest first",
    notes: 'The gateway sends at most its ledgerEntriesMax limit of entries (default 1000).',
    arguments: ['TENANT_ID'],
    request: (input) => ({
      method: 'GET',
      path: `/admin/v1/tenants/${pathSegment(input.argument('TENANT_ID'))}/ledger`,
    }),
    render: (body) => renderList(body, entryColumns, 'ledger entries'),
  },
};

const auditColumns: Column[] = [
  column('ID', 'id'),
  column('TIME', 'created_at'),
  column('ACTOR', 'actor'),
  column('ACTION', 'action'),
  column('ENTITY', 'entity_type'),
  column('ENTITY ID', 'entity_id'),
  column('TENANT', 'tenant_id'),
];

/** The page as a table, then how to ask for the next one when there is more. */
function renderAuditPage(body: unknown): string {
  const table = renderList(body, auditColumns, 'audit events');
  const next = isRecord(body) ? body.next_cursor : undefined;
  return typeof next === 'string' ? `${table}more: --before ${formatValue(next)}\n` : table;
}

export const auditResource: AdminResource = {
  summary: 'who changed what through the admin and provider APIs, newest first',
  actions: {},
  direct: {
    summary: 'list audit events, newest first, one page at a time',
    flags: {
      limit: {
        kind: 'string',
        placeholder: 'N',
        description: 'events per page (default 20)',
      },
      before: {
        kind: 'string',
        placeholder: 'ID',
        description: 'the page after this event id (printed as "more: --before ID")',
      },
      'entity-id': {
        kind: 'string',
        placeholder: 'ID',
        description: 'only events about this tenant, key, provider, backend, ...',
      },
      tenant: { kind: 'string', placeholder: 'ID', description: 'only events of this tenant' },
      action: {
        kind: 'string',
        placeholder: 'A',
        description: 'only this action, e.g. tenant.create',
      },
    },
    notes: '--json prints the before/after of each change as well.',
    request: (input) => ({
      method: 'GET',
      path: '/admin/v1/audit',
      query: {
        limit: input.integer('limit')?.toString(),
        before: input.text('before'),
        entity_id: input.text('entity-id'),
        tenant_id: input.text('tenant'),
        action: input.text('action'),
      },
    }),
    render: renderAuditPage,
  },
};
