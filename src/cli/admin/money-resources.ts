/**
 * `tokenbank admin topup`, `adjust` and `coupons`: money put into a tenant's wallet, credited to
 * or debited from it by hand with a reason, and the coupons granted to it. Amounts are passed on
 * exactly as typed (decimal strings) and printed exactly as the server sends them; no amount
 * passes through a JavaScript number. Every write is idempotent by its reference, so an answer
 * says when it was a duplicate that changed nothing.
 */
import { UsageError } from '../gateway-flags.ts';
import { type ActionInput, type AdminResource, pathSegment } from './admin-action.ts';
import {
  type Column,
  column,
  formatValue,
  isRecord,
  renderList,
  renderRecord,
} from './render-table.ts';

const couponKinds = ['compute', 'storage', 'transport'] as const;

const couponColumns: Column[] = [
  column('ID', 'id'),
  column('KIND', 'kind'),
  column('PROGRAM', 'program'),
  column('AMOUNT', 'amount'),
  column('REMAINING', 'remaining'),
  column('HELD', 'held'),
  column('COVERAGE BPS', 'coverage_bps'),
  column('PRIORITY', 'priority'),
  column('MODELS', 'models'),
  column('REGIONS', 'regions'),
  column('STARTS', 'starts_at'),
  column('EXPIRES', 'expires_at'),
  column('STATUS', 'status'),
  column('REFERENCE', 'reference'),
];

/** The notes of both writes: what is sent and what a repeated reference does. */
const writeNotes = [
  'The amount is a decimal string, sent exactly as typed. The reference makes this idempotent:',
  'the same reference again with the same terms changes nothing (the answer says duplicate),',
  'the same reference with other terms is refused with a 409 conflict.',
].join('\n');

/** Coupons (the `coupons` field of a tenant) as a table, or one line saying there are none. */
export function renderCouponTable(coupons: unknown): string {
  return renderList({ data: coupons }, couponColumns, 'coupons');
}

/** A headline saying what happened to the balance, then the whole answer. */
export function renderTopUp(body: unknown): string {
  const record = isRecord(body) ? body : {};
  const balance = formatValue(record.balance);
  const headline =
    record.duplicate === true
      ? `duplicate: reference ${formatValue(record.reference)} was already applied; balance unchanged at ${balance}`
      : `topped up ${formatValue(record.amount)}; balance now ${balance}`;
  return `${headline}\n\n${renderRecord(body)}`;
}

function renderGrant(body: unknown): string {
  const record = isRecord(body) ? body : {};
  const reference = formatValue(record.reference);
  return record.duplicate === true
    ? `duplicate: reference ${reference} was already granted as ${formatValue(record.id)}; nothing changed\n\n${renderRecord(body)}`
    : renderRecord(body);
}

function couponKindOf(input: ActionInput): string {
  const kind = input.requiredText('kind');
  if (!couponKinds.some((known) => known === kind)) {
    throw new UsageError(`--kind must be one of ${couponKinds.join(', ')}, got "${kind}"`);
  }
  return kind;
}

function tenantPath(input: ActionInput, rest = ''): string {
  return `/admin/v1/tenants/${pathSegment(input.argument('TENANT_ID'))}${rest}`;
}

export const topUpResource: AdminResource = {
  summary: "add money to a tenant's wallet",
  actions: {},
  direct: {
    summary: "add money to a tenant's wallet and show the new balance",
    arguments: ['TENANT_ID'],
    flags: {
      amount: {
        kind: 'string',
        placeholder: 'X',
        description: 'amount in the deployment currency, e.g. 100.00',
        required: true,
      },
      reference: {
        kind: 'string',
        placeholder: 'R',
        description: 'your reference for it (a payment id), unique per tenant',
        required: true,
      },
    },
    notes: writeNotes,
    request: (input) => ({
      method: 'POST',
      path: tenantPath(input, '/topups'),
      body: { amount: input.requiredText('amount'), reference: input.requiredText('reference') },
    }),
    render: renderTopUp,
  },
};

const adjustmentColumns: Column[] = [
  column('ID', 'id'),
  column('AMOUNT', 'amount'),
  column('REASON', 'reason'),
  column('REFERENCE', 'reference'),
  column('TIME', 'created_at'),
];

function renderAdjustment(body: unknown): string {
  const record = isRecord(body) ? body : {};
  const balance = formatValue(record.balance);
  const headline =
    record.duplicate === true
      ? `duplicate: reference ${formatValue(record.reference)} was already applied; balance unchanged at ${balance}`
      : `adjusted by ${formatValue(record.amount)}; balance now ${balance}`;
  return `${headline}\n\n${renderRecord(body)}`;
}

export const adjustResource: AdminResource = {
  summary: "credit or debit a tenant's wallet by hand, with a reason",
  actions: {
    list: {
      summary: "list a tenant's adjustments, newest first",
      arguments: ['TENANT_ID'],
      request: (input) => ({ method: 'GET', path: tenantPath(input, '/adjustments') }),
      render: (body) => renderList(body, adjustmentColumns, 'adjustments'),
    },
  },
  direct: {
    summary: "credit (a refund) or debit (a charge) a tenant's wallet against revenue",
    arguments: ['TENANT_ID'],
    flags: {
      amount: {
        kind: 'string',
        placeholder: 'X',
        description: 'a credit, e.g. 5.00, or a debit with a minus sign: --amount=-5.00',
        required: true,
      },
      reason: {
        kind: 'string',
        placeholder: 'TEXT',
        description: 'why, kept in the ledger and the audit log',
        required: true,
      },
      reference: {
        kind: 'string',
        placeholder: 'R',
        description: 'your reference for it (a ticket id), unique per tenant',
        required: true,
      },
    },
    notes: [
      writeNotes,
      'A debit never takes the wallet below zero (holds included): it is refused with a 409.',
    ].join('\n'),
    request: (input) => ({
      method: 'POST',
      path: tenantPath(input, '/adjustments'),
      body: {
        amount: input.requiredText('amount'),
        reason: input.requiredText('reason'),
        reference: input.requiredText('reference'),
      },
    }),
    render: renderAdjustment,
  },
};

export const couponResource: AdminResource = {
  summary: 'credit granted to a tenant, paid for by a program',
  actions: {
    grant: {
      summary: 'grant a coupon to a tenant',
      arguments: ['TENANT_ID'],
      flags: {
        kind: {
          kind: 'string',
          placeholder: 'compute|storage|transport',
          description: 'what it pays for',
          required: true,
        },
        amount: {
          kind: 'string',
          placeholder: 'X',
          description: 'its value in the deployment currency, e.g. 50.00',
          required: true,
        },
        reference: {
          kind: 'string',
          placeholder: 'R',
          description: 'your reference for it, unique per tenant',
          required: true,
        },
        'coverage-bps': {
          kind: 'string',
          placeholder: 'N',
          description: 'share of each charge it pays, in basis points 1-10000 (default 10000)',
        },
        models: { kind: 'string', placeholder: 'a,b', description: 'only these models' },
        regions: { kind: 'string', placeholder: 'a,b', description: 'only these regions' },
        priority: {
          kind: 'string',
          placeholder: 'N',
          description: '0-100; lower pays first (default 50)',
        },
        'starts-at': {
          kind: 'string',
          placeholder: 'RFC3339',
          description: 'when it starts paying (default: now)',
        },
        'expires-at': {
          kind: 'string',
          placeholder: 'RFC3339',
          description: 'when it expires (default: never)',
        },
        program: {
          kind: 'string',
          placeholder: 'P',
          description: 'the subsidy program that funds it (default: platform)',
        },
      },
      notes: writeNotes,
      request: (input) => ({
        method: 'POST',
        path: tenantPath(input, '/coupons'),
        body: {
          kind: couponKindOf(input),
          amount: input.requiredText('amount'),
          reference: input.requiredText('reference'),
          coverage_bps: input.integer('coverage-bps'),
          models: input.list('models'),
          regions: input.list('regions'),
          priority: input.integer('priority'),
          starts_at: input.text('starts-at'),
          expires_at: input.text('expires-at'),
          program: input.text('program'),
        },
      }),
      render: renderGrant,
    },
    list: {
      summary: "list a tenant's coupons with what remains of each",
      arguments: ['TENANT_ID'],
      request: (input) => ({ method: 'GET', path: tenantPath(input) }),
      render: (body) => renderCouponTable(isRecord(body) ? body.coupons : undefined),
    },
    void: {
      summary: 'void a coupon; what remains of it can no longer be spent',
      arguments: ['COUPON_ID'],
      request: (input) => ({
        method: 'DELETE',
        path: `/admin/v1/coupons/${pathSegment(input.argument('COUPON_ID'))}`,
      }),
      render: renderRecord,
    },
  },
};
