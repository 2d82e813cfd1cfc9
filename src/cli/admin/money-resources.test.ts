import { describe, expect, it } from 'vitest';
import { adminResources } from './admin-resources.ts';
import type { ApiRequest } from './api-client.ts';
import { renderCouponTable, renderTopUp } from './money-resources.ts';
import { parseAdminArguments } from './parse-admin-arguments.ts';
import { renderTenant } from './tenant-resources.ts';

/** The request an argument list builds, or the usage message it fails with. */
function requestOf(argv: string[]): ApiRequest | string {
  const parsed = parseAdminArguments(argv, adminResources);
  if (parsed.kind !== 'run') {
    return parsed.kind === 'usage-error' ? parsed.message : 'help';
  }
  try {
    return parsed.action.request(parsed.input);
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** What an action prints for an answer. */
function renderOf(argv: string[], body: unknown): string {
  const parsed = parseAdminArguments(argv, adminResources);
  return parsed.kind === 'run' ? parsed.action.render(body) : parsed.kind;
}

const coupon = {
  id: 'cpn_1',
  object: 'coupon',
  tenant_id: 'ten_1',
  kind: 'compute',
  program: 'gov',
  amount: '50.00',
  remaining: '49.999999',
  held: '0.000001',
  coverage_bps: 5000,
  models: ['m1', 'm2'],
  regions: null,
  priority: 80,
  starts_at: '2030-01-01T00:00:00.000Z',
  expires_at: null,
  status: 'active',
  reference: 'grant-1',
  created_at: '2030-01-01T00:00:00.000Z',
};

const tenant = {
  id: 'ten_1',
  object: 'tenant',
  name: 'Acme',
  home_region: null,
  allowed_regions: null,
  allow_max_tokens_clamp: false,
  currency: 'CNY',
  created_at: '2030-01-01T00:00:00.000Z',
  balance: '12345678901234.999999',
  holds: '0.50',
  coupons: [coupon],
};

describe('topup', () => {
  it('sends the amount exactly as typed, never through a number', () => {
    expect(
      requestOf(['topup', 'ten/1', '--amount', '12345678901234.999999', '--reference', 'pay 1']),
    ).toEqual({
      method: 'POST',
      path: '/admin/v1/tenants/ten%2F1/topups',
      body: { amount: '12345678901234.999999', reference: 'pay 1' },
    });
  });

  it.each([
    { argv: ['topup', 'ten_1', '--reference', 'r'], message: '--amount is required' },
    { argv: ['topup', 'ten_1', '--amount', '1'], message: '--reference is required' },
  ])('refuses $message', ({ argv, message }) => {
    expect(requestOf(argv)).toBe(message);
  });

  it('leads with the new balance', () => {
    const text = renderTopUp({
      id: 'txn_1',
      object: 'topup',
      tenant_id: 'ten_1',
      amount: '100.00',
      reference: 'pay-1',
      balance: '100.000001',
      duplicate: false,
    });
    expect(text.split('\n')[0]).toBe('topped up 100.00; balance now 100.000001');
    expect(text).toMatch(/^duplicate: +false$/m);
  });

  it('says when the reference was already applied', () => {
    const text = renderTopUp({
      amount: '100.00',
      reference: 'pay-1',
      balance: '7',
      duplicate: true,
    });
    expect(text.split('\n')[0]).toBe(
      'duplicate: reference pay-1 was already applied; balance unchanged at 7',
    );
  });
});

describe('coupons grant', () => {
  it('builds the grant with every flag', () => {
    expect(
      requestOf([
        'coupons',
        'grant',
        'ten_1',
        '--kind',
        'compute',
        '--amount',
        '0.100000',
        '--reference',
        'g-1',
        '--coverage-bps',
        '5000',
        '--models',
        'm1,m2',
        '--regions',
        'cn-east',
        '--priority',
        '80',
        '--starts-at',
        '2030-01-01T00:00:00Z',
        '--expires-at',
        '2030-02-01T00:00:00Z',
        '--program',
        'gov',
      ]),
    ).toEqual({
      method: 'POST',
      path: '/admin/v1/tenants/ten_1/coupons',
      body: {
        kind: 'compute',
        amount: '0.100000',
        reference: 'g-1',
        coverage_bps: 5000,
        models: ['m1', 'm2'],
        regions: ['cn-east'],
        priority: 80,
        starts_at: '2030-01-01T00:00:00Z',
        expires_at: '2030-02-01T00:00:00Z',
        program: 'gov',
      },
    });
  });

  it('sends only what was given', () => {
    const built = requestOf([
      'coupons',
      'grant',
      'ten_1',
      '--kind',
      'storage',
      '--amount',
      '5',
      '--reference',
      'g',
    ]);
    expect(JSON.parse(JSON.stringify(built))).toEqual({
      method: 'POST',
      path: '/admin/v1/tenants/ten_1/coupons',
      body: { kind: 'storage', amount: '5', reference: 'g' },
    });
  });

  it.each([
    {
      name: 'an unknown kind',
      argv: ['--kind', 'gpu'],
      message: '--kind must be one of compute, storage, transport, got "gpu"',
    },
    {
      name: 'a priority that is not whole',
      argv: ['--kind', 'compute', '--priority', 'high'],
      message: '--priority must be a whole number, got "high"',
    },
  ])('refuses $name', ({ argv, message }) => {
    expect(
      requestOf(['coupons', 'grant', 'ten_1', '--amount', '1', '--reference', 'r', ...argv]),
    ).toBe(message);
  });

  it('says when the reference was already granted', () => {
    const text = renderOf(
      ['coupons', 'grant', 'ten_1', '--kind', 'compute', '--amount', '1', '--reference', 'r'],
      {
        ...coupon,
        duplicate: true,
      },
    );
    expect(text.split('\n')[0]).toBe(
      'duplicate: reference grant-1 was already granted as cpn_1; nothing changed',
    );
  });
});

describe('coupons list and void', () => {
  it('reads the coupons of the tenant', () => {
    expect(requestOf(['coupons', 'list', 'ten_1'])).toEqual({
      method: 'GET',
      path: '/admin/v1/tenants/ten_1',
    });
    const [header, row, ...rest] = renderOf(['coupons', 'list', 'ten_1'], tenant)
      .trimEnd()
      .split('\n');
    expect(header).toMatch(
      /^ID\s+KIND\s+PROGRAM\s+AMOUNT\s+REMAINING\s+HELD\s+COVERAGE BPS\s+PRIORITY\s+MODELS\s+REGIONS\s+STARTS\s+EXPIRES\s+STATUS\s+REFERENCE$/,
    );
    expect(row).toMatch(
      /^cpn_1\s+compute\s+gov\s+50\.00\s+49\.999999\s+0\.000001\s+5000\s+80\s+m1,m2\s+-\s+2030-01-01T00:00:00\.000Z\s+-\s+active\s+grant-1$/,
    );
    expect(rest).toEqual([]);
  });

  it('says when there are none', () => {
    expect(renderOf(['coupons', 'list', 'ten_1'], { ...tenant, coupons: [] })).toBe('no coupons\n');
    expect(renderCouponTable(undefined)).toBe('no coupons\n');
  });

  it('voids by coupon id', () => {
    expect(requestOf(['coupons', 'void', 'cpn_1'])).toEqual({
      method: 'DELETE',
      path: '/admin/v1/coupons/cpn_1',
    });
  });
});

describe('tenants get', () => {
  it('shows the balance and holds, then the coupons as a table', () => {
    const text = renderTenant(tenant);
    expect(text).toMatch(/^balance: +12345678901234\.999999$/m);
    expect(text).toMatch(/^holds: +0\.50$/m);
    const [fields, coupons] = text.split('\n\ncoupons:\n');
    expect(fields).not.toContain('cpn_1');
    expect(coupons?.split('\n')[0]).toMatch(/^ID\s+KIND\s+PROGRAM\s+AMOUNT/);
    expect(coupons?.split('\n')[1]).toMatch(/^cpn_1\s+compute\s/);
  });

  it('says a tenant has no coupons', () => {
    expect(renderTenant({ ...tenant, coupons: [] })).toMatch(/\ncoupons:\nno coupons\n$/);
  });
});
