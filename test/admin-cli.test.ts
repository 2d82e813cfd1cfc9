/**
 * `tokenbank admin` as an operator runs it: a real gateway listening on an ephemeral port in this
 * process, and the CLI as a child process (`bin/tokenbank.mjs`) through one flow, from creating
 * a tenant to listing the backend pool, the money of a tenant (top-ups, coupons, usage, ledger),
 * plus the failures: a bad flag, a 404, a wrong token and a gateway that is not there.
 * Independent runs go in parallel to keep the suite quick.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config.ts';
import { type RunningGateway, startGateway } from '../src/runtime/node/start-gateway.ts';
import { freePort } from './support/free-port.ts';

const adminToken = `tba-${'x'.repeat(30)}`;
const projectRoot = resolve(import.meta.dirname, '..');

type CliRun = { exitCode: number; stdout: string; stderr: string };

let gateway: RunningGateway;
let databaseDirectory: string;

function runCli(args: string[], environment: Record<string, string> = {}): Promise<CliRun> {
  return new Promise((resolveRun) => {
    execFile(
      process.execPath,
      ['bin/tokenbank.mjs', 'admin', ...args],
      {
        cwd: projectRoot,
        timeout: 30_000,
        env: {
          ...process.env,
          TOKENBANK_URL: gateway.url,
          TOKENBANK_ADMIN_TOKEN: adminToken,
          ...environment,
        },
      },
      (error, stdout, stderr) => {
        const exitCode = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        resolveRun({ exitCode, stdout, stderr });
      },
    );
  });
}

async function adminPost(path: string, body: unknown, token = adminToken): Promise<unknown> {
  const response = await fetch(`${gateway.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(201);
  return response.json();
}

function jsonOf(run: CliRun): Record<string, unknown> {
  expect(run).toMatchObject({ exitCode: 0, stderr: '' });
  return JSON.parse(run.stdout) as Record<string, unknown>;
}

beforeAll(async () => {
  databaseDirectory = mkdtempSync(join(tmpdir(), 'tokenbank-admin-cli-'));
  const parsed = parseConfig(
    {},
    {
      port: 0,
      database: join(databaseDirectory, 'gateway.db'),
      adminToken,
      allowPrivateBackends: true,
      autoApproveBackends: true,
      logLevel: 'error',
    },
  );
  if (!parsed.ok) {
    throw new Error(parsed.message);
  }
  gateway = await startGateway(parsed.config);
});

afterAll(async () => {
  await gateway.close();
  rmSync(databaseDirectory, { recursive: true, force: true });
});

describe('tokenbank admin against a running gateway', () => {
  let tenantId = '';
  let keyId = '';

  it('creates a tenant and prints it with --json', async () => {
    const tenant = jsonOf(
      await runCli([
        'tenants',
        'create',
        '--name',
        'Acme Corp',
        '--home-region',
        'cn-east',
        '--allowed-regions',
        'cn-east,cn-north',
        '--json',
      ]),
    );
    expect(tenant).toMatchObject({
      name: 'Acme Corp',
      home_region: 'cn-east',
      allowed_regions: ['cn-east', 'cn-north'],
      allow_max_tokens_clamp: false,
      currency: 'CNY',
    });
    expect(tenant.id).toMatch(/^ten_/);
    tenantId = String(tenant.id);
  });

  it('issues a key, shows it once, lists it by its prefix only and revokes it', async () => {
    const created = await runCli([
      'keys',
      'create',
      tenantId,
      '--name',
      'ci',
      '--models',
      'm1,m2',
      '--rpm',
      '60',
    ]);
    expect(created).toMatchObject({ exitCode: 0, stderr: '' });
    const lines = created.stdout.split('\n');
    expect(lines[0]).toBe('API key (shown only once: store it now, it cannot be shown again):');
    const secret = /^ {4}(tbk-\S+)$/.exec(lines[2] ?? '')?.[1] ?? '';
    expect(secret).toMatch(/^tbk-[a-z0-9]{20,}$/);
    expect(created.stdout).toMatch(new RegExp(`^tenant_id: +${tenantId}$`, 'm'));
    expect(created.stdout).toMatch(/^models: +m1,m2$/m);
    expect(created.stdout).toMatch(/^rpm: +60$/m);
    keyId = /^id: +(key_\S+)$/m.exec(created.stdout)?.[1] ?? '';
    expect(keyId).not.toBe('');

    const listed = await runCli(['keys', 'list', tenantId]);
    expect(listed.exitCode).toBe(0);
    const [header, row, ...rest] = listed.stdout.trimEnd().split('\n');
    expect(header).toMatch(
      /^ID\s+NAME\s+PREFIX\s+MODELS\s+RPM\s+TPM\s+STATUS\s+CREATED\s+REVOKED$/,
    );
    expect(row).toMatch(
      new RegExp(`^${keyId}\\s+ci\\s+${secret.slice(0, 10)}\\s+m1,m2\\s+60\\s+-\\s+active\\s`),
    );
    expect(rest).toEqual([]);
    expect(listed.stdout).not.toContain(secret);

    const revoked = await runCli(['keys', 'revoke', keyId]);
    expect(revoked.exitCode).toBe(0);
    expect(revoked.stdout).toMatch(/^status: +revoked$/m);
    expect(revoked.stdout).toMatch(/^revoked_at: +\d{4}-\d{2}-\d{2}T/m);
  });

  it('registers a provider and shows its token once', async () => {
    const created = await runCli([
      'providers',
      'create',
      '--name',
      'GPU Farm',
      '--payout-bps',
      '7000',
    ]);
    expect(created).toMatchObject({ exitCode: 0, stderr: '' });
    expect(created.stdout).toMatch(/^provider token \(shown only once/);
    expect(created.stdout).toMatch(/^ {4}tbp-[a-z0-9]{20,}$/m);
    expect(created.stdout).toMatch(/^payout_bps: +7000$/m);
  });

  it('publishes a price with money exactly as typed and lists it as JSON and as a table', async () => {
    const price = jsonOf(
      await runCli([
        'prices',
        'set',
        'acme/llama-3',
        '--input',
        '0.100000',
        '--output',
        '9007199254.740991',
        '--offpeak-start',
        '22:00',
        '--offpeak-end',
        '06:00',
        '--offpeak-timezone',
        'Asia/Shanghai',
        '--offpeak-multiplier-bps',
        '5000',
        '--json',
      ]),
    );
    expect(price).toMatchObject({
      model: 'acme/llama-3',
      version: 1,
      input: '0.10',
      cached_input: '0.10',
      output: '9007199254.740991',
      offpeak: { start: '22:00', end: '06:00', timezone: 'Asia/Shanghai', multiplier_bps: 5000 },
    });

    const [asJson, asTable] = await Promise.all([
      runCli(['prices', 'list', '--json']),
      runCli(['prices', 'list']),
    ]);
    expect(jsonOf(asJson)).toEqual({ object: 'list', data: [price] });
    expect(asTable.exitCode).toBe(0);
    const [header, row] = asTable.stdout.split('\n');
    expect(header).toMatch(
      /^MODEL\s+REGION\s+VERSION\s+INPUT\s+CACHED INPUT\s+OUTPUT\s+CURRENCY\s+EFFECTIVE AT\s+OFFPEAK$/,
    );
    expect(row).toMatch(
      /^acme\/llama-3\s+-\s+1\s+0\.10\s+0\.10\s+9007199254\.740991\s+CNY\s+\S+\s+start=22:00 end=06:00 timezone=Asia\/Shanghai multiplier_bps=5000$/,
    );
  });

  it('lists the backend pool and pages through tenants', async () => {
    const provider = await adminPost('/admin/v1/providers', { name: 'Pool', payout_bps: 6000 });
    const providerToken = String((provider as Record<string, unknown>).token);
    await adminPost(
      '/provider/v1/backends',
      { url: 'http://127.0.0.1:9/v1', region: 'cn-north', models: ['acme/llama-3'], slots: 4 },
      providerToken,
    );
    await adminPost('/admin/v1/tenants', { name: 'Beta' });

    const [backends, page] = await Promise.all([
      runCli(['backends', 'list']),
      runCli(['tenants', 'list', '--limit', '1']),
    ]);
    expect(backends.exitCode).toBe(0);
    const [header, row] = backends.stdout.split('\n');
    expect(header).toMatch(
      /^ID\s+PROVIDER\s+REGION\s+STATE\s+IN FLIGHT\s+SLOTS\s+LATENCY MS\s+MODELS\s+URL$/,
    );
    expect(row).toMatch(
      /^bkd_\S+\s+prv_\S+\s+cn-north\s+\S+\s+0\s+4\s+\S+\s+acme\/llama-3\s+http:\/\/127\.0\.0\.1:9\/v1$/,
    );

    expect(page.exitCode).toBe(0);
    const pageLines = page.stdout.trimEnd().split('\n');
    expect(pageLines).toHaveLength(3);
    expect(pageLines[2]).toMatch(/^more: tokenbank admin tenants list --after ten_\S+$/);
  });
});

describe('tokenbank admin: the money of a tenant', () => {
  let tenantId = '';
  let couponId = '';

  beforeAll(async () => {
    const tenant = await adminPost('/admin/v1/tenants', { name: 'Money Corp' });
    tenantId = String((tenant as Record<string, unknown>).id);
  });

  it('tops up once per reference and refuses the reference for another amount', async () => {
    const topUp = ['topup', tenantId, '--amount', '100.000001', '--reference', 'pay-1'];
    const first = await runCli(topUp);
    expect(first).toMatchObject({ exitCode: 0, stderr: '' });
    expect(first.stdout.split('\n')[0]).toBe('topped up 100.000001; balance now 100.000001');
    expect(first.stdout).toMatch(/^duplicate: +false$/m);

    const [replayed, conflicting] = await Promise.all([
      runCli(topUp),
      runCli(['topup', tenantId, '--amount', '5', '--reference', 'pay-1']),
    ]);
    expect(replayed).toMatchObject({ exitCode: 0, stderr: '' });
    expect(replayed.stdout.split('\n')[0]).toBe(
      'duplicate: reference pay-1 was already applied; balance unchanged at 100.000001',
    );
    expect(replayed.stdout).toMatch(/^duplicate: +true$/m);
    expect(conflicting).toMatchObject({ exitCode: 1, stdout: '' });
    expect(conflicting.stderr).toMatch(/^error 409 conflict: .*pay-1/);
  });

  it('grants a coupon, lists it and voids it', async () => {
    const granted = await runCli([
      'coupons',
      'grant',
      tenantId,
      '--kind',
      'compute',
      '--amount',
      '50.000001',
      '--reference',
      'grant-1',
      '--coverage-bps',
      '5000',
      '--models',
      'acme/llama-3',
      '--priority',
      '80',
      '--program',
      'gov',
    ]);
    expect(granted).toMatchObject({ exitCode: 0, stderr: '' });
    expect(granted.stdout).toMatch(/^amount: +50\.000001$/m);
    expect(granted.stdout).toMatch(/^duplicate: +false$/m);
    couponId = /^id: +(cpn_\S+)$/m.exec(granted.stdout)?.[1] ?? '';
    expect(couponId).not.toBe('');

    const listed = await runCli(['coupons', 'list', tenantId]);
    expect(listed.exitCode).toBe(0);
    const [header, row, ...rest] = listed.stdout.trimEnd().split('\n');
    expect(header).toMatch(/^ID\s+KIND\s+PROGRAM\s+AMOUNT\s+REMAINING\s+HELD\s+COVERAGE BPS\s/);
    expect(row).toMatch(
      new RegExp(
        `^${couponId}\\s+compute\\s+gov\\s+50\\.000001\\s+50\\.000001\\s+0\\.00\\s+5000\\s+80\\s+acme/llama-3\\s.*\\sactive\\s+grant-1$`,
      ),
    );
    expect(rest).toEqual([]);

    const voided = await runCli(['coupons', 'void', couponId]);
    expect(voided.exitCode).toBe(0);
    expect(voided.stdout).toMatch(/^status: +voided$/m);
  });

  it('shows the tenant, its usage, its ledger entries and a ledger that checks out', async () => {
    const [tenant, usage, usageCsv, entries, check] = await Promise.all([
      runCli(['tenants', 'get', tenantId]),
      runCli(['usage', tenantId]),
      runCli(['usage', tenantId, '--csv']),
      runCli(['ledger', tenantId]),
      runCli(['ledger', 'check']),
    ]);
    expect(tenant).toMatchObject({ exitCode: 0, stderr: '' });
    expect(tenant.stdout).toMatch(/^balance: +100\.000001$/m);
    expect(tenant.stdout).toMatch(/^holds: +0\.00$/m);
    expect(tenant.stdout).toMatch(new RegExp(`\ncoupons:\nID\\s.*\n${couponId}\\s.*\\svoided\\s`));

    expect(usage).toEqual({ exitCode: 0, stdout: 'no usage\n', stderr: '' });
    expect(usageCsv).toEqual({
      exitCode: 0,
      stdout:
        'request_id,batch_id,created_at,tenant_id,key_id,model,region,backend_id,provider_id,input_tokens,' +
        'cached_input_tokens,output_tokens,reasoning_tokens,usage_source,outcome,cost,lines,paid_by,lease_id,' +
        'verified_output_tokens,claimed_input_tokens,claimed_output_tokens\r\n',
      stderr: '',
    });

    expect(entries.exitCode).toBe(0);
    expect(entries.stdout.split('\n')[0]).toMatch(
      /^TRANSACTION\s+KIND\s+REQUEST\s+REFERENCE\s+DEBIT\s+CREDIT\s+AMOUNT\s+FLAG\s+TIME$/,
    );
    expect(entries.stdout).toMatch(
      new RegExp(
        `^\\d+\\s+topup\\s+-\\s+pay-1\\s+cash\\s+wallet:${tenantId}\\s+100\\.000001\\s+posted\\s`,
        'm',
      ),
    );
    expect(entries.stdout).toMatch(/^\d+\s+grant\s+-\s+grant-1\s/m);

    expect(check).toMatchObject({ exitCode: 0, stderr: '' });
    expect(check.stdout).toMatch(/^ok \(\d+ accounts, \d+ transactions\)\n$/);
  });
});

describe('tokenbank admin failures', () => {
  it('exits 2 on a bad flag, 1 on a 404, a wrong token and an absent gateway', async () => {
    const [badFlag, missing, wrongToken, absent] = await Promise.all([
      runCli(['tenants', 'list', '--colour']),
      runCli(['tenants', 'get', 'ten_missing']),
      runCli(['providers', 'list'], { TOKENBANK_ADMIN_TOKEN: `tba-${'w'.repeat(30)}` }),
      // A free port is one nothing listens on: the system just handed it out and took it back.
      freePort().then((port) => runCli(['backends', 'list', '--url', `http://127.0.0.1:${port}`])),
    ]);
    expect(badFlag).toMatchObject({ exitCode: 2, stdout: '' });
    expect(badFlag.stderr).toMatch(
      /^tokenbank admin: Unknown option '--colour'\n\nUsage: tokenbank admin tenants list/,
    );

    expect(missing).toEqual({
      exitCode: 1,
      stdout: '',
      stderr: "error 404 not_found: No tenant with id 'ten_missing'.\n",
    });

    expect(wrongToken).toMatchObject({ exitCode: 1, stdout: '' });
    expect(wrongToken.stderr).toMatch(/^error 401 invalid_api_key: /);
    expect(wrongToken.stderr).not.toContain('w'.repeat(30));

    expect(absent).toMatchObject({ exitCode: 1, stdout: '' });
    expect(absent.stderr).toMatch(
      /cannot connect to the gateway at http:\/\/127\.0\.0\.1:\d+: connection refused/,
    );
  });
});
