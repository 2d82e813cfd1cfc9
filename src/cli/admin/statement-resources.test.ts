import { describe, expect, it } from 'vitest';
import { adminResources } from './admin-resources.ts';
import type { ApiRequest } from './api-client.ts';
import { parseAdminArguments } from './parse-admin-arguments.ts';

function parsedAction(argv: string[]) {
  const parsed = parseAdminArguments(argv, adminResources);
  if (parsed.kind !== 'run') {
    throw new Error(`not a command: ${parsed.kind}`);
  }
  return parsed;
}

function requestOf(argv: string[]): ApiRequest {
  const { action, input } = parsedAction(argv);
  return JSON.parse(JSON.stringify(action.request(input))) as ApiRequest;
}

const amounts = {
  coupons: 1,
  opening: '0.00',
  granted: '10.00',
  used: '2.50',
  expired: '0.00',
  voided: '0.00',
  remaining: '7.50',
  requests: 3,
  copaid_value: '4.00',
};

const summary = {
  object: 'program_statement',
  program: 'gov',
  currency: 'CNY',
  from: '2030-01-01T00:00:00.000Z',
  to: '2030-02-01T00:00:00.000Z',
  data: [
    {
      object: 'program_statement_line',
      tenant_id: 'ten_1',
      tenant_name: 'Acme',
      kind: 'compute',
      ...amounts,
    },
  ],
  totals: [{ kind: 'compute', tenants: 1, ...amounts }],
  grand_total: { tenants: 1, ...amounts },
  reconciliation: { ok: true, compared: 'coupons granted = grant transfers', problems: [] },
};

describe('statement', () => {
  it('asks for the summary as JSON for the table and as CSV with --csv', () => {
    expect(
      requestOf(['statement', 'gov/compute', '--tenant', 'ten_1', '--from', '2030-01-01']),
    ).toEqual({
      method: 'GET',
      path: '/admin/v1/programs/gov%2Fcompute/statement',
      query: { from: '2030-01-01', tenant_id: 'ten_1', format: 'json' },
      response: 'json',
    });
    expect(requestOf(['statement', 'gov', '--csv'])).toEqual({
      method: 'GET',
      path: '/admin/v1/programs/gov/statement',
      query: { format: 'csv' },
      response: 'csv',
    });
  });

  it('asks for the charges, a page at a time, with --lines', () => {
    expect(requestOf(['statement', 'gov', '--lines', '--limit', '10', '--csv'])).toEqual({
      method: 'GET',
      path: '/admin/v1/programs/gov/statement',
      query: { detail: 'lines', limit: '10', format: 'csv' },
      response: 'csv',
    });
    const { action, input } = parsedAction(['statement', 'gov', '--after', 'x']);
    expect(() => action.request(input)).toThrow('--limit and --after page the charges');
  });

  it('prints the lines, the totals per kind, the grand total and the reconciliation', () => {
    const { action } = parsedAction(['statement', 'gov']);
    const text = action.render(summary);
    expect(text).toMatch(/^program gov, 2030-01-01T00:00:00.000Z to 2030-02-01\S+, amounts in CNY/);
    expect(text).toMatch(
      /^TENANT\s+NAME\s+KIND\s+COUPONS\s+OPENING\s+GRANTED\s+USED\s+EXPIRED\s+VOIDED\s+REMAINING\s+REQUESTS\s+CO-PAID VALUE$/m,
    );
    expect(text).toMatch(
      /^ten_1\s+Acme\s+compute\s+1\s+0\.00\s+10\.00\s+2\.50\s+0\.00\s+0\.00\s+7\.50\s+3\s+4\.00$/m,
    );
    expect(text).toMatch(/^totals per kind:\nKIND\s+TENANTS/m);
    expect(text).toContain('grand total: tenants 1, granted 10.00, used 2.50');
    expect(text).toContain('reconciled with the ledger: coupons granted = grant transfers');
    expect(action.answerFailed?.(summary)).toBe(false);
  });

  it('prints the problems and fails when the statement does not reconcile', () => {
    const { action } = parsedAction(['statement', 'gov']);
    const broken = {
      ...summary,
      reconciliation: { ok: false, compared: '', problems: ['program gov: off by 0.01'] },
    };
    expect(action.render(broken)).toContain(
      'NOT reconciled with the ledger: 1 problems\n  program gov: off by 0.01\n',
    );
    expect(action.answerFailed?.(broken)).toBe(true);
  });

  it('shows each charge as a row with --lines', () => {
    const [header, row] = parsedAction(['statement', 'gov', '--lines'])
      .action.render({
        object: 'list',
        data: [
          {
            request_id: 'req_1',
            time: '2030-01-01T00:00:00.000Z',
            tenant_id: 'ten_1',
            coupon_id: 'cpn_1',
            model: 'm',
            provider_id: null,
            input_tokens: 10,
            output_tokens: 20,
            amount: '0.000001',
          },
        ],
      })
      .split('\n');
    expect(header).toMatch(
      /^REQUEST\s+TIME\s+TENANT\s+COUPON\s+MODEL\s+PROVIDER\s+TOKENS IN\s+TOKENS OUT\s+AMOUNT$/,
    );
    expect(row).toMatch(/^req_1\s+\S+\s+ten_1\s+cpn_1\s+m\s+-\s+10\s+20\s+0\.000001$/);
  });
});

describe('programs', () => {
  it('lists programs with what they granted per kind', () => {
    const { action, input } = parsedAction(['programs']);
    expect(action.request(input)).toEqual({ method: 'GET', path: '/admin/v1/programs' });
    const [header, row] = action
      .render({
        object: 'list',
        data: [
          {
            program: 'gov',
            coupons: 2,
            tenants: 1,
            granted: '15.00',
            kinds: { compute: { coupons: 1, tenants: 1, granted: '10.00' } },
          },
        ],
      })
      .split('\n');
    expect(header).toMatch(/^PROGRAM\s+COUPONS\s+TENANTS\s+GRANTED\s+COMPUTE GRANTED/);
    expect(row).toMatch(/^gov\s+2\s+1\s+15\.00\s+10\.00\s+-\s+-$/);
  });
});

describe('providers payout, payouts and payout-rate', () => {
  it('sends a payout with its reference and says what is still owed', () => {
    expect(
      requestOf([
        'providers',
        'payout',
        'prv_1',
        '--amount',
        '12.50',
        '--reference',
        'wire-1',
        '--note',
        'March',
      ]),
    ).toEqual({
      method: 'POST',
      path: '/admin/v1/providers/prv_1/payouts',
      body: { amount: '12.50', reference: 'wire-1', note: 'March' },
    });
    const { action } = parsedAction([
      'providers',
      'payout',
      'prv_1',
      '--amount',
      '1',
      '--reference',
      'x',
    ]);
    expect(action.render({ amount: '12.50', unpaid: '3.00', duplicate: false })).toMatch(
      /^paid out 12\.50; still owed 3\.00\n/,
    );
    expect(action.render({ reference: 'wire-1', unpaid: '3.00', duplicate: true })).toMatch(
      /^duplicate: reference wire-1 was already paid out; still owed 3\.00\n/,
    );
  });

  it('lists payouts, then what was earned, paid and is owed', () => {
    const { action } = parsedAction(['providers', 'payouts', 'prv_1']);
    const text = action.render({
      object: 'list',
      data: [{ id: 'txn_9', amount: '12.50', reference: 'wire-1', note: null, created_at: 't' }],
      earned: '15.50',
      paid: '12.50',
      unpaid: '3.00',
      currency: 'CNY',
    });
    expect(text).toMatch(/^txn_9\s+12\.50\s+wire-1\s+-\s+t$/m);
    expect(text).toContain('earned: 15.50 CNY\npaid: 12.50 CNY\nunpaid: 3.00 CNY\n');
  });

  it('sets a payout rate from a time on', () => {
    expect(
      requestOf([
        'providers',
        'payout-rate',
        'prv_1',
        '--payout-bps',
        '6500',
        '--effective-at',
        '2030-01-01T00:00:00Z',
      ]),
    ).toEqual({
      method: 'PUT',
      path: '/admin/v1/providers/prv_1/payout-rate',
      body: { payout_bps: 6500, effective_at: '2030-01-01T00:00:00Z' },
    });
  });
});

describe('tenant, key and wallet changes', () => {
  it('changes only the settings given; none lifts one', () => {
    expect(
      requestOf([
        'tenants',
        'update',
        'ten_1',
        '--allowed-regions',
        'cn-east,cn-west',
        '--home-region',
        'none',
        '--clamp',
        'on',
        '--key-management',
        'off',
      ]),
    ).toEqual({
      method: 'PATCH',
      path: '/admin/v1/tenants/ten_1',
      body: {
        home_region: null,
        allowed_regions: ['cn-east', 'cn-west'],
        allow_max_tokens_clamp: true,
        allow_key_management: false,
      },
    });
    expect(requestOf(['keys', 'update', 'key_1', '--rpm', '60', '--tpm', 'none'])).toEqual({
      method: 'PATCH',
      path: '/admin/v1/keys/key_1',
      body: { rpm: 60, tpm: null },
    });
    const { action, input } = parsedAction(['tenants', 'update', 'ten_1', '--clamp', 'yes']);
    expect(() => action.request(input)).toThrow('--clamp must be on or off');
  });

  it('credits or debits a wallet with a reason and lists the adjustments', () => {
    expect(
      requestOf([
        'adjust',
        'ten_1',
        '--amount=-5.00',
        '--reason',
        'charged twice',
        '--reference',
        'ticket-7',
      ]),
    ).toEqual({
      method: 'POST',
      path: '/admin/v1/tenants/ten_1/adjustments',
      body: { amount: '-5.00', reason: 'charged twice', reference: 'ticket-7' },
    });
    expect(requestOf(['adjust', 'list', 'ten_1'])).toEqual({
      method: 'GET',
      path: '/admin/v1/tenants/ten_1/adjustments',
    });
    const { action } = parsedAction([
      'adjust',
      'ten_1',
      '--amount',
      '1',
      '--reason',
      'r',
      '--reference',
      'x',
    ]);
    expect(action.render({ amount: '-5.00', balance: '95.00', duplicate: false })).toMatch(
      /^adjusted by -5\.00; balance now 95\.00\n/,
    );
  });
});
