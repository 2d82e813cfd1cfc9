/**
 * `tokenbank admin providers payout|payouts|payout-rate`: money paid out to a provider from what
 * it is owed (idempotent by reference, never more than is owed), the payouts made with what is
 * still owed, and the provider's payout rate from a date on. Amounts are passed on exactly as
 * typed and printed exactly as the server sends them.
 */
import { type ActionInput, type AdminAction, pathSegment } from './admin-action.ts';
import {
  type Column,
  column,
  formatValue,
  isRecord,
  renderList,
  renderRecord,
} from './render-table.ts';

const payoutColumns: Column[] = [
  column('ID', 'id'),
  column('AMOUNT', 'amount'),
  column('REFERENCE', 'reference'),
  column('NOTE', 'note'),
  column('TIME', 'created_at'),
];

function providerPath(input: ActionInput, rest: string): string {
  return `/admin/v1/providers/${pathSegment(input.argument('PROVIDER_ID'))}${rest}`;
}

/** What happened, then the payout. */
function renderPayout(body: unknown): string {
  const record = isRecord(body) ? body : {};
  const unpaid = formatValue(record.unpaid);
  const headline =
    record.duplicate === true
      ? `duplicate: reference ${formatValue(record.reference)} was already paid out; still owed ${unpaid}`
      : `paid out ${formatValue(record.amount)}; still owed ${unpaid}`;
  return `${headline}\n\n${renderRecord(body)}`;
}

/** The payouts, then what the provider earned, was paid and is owed. */
function renderPayouts(body: unknown): string {
  const record = isRecord(body) ? body : {};
  const currency = formatValue(record.currency);
  const totals = ['earned', 'paid', 'unpaid']
    .map((field) => `${field}: ${formatValue(record[field])} ${currency}`)
    .join('\n');
  return `${renderList(body, payoutColumns, 'payouts')}${totals}\n`;
}

export const payoutActions: Readonly<Record<string, AdminAction>> = {
  payout: {
    summary: 'pay a provider out of what it is owed',
    arguments: ['PROVIDER_ID'],
    flags: {
      amount: {
        kind: 'string',
        placeholder: 'X',
        description: 'amount in the deployment currency, e.g. 120.00',
        required: true,
      },
      reference: {
        kind: 'string',
        placeholder: 'R',
        description: 'your reference for it (the bank transfer id), unique per provider',
        required: true,
      },
      note: { kind: 'string', placeholder: 'TEXT', description: 'a note kept with the payout' },
    },
    notes: [
      'The same reference again with the same amount changes nothing (the answer says duplicate);',
      'with another amount it is refused with a 409 conflict, as is a payout above what is owed.',
    ].join('\n'),
    request: (input) => ({
      method: 'POST',
      path: providerPath(input, '/payouts'),
      body: {
        amount: input.requiredText('amount'),
        reference: input.requiredText('reference'),
        note: input.text('note'),
      },
    }),
    render: renderPayout,
  },
  payouts: {
    summary: "list a provider's payouts, newest first, and what it is still owed",
    arguments: ['PROVIDER_ID'],
    request: (input) => ({ method: 'GET', path: providerPath(input, '/payouts') }),
    render: renderPayouts,
  },
  'payout-rate': {
    summary: "set a provider's payout rate from a time on",
    arguments: ['PROVIDER_ID'],
    flags: {
      'payout-bps': {
        kind: 'string',
        placeholder: 'N',
        description: 'share of what its requests collect, in basis points 0-10000',
        required: true,
      },
      'effective-at': {
        kind: 'string',
        placeholder: 'RFC3339',
        description: 'when it takes effect (default: now; never in the past)',
      },
    },
    notes: 'Requests admitted before that time keep the rate they were admitted at.',
    request: (input) => ({
      method: 'PUT',
      path: providerPath(input, '/payout-rate'),
      body: {
        payout_bps: input.requiredInteger('payout-bps'),
        effective_at: input.text('effective-at'),
      },
    }),
    render: renderRecord,
  },
};
