import { describe, expect, it } from 'vitest';
import { adminResources } from './admin-resources.ts';
import type { ApiRequest } from './api-client.ts';
import { parseAdminArguments } from './parse-admin-arguments.ts';

function parse(argv: string[]) {
  return parseAdminArguments(argv, adminResources);
}

/** The request an argument list builds, or the usage message it fails with. */
function requestOf(argv: string[]): ApiRequest | string {
  const parsed = parse(argv);
  if (parsed.kind !== 'run') {
    return parsed.kind === 'usage-error' ? parsed.message : 'help';
  }
  try {
    return parsed.action.request(parsed.input);
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

describe('parseAdminArguments: finding the command', () => {
  it.each([
    { name: 'nothing', argv: [], message: 'missing resource' },
    { name: 'an unknown resource', argv: ['coupon', 'list'], message: 'unknown resource "coupon"' },
    {
      name: 'a name inherited from Object',
      argv: ['constructor', 'list'],
      message: 'unknown resource "constructor"',
    },
    { name: 'a resource alone', argv: ['tenants'], message: 'missing action for tenants' },
    {
      name: 'an unknown action',
      argv: ['tenants', 'delete', 'x'],
      message: 'unknown action "delete" for tenants',
    },
    {
      name: 'an unknown flag',
      argv: ['tenants', 'list', '--bogus'],
      message: "Unknown option '--bogus'",
    },
    {
      name: 'a flag of another action',
      argv: ['tenants', 'list', '--name', 'x'],
      message: "Unknown option '--name'",
    },
    { name: 'a missing argument', argv: ['keys', 'create'], message: 'missing TENANT_ID' },
    {
      name: 'an extra argument',
      argv: ['keys', 'revoke', 'key_1', 'key_2'],
      message: 'unexpected argument "key_2"',
    },
    {
      name: 'a string flag without its value',
      argv: ['tenants', 'create', '--name'],
      message: "Option '--name <value>' argument missing",
    },
  ])('refuses $name', ({ argv, message }) => {
    const parsed = parse(argv);
    expect(parsed.kind === 'usage-error' ? parsed.message : parsed.kind).toBe(message);
  });

  it.each([
    {
      name: 'all resources',
      argv: ['--help'],
      first: 'Usage: tokenbank admin <resource> <action>',
    },
    { name: 'one resource', argv: ['keys', '-h'], first: 'Usage: tokenbank admin keys <action>' },
    {
      name: 'one action',
      argv: ['keys', 'create', '--help'],
      first:
        'Usage: tokenbank admin keys create TENANT_ID [--name NAME] [--models a,b] [--rpm N] [--tpm N]',
    },
    {
      name: 'an action, whatever else is wrong',
      argv: ['keys', 'create', '--bogus', '--help'],
      first: 'Usage: tokenbank admin keys create',
    },
  ])('shows the help of $name', ({ argv, first }) => {
    const parsed = parse(argv);
    expect(parsed.kind === 'help' ? parsed.text.split('\n')[0] : parsed.kind).toContain(first);
  });

  it('shows required flags without brackets in the synopsis', () => {
    const parsed = parse(['providers', 'create', '--help']);
    expect(parsed.kind === 'help' ? parsed.text.split('\n')[0] : parsed.kind).toBe(
      'Usage: tokenbank admin providers create --name NAME --payout-bps N',
    );
  });

  it('lists every resource with its actions in the top help', () => {
    const parsed = parse(['--help']);
    const text = parsed.kind === 'help' ? parsed.text : '';
    expect(text).toMatch(/tenants\s+.*\(list, create, get, update\)/);
    expect(text).toMatch(/prices\s+.*\(list, set\)/);
    expect(text).toContain('TOKENBANK_ADMIN_TOKEN');
  });

  it('lists a resource that runs an action directly by its arguments', () => {
    const parsed = parse(['--help']);
    const text = parsed.kind === 'help' ? parsed.text : '';
    expect(text).toMatch(/topup\s+.*\(TENANT_ID\)/);
    expect(text).toMatch(/ledger\s+.*\(TENANT_ID, check\)/);
  });

  it.each([
    {
      name: 'a direct-only resource',
      argv: ['topup', '--help'],
      lines: ['Usage: tokenbank admin topup TENANT_ID --amount X --reference R'],
    },
    {
      name: 'a direct action given its argument',
      argv: ['ledger', 'ten_1', '-h'],
      lines: ['Usage: tokenbank admin ledger TENANT_ID'],
    },
    {
      name: 'a resource with both',
      argv: ['ledger', '--help'],
      lines: [
        'Usage: tokenbank admin ledger <action> [arguments] [flags]',
        '       tokenbank admin ledger TENANT_ID',
      ],
    },
    {
      name: 'a named action of a resource with a direct one',
      argv: ['ledger', 'check', '--help'],
      lines: ['Usage: tokenbank admin ledger check'],
    },
  ])('shows the help of $name', ({ argv, lines }) => {
    const parsed = parse(argv);
    const text = parsed.kind === 'help' ? parsed.text : parsed.kind;
    expect(text.split('\n').slice(0, lines.length)).toEqual(lines);
  });

  it.each([
    {
      name: 'a direct action without its argument',
      argv: ['topup', '--amount', '1', '--reference', 'r'],
      message: 'missing TENANT_ID',
    },
    {
      name: 'a resource with both, alone',
      argv: ['ledger'],
      message: 'missing TENANT_ID or action for ledger',
    },
    {
      name: 'an extra argument to a direct action',
      argv: ['ledger', 'ten_1', 'ten_2'],
      message: 'unexpected argument "ten_2"',
    },
    {
      name: 'an argument to a named action beside a direct one',
      argv: ['ledger', 'check', 'ten_1'],
      message: 'unexpected argument "ten_1"',
    },
  ])('refuses $name', ({ argv, message }) => {
    const parsed = parse(argv);
    expect(parsed.kind === 'usage-error' ? parsed.message : parsed.kind).toBe(message);
  });

  it('names the direct command in the pointer to its help', () => {
    const parsed = parse(['topup', 'ten_1', '--amount', '1', '--reference', 'r']);
    expect(parsed.kind === 'run' ? parsed.helpCommand : parsed.kind).toBe(
      'tokenbank admin topup --help',
    );
  });

  it('takes global flags before, between and after the names', () => {
    const parsed = parse([
      '--json',
      'tenants',
      '--url',
      'http://gateway.test',
      'get',
      'ten_1',
      '--token',
      'tba-x',
    ]);
    expect(parsed.kind === 'run' ? parsed.global : parsed).toEqual({
      url: 'http://gateway.test',
      token: 'tba-x',
      json: true,
    });
  });
});

describe('parseAdminArguments: the requests built', () => {
  it.each([
    {
      name: 'tenants list with a page',
      argv: ['tenants', 'list', '--limit', '5', '--after', 'ten_9'],
      request: { method: 'GET', path: '/admin/v1/tenants', query: { limit: '5', after: 'ten_9' } },
    },
    {
      name: 'tenants create with everything',
      argv: [
        'tenants',
        'create',
        '--name',
        'Acme',
        '--home-region',
        'cn-east',
        '--allowed-regions',
        'cn-east, cn-north',
        '--allow-max-tokens-clamp',
      ],
      request: {
        method: 'POST',
        path: '/admin/v1/tenants',
        body: {
          name: 'Acme',
          home_region: 'cn-east',
          allowed_regions: ['cn-east', 'cn-north'],
          allow_max_tokens_clamp: true,
        },
      },
    },
    {
      name: 'tenants get with an id that needs escaping',
      argv: ['tenants', 'get', 'a/b?c'],
      request: { method: 'GET', path: '/admin/v1/tenants/a%2Fb%3Fc' },
    },
    {
      name: 'keys create',
      argv: ['keys', 'create', 'ten_1', '--models', 'a,b', '--rpm', '60', '--tpm', '100000'],
      request: {
        method: 'POST',
        path: '/admin/v1/tenants/ten_1/keys',
        body: { models: ['a', 'b'], rpm: 60, tpm: 100_000 },
      },
    },
    {
      name: 'keys list',
      argv: ['keys', 'list', 'ten_1'],
      request: { method: 'GET', path: '/admin/v1/tenants/ten_1/keys' },
    },
    {
      name: 'keys revoke',
      argv: ['keys', 'revoke', 'key_1'],
      request: { method: 'DELETE', path: '/admin/v1/keys/key_1' },
    },
    {
      name: 'providers create',
      argv: ['providers', 'create', '--name', 'GPUs', '--payout-bps', '7000'],
      request: {
        method: 'POST',
        path: '/admin/v1/providers',
        body: { name: 'GPUs', payout_bps: 7000 },
      },
    },
    {
      name: 'backends list',
      argv: ['backends', 'list'],
      request: { method: 'GET', path: '/admin/v1/backends' },
    },
    {
      name: 'a direct action with its flags before its argument',
      argv: ['topup', '--amount', '1', '--reference', 'r', 'ten_1'],
      request: {
        method: 'POST',
        path: '/admin/v1/tenants/ten_1/topups',
        body: { amount: '1', reference: 'r' },
      },
    },
    {
      name: 'ledger TENANT_ID',
      argv: ['ledger', 'ten_1'],
      request: { method: 'GET', path: '/admin/v1/tenants/ten_1/ledger' },
    },
    {
      name: 'ledger check',
      argv: ['ledger', 'check'],
      request: { method: 'GET', path: '/admin/v1/ledger/check' },
    },
  ])('builds $name', ({ argv, request }) => {
    const built = requestOf(argv);
    // JSON drops the fields left undefined, as the wire does.
    expect(JSON.parse(JSON.stringify(built))).toEqual(request);
  });

  it('passes money on exactly as typed, never through a number', () => {
    const built = requestOf([
      'prices',
      'set',
      'meta/llama-3',
      '--input',
      '0.100000',
      '--output',
      '12345678901234.999999',
      '--cached-input',
      '0.05',
      '--region',
      'cn-east',
      '--effective-at',
      '2030-01-01T00:00:00Z',
      '--offpeak-start',
      '22:00',
      '--offpeak-end',
      '06:00',
      '--offpeak-timezone',
      'Asia/Shanghai',
      '--offpeak-multiplier-bps',
      '5000',
    ]);
    expect(built).toEqual({
      method: 'PUT',
      path: '/admin/v1/prices/meta%2Fllama-3',
      body: {
        input: '0.100000',
        output: '12345678901234.999999',
        cached_input: '0.05',
        region: 'cn-east',
        effective_at: '2030-01-01T00:00:00Z',
        offpeak: { start: '22:00', end: '06:00', timezone: 'Asia/Shanghai', multiplier_bps: 5000 },
      },
    });
  });

  it.each([
    { name: 'a missing required flag', argv: ['tenants', 'create'], message: '--name is required' },
    {
      name: 'a missing payout',
      argv: ['providers', 'create', '--name', 'x'],
      message: '--payout-bps is required',
    },
    {
      name: 'a missing output price',
      argv: ['prices', 'set', 'm', '--input', '1'],
      message: '--output is required',
    },
    {
      name: 'a number that is not whole',
      argv: ['keys', 'create', 'ten_1', '--rpm', '1.5'],
      message: '--rpm must be a whole number, got "1.5"',
    },
    {
      name: 'a negative number',
      argv: ['tenants', 'list', '--limit', '-1'],
      message: "Option '--limit' argument is ambiguous",
    },
    {
      name: 'an empty list item',
      argv: ['keys', 'create', 'ten_1', '--models', 'a,,b'],
      message: '--models must be items separated by commas, got "a,,b"',
    },
    {
      name: 'half an off-peak window',
      argv: ['prices', 'set', 'm', '--input', '1', '--output', '2', '--offpeak-start', '22:00'],
      message:
        'an off-peak window needs all of --offpeak-start, --offpeak-end, --offpeak-timezone, --offpeak-multiplier-bps',
    },
  ])('refuses $name', ({ argv, message }) => {
    expect(requestOf(argv)).toBe(message);
  });
});
