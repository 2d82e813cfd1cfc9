import { describe, expect, it } from 'vitest';
import { adminResources } from './admin-resources.ts';
import type { ApiRequest } from './api-client.ts';
import { parseAdminArguments } from './parse-admin-arguments.ts';
import { renderLedgerCheck } from './report-resources.ts';

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

function renderOf(argv: string[], body: unknown): string {
  return parsedAction(argv).action.render(body);
}

const usageRecord = {
  object: 'usage',
  request_id: 'req_1',
  created_at: '2030-01-01T00:00:00.000Z',
  tenant_id: 'ten_1',
  key_id: 'key_1',
  model: 'acme/llama-3',
  region: 'cn-east',
  backend_id: 'bkd_1',
  provider_id: 'prv_1',
  input_tokens: 1200,
  cached_input_tokens: 0,
  output_tokens: 300,
  reasoning_tokens: null,
  usage_source: 'backend',
  outcome: 'completed',
  cost: '0.001234',
  paid_by: [
    { source: 'coupon', id: 'cpn_1', amount: '0.001000' },
    { source: 'wallet', id: null, amount: '0.000234' },
  ],
  verified_output_tokens: null,
};

describe('usage', () => {
  it('asks for JSON by default and for CSV with --csv', () => {
    expect(requestOf(['usage', 'ten_1', '--from', '2030-01-01T00:00:00Z'])).toEqual({
      method: 'GET',
      path: '/admin/v1/tenants/ten_1/usage',
      query: { from: '2030-01-01T00:00:00Z' },
      response: 'json',
    });
    expect(requestOf(['usage', 'ten_1', '--to', '2030-02-01T00:00:00Z', '--csv'])).toEqual({
      method: 'GET',
      path: '/admin/v1/tenants/ten_1/usage',
      query: { to: '2030-02-01T00:00:00Z', format: 'csv' },
      response: 'csv',
    });
  });

  it('shows each request as a row, with who paid', () => {
    const [header, row, ...rest] = renderOf(['usage', 'ten_1'], {
      object: 'list',
      data: [usageRecord, { ...usageRecord, request_id: 'req_2', paid_by: [], cost: '0.00' }],
    })
      .trimEnd()
      .split('\n');
    expect(header).toMatch(
      /^REQUEST\s+TIME\s+MODEL\s+TOKENS IN\s+TOKENS OUT\s+SOURCE\s+OUTCOME\s+COST\s+PAID BY$/,
    );
    expect(row).toMatch(
      /^req_1\s+2030-01-01T00:00:00\.000Z\s+acme\/llama-3\s+1200\s+300\s+backend\s+completed\s+0\.001234\s+coupon:cpn_1=0\.001000 wallet=0\.000234$/,
    );
    expect(rest).toHaveLength(1);
    expect(rest[0]).toMatch(/^req_2\s.*\s0\.00\s+-$/);
  });

  it('says when there is none', () => {
    expect(renderOf(['usage', 'ten_1'], { object: 'list', data: [] })).toBe('no usage\n');
  });

  it('prints CSV exactly as sent, line endings and quoting included', () => {
    const csv = 'request_id,model\r\nreq_1,"a,b"\r\n';
    expect(renderOf(['usage', 'ten_1', '--csv'], csv)).toBe(csv);
  });
});

describe('ledger', () => {
  it('shows the entries of a tenant', () => {
    const [header, row] = renderOf(['ledger', 'ten_1'], {
      object: 'list',
      data: [
        {
          object: 'ledger_entry',
          transaction_id: 1,
          kind: 'topup',
          request_id: null,
          reference: 'pay-1',
          debit_account: 'cash',
          credit_account: 'wallet:ten_1',
          amount: '100.00',
          flag: 'posted',
          created_at: '2030-01-01T00:00:00.000Z',
        },
      ],
    }).split('\n');
    expect(header).toMatch(
      /^TRANSACTION\s+KIND\s+REQUEST\s+REFERENCE\s+DEBIT\s+CREDIT\s+AMOUNT\s+FLAG\s+TIME$/,
    );
    expect(row).toMatch(
      /^1\s+topup\s+-\s+pay-1\s+cash\s+wallet:ten_1\s+100\.00\s+posted\s+2030-01-01T00:00:00\.000Z$/,
    );
  });

  it('says ok when the check passes', () => {
    const body = { ok: true, problems: [], accounts: 8, transactions: 2 };
    expect(renderLedgerCheck(body)).toBe('ok (8 accounts, 2 transactions)\n');
    expect(parsedAction(['ledger', 'check']).action.answerFailed?.(body)).toBe(false);
  });

  it('lists the problems, escaped, and reports a failure', () => {
    const body = {
      ok: false,
      problems: ['account wallet:ten_1: stored totals differ', 'odd\u001b[2J'],
      accounts: 8,
      transactions: 2,
    };
    expect(renderLedgerCheck(body)).toBe(
      'not ok (8 accounts, 2 transactions): 2 problems\n' +
        '  account wallet:ten_1: stored totals differ\n' +
        '  odd\\u001b[2J\n',
    );
    const check = parsedAction(['ledger', 'check']).action;
    expect(check.answerFailed?.(body)).toBe(true);
    expect(check.answerFailed?.('garbage')).toBe(true);
  });
});
