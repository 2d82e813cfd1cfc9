/**
 * `tokenbank provider` and the operator's views of providers (`admin providers earnings`, `admin
 * audit`) as they are used: a real gateway process, a real simulator process as the provider's
 * GPU server, and the CLI as a child process, from registering a backend to the earnings of a
 * request it served, plus the failures (no token, the wrong token, an unknown provider).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliCommandResult, runCliCommand } from './support/cli-process.ts';
import { type GatewayProcess, startGatewayProcess } from './support/spawn-gateway.ts';
import { type SimulatorProcess, startSimulatorProcess } from './support/spawn-simulator.ts';

const adminToken = `tba-${'p'.repeat(30)}`;
const model = 'provider-cli-model';

let gateway: GatewayProcess;
let simulator: SimulatorProcess;
let providerId = '';
let providerToken = '';
let backendId = '';

function admin(args: string[]): Promise<CliCommandResult> {
  return runCliCommand(['admin', ...args], {
    TOKENBANK_URL: gateway.url,
    TOKENBANK_ADMIN_TOKEN: adminToken,
  });
}

function provider(args: string[], token = providerToken): Promise<CliCommandResult> {
  return runCliCommand(['provider', ...args], {
    TOKENBANK_URL: gateway.url,
    TOKENBANK_PROVIDER_TOKEN: token,
  });
}

function jsonOf(run: CliCommandResult): Record<string, unknown> {
  expect(run).toMatchObject({ code: 0, stderr: '' });
  return JSON.parse(run.stdout) as Record<string, unknown>;
}

/** One metered request by a new tenant, so the provider has something to earn. */
async function serveOneRequest(): Promise<void> {
  expect((await admin(['prices', 'set', model, '--input', '2.00', '--output', '6.00'])).code).toBe(
    0,
  );
  const tenant = jsonOf(
    await admin(['tenants', 'create', '--name', 'Buyer', '--home-region', 'cn-east', '--json']),
  );
  const tenantId = String(tenant.id);
  expect(
    (await admin(['topup', tenantId, '--amount', '10.00', '--reference', 'provider-cli'])).code,
  ).toBe(0);
  const key = jsonOf(await admin(['keys', 'create', tenantId, '--name', 'app', '--json']));
  const response = await fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${String(key.key)}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'Hello' }], max_tokens: 8 }),
  });
  expect(response.status).toBe(200);
  await response.text();
}

beforeAll(async () => {
  [gateway, simulator] = await Promise.all([
    startGatewayProcess({ adminToken, environment: { TOKENBANK_ALLOW_PRIVATE_BACKENDS: '1' } }),
    startSimulatorProcess(['--models', model, '--region', 'cn-east', '--decode-tps', '1000']),
  ]);
  const created = jsonOf(
    await admin(['providers', 'create', '--name', 'GPU Co', '--payout-bps', '8000', '--json']),
  );
  providerId = String(created.id);
  providerToken = String(created.token);
});

afterAll(async () => {
  await Promise.all([gateway?.stop(), simulator?.stop()]);
});

describe('tokenbank provider', () => {
  it('registers a backend and lists it with its state, whatever the state is', async () => {
    const added = jsonOf(
      await provider([
        'backends',
        'add',
        '--backend-url',
        simulator.url,
        '--region',
        'cn-east',
        '--models',
        model,
        '--slots',
        '4',
        '--json',
      ]),
    );
    expect(added).toMatchObject({
      object: 'backend',
      url: simulator.url,
      region: 'cn-east',
      models: [model],
      slots: 4,
    });
    backendId = String(added.id);
    const listed = await provider(['backends', 'list']);
    expect(listed).toMatchObject({ code: 0, stderr: '' });
    const [header, row, ...rest] = listed.stdout.trimEnd().split('\n');
    expect(header?.split(/\s{2,}/)).toEqual([
      'ID',
      'STATE',
      'REGION',
      'SLOTS',
      'IN FLIGHT',
      'MODELS',
      'URL',
    ]);
    expect(row?.split(/\s{2,}/)).toEqual([
      backendId,
      String(added.state),
      'cn-east',
      '4',
      '0',
      model,
      simulator.url,
    ]);
    expect(rest).toEqual([]);
  });

  it('shows what it earned, and the operator sees the same for that provider', async () => {
    await serveOneRequest();
    const own = jsonOf(await provider(['earnings', '--json']));
    expect(own).toMatchObject({ object: 'list', provider_id: providerId, currency: 'CNY' });
    const rows = own.data as Record<string, unknown>[];
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ backend_id: backendId, model, requests: 1 });
    expect(own.total_earned).toBe(rows[0]?.earned);
    expect(Number(own.total_earned)).toBeGreaterThan(0);
    expect(jsonOf(await admin(['providers', 'earnings', providerId, '--json']))).toEqual(own);

    const table = await provider(['earnings', '--from', '2020-01-01T00:00:00Z']);
    expect(table).toMatchObject({ code: 0, stderr: '' });
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]?.split(/\s{2,}/)).toEqual([
      'BACKEND',
      'MODEL',
      'REQUESTS',
      'TOKENS IN',
      'TOKENS OUT',
      'EARNED',
    ]);
    expect(lines[1]?.split(/\s{2,}/)[0]).toBe(backendId);
    // Nothing was paid out yet: all it earned is owed.
    expect(lines.slice(-3)).toEqual([
      `total earned: ${String(own.total_earned)} CNY`,
      'total paid: 0.00 CNY',
      `unpaid (owed now): ${String(own.total_earned)} CNY`,
    ]);
    const before = await provider(['earnings', '--to', '2020-01-01T00:00:00Z']);
    expect(before.stdout).toBe(
      `no earnings in this range\ntotal earned: 0.00 CNY\ntotal paid: 0.00 CNY\nunpaid (owed now): ${String(own.total_earned)} CNY\n`,
    );
  });

  it('changes, drains and removes its backend', async () => {
    expect(
      jsonOf(await provider(['backends', 'update', backendId, '--slots', '2', '--json'])),
    ).toMatchObject({ id: backendId, slots: 2 });
    expect(jsonOf(await provider(['backends', 'drain', backendId, '--json']))).toMatchObject({
      id: backendId,
      state: 'draining',
    });
    const removed = await provider(['backends', 'remove', backendId]);
    expect(removed).toMatchObject({ code: 0, stderr: '' });
    expect(removed.stdout).toMatch(new RegExp(`^id: +${backendId}$`, 'm'));
    expect(removed.stdout).toMatch(/^deleted: +true$/m);
  });

  it('exits 2 without a token, 1 with the wrong one, and never prints the token', async () => {
    const missing = await provider(['backends', 'list'], '');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(
      'no provider token: set TOKENBANK_PROVIDER_TOKEN or pass --token',
    );
    const wrong = await runCliCommand([
      'provider',
      'backends',
      'list',
      '--url',
      gateway.url,
      '--token',
      adminToken,
    ]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^error 401 /);
    expect(wrong.stderr + wrong.stdout).not.toContain(adminToken);
    const help = await provider(['backends', 'add', '--help']);
    expect(help.stdout).toContain('(default 8)');
    expect(help.stdout).toContain('env TOKENBANK_PROVIDER_TOKEN');
  });
});

describe('tokenbank admin: providers earnings and audit', () => {
  it('answers 404 for an unknown provider', async () => {
    const unknown = await admin(['providers', 'earnings', 'prv_nobody']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe("error 404 not_found: No provider with id 'prv_nobody'.\n");
  });

  it('pages through the audit log, newest first', async () => {
    const page = await admin(['audit', '--limit', '2']);
    expect(page).toMatchObject({ code: 0, stderr: '' });
    const lines = page.stdout.trimEnd().split('\n');
    expect(lines[0]?.split(/\s{2,}/)).toEqual([
      'ID',
      'TIME',
      'ACTOR',
      'ACTION',
      'ENTITY',
      'ENTITY ID',
      'TENANT',
    ]);
    expect(lines).toHaveLength(4);
    const cursor = /^more: --before (\d+)$/.exec(lines[3] ?? '')?.[1];
    expect(cursor).toBeDefined();
    const registered = jsonOf(await admin(['audit', '--action', 'backend.register', '--json']));
    expect(registered.data).toEqual([
      expect.objectContaining({
        action: 'backend.register',
        entity_id: backendId,
        actor: `provider:${providerId}`,
      }),
    ]);
    const next = jsonOf(await admin(['audit', '--limit', '2', '--before', cursor ?? '', '--json']));
    expect((next.data as { id: number }[]).every((event) => event.id < Number(cursor))).toBe(true);
  });
});
