/**
 * The README's "Run it on Cloudflare Workers", as a newcomer runs it: `npx wrangler d1 migrations
 * apply tokenbank --local`, then `npx wrangler dev` with the two vars it shows, `tokenbank sim` on loopback as the GPU server, then steps 2 to 6 of "Run it
 * for real" with the real CLI and the official SDK against the Worker, and the operator's view of
 * the money afterwards. Only the port and the storage folder differ from the README (a free port,
 * a temporary folder), so the suite neither collides with a running gateway nor leaves state in
 * the repository.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CliCommandResult,
  type CliProcess,
  runCliCommand,
  runProgram,
  startCliProcess,
} from './support/cli-process.ts';
import { freePort } from './support/free-port.ts';
import { micro } from './support/money-reading.ts';
import { pollUntil } from './support/poll-until.ts';
import { type SimulatorProcess, startSimulatorProcess } from './support/spawn-simulator.ts';
import { moneyOf, type TenantMoneyView, type UsageRecordView } from './support/tenant-money.ts';
import { offlineEnvironment } from './support/workers-runtime.ts';

const adminToken = 'tba-choose-a-long-admin-token-here';
const model = 'qwen2.5-7b-instruct';
const wranglerProgram: [string, string] = [
  process.execPath,
  'node_modules/wrangler/bin/wrangler.js',
];

let simulator: SimulatorProcess;
let worker: CliProcess;
let storageDirectory: string;

function jsonOf(run: CliCommandResult): Record<string, unknown> {
  expect(run).toMatchObject({ code: 0, stderr: '' });
  return JSON.parse(run.stdout) as Record<string, unknown>;
}

function admin(args: string[]): Promise<CliCommandResult> {
  return runCliCommand(['admin', ...args, '--json'], {
    TOKENBANK_URL: worker.url,
    TOKENBANK_ADMIN_TOKEN: adminToken,
  });
}

/** The tag of drizzle/'s newest migration, which wrangler applies last. */
function newestMigration(): string {
  const journal = JSON.parse(
    readFileSync(new URL('../drizzle/meta/_journal.json', import.meta.url), 'utf8'),
  ) as { entries: { tag: string }[] };
  return journal.entries.at(-1)?.tag ?? 'none';
}

/** `wrangler d1 execute tokenbank --local` on the suite's storage: the rows of one query. */
async function d1Query(query: string): Promise<Record<string, unknown>[]> {
  const run = await runProgram(
    wranglerProgram,
    [
      'd1',
      'execute',
      'tokenbank',
      '--local',
      '--persist-to',
      storageDirectory,
      '--json',
      '--command',
      query,
    ],
    offlineEnvironment,
  );
  expect(run.code, run.stderr).toBe(0);
  const [answer] = JSON.parse(run.stdout) as { results: Record<string, unknown>[] }[];
  return answer?.results ?? [];
}

beforeAll(async () => {
  storageDirectory = mkdtempSync(join(tmpdir(), 'tokenbank-wrangler-dev-'));
  const migrations = await runProgram(
    wranglerProgram,
    ['d1', 'migrations', 'apply', 'tokenbank', '--local', '--persist-to', storageDirectory],
    offlineEnvironment,
  );
  expect(migrations, 'wrangler d1 migrations apply').toMatchObject({ code: 0 });
  expect(migrations.stdout).toContain(`${newestMigration()}.sql`);
  const port = await freePort();
  [simulator, worker] = await Promise.all([
    startSimulatorProcess(['--models', model, '--region', 'cn-east', '--decode-tps', '1000']),
    startCliProcess({
      program: wranglerProgram,
      args: [
        'dev',
        '--port',
        String(port),
        '--ip',
        '127.0.0.1',
        '--persist-to',
        storageDirectory,
        '--var',
        `TOKENBANK_ADMIN_TOKEN:${adminToken}`,
        '--var',
        'TOKENBANK_ALLOW_PRIVATE_BACKENDS:true',
      ],
      listeningPattern: /Ready on (http:\/\/[\d.:]+)/,
      environment: offlineEnvironment,
      // wrangler bundles the Worker and starts workerd before it listens.
      startTimeoutMs: 180_000,
      stopTimeoutMs: 10_000,
    }),
  ]);
}, 240_000);

afterAll(async () => {
  await Promise.all([worker?.stop(), simulator?.stop()]);
  rmSync(storageDirectory, { recursive: true, force: true });
});

describe('npx wrangler dev, as the README runs it', () => {
  it('serves steps 2 to 6 of "Run it for real" and bills the request', async () => {
    const provider = jsonOf(
      await admin(['providers', 'create', '--name', 'Shanghai GPU Co', '--payout-bps', '8000']),
    );
    const backend = jsonOf(
      await runCliCommand(
        [
          'provider',
          'backends',
          'add',
          '--backend-url',
          simulator.url,
          '--region',
          'cn-east',
          '--models',
          model,
          '--slots',
          '16',
          '--metrics-url',
          `${simulator.origin}/metrics`,
          '--json',
        ],
        { TOKENBANK_URL: worker.url, TOKENBANK_PROVIDER_TOKEN: String(provider.token) },
      ),
    );
    expect(backend).toMatchObject({ state: 'pending', models: [model] });
    expect(jsonOf(await admin(['backends', 'approve', String(backend.id)]))).toMatchObject({
      id: backend.id,
    });
    jsonOf(await admin(['prices', 'set', model, '--input', '2.00', '--output', '6.00']));
    const tenant = jsonOf(
      await admin(['tenants', 'create', '--name', 'Acme SME', '--home-region', 'cn-east']),
    );
    const tenantId = String(tenant.id);
    const key = jsonOf(await admin(['keys', 'create', tenantId, '--name', 'prod']));
    jsonOf(await admin(['topup', tenantId, '--amount', '500.00', '--reference', 'bank-1']));
    jsonOf(
      await admin([
        'coupons',
        'grant',
        tenantId,
        '--kind',
        'compute',
        '--amount',
        '200.00',
        '--coverage-bps',
        '5000',
        '--program',
        'shanghai-compute-voucher',
        '--reference',
        'SH-2026-0042',
        '--expires-at',
        '2099-06-30T16:00:00Z',
      ]),
    );

    const client = new OpenAI({ baseURL: `${worker.url}/v1`, apiKey: String(key.key) });
    const { data: completion, response } = await client.chat.completions
      .create({ model, messages: [{ role: 'user', content: 'Hello' }], max_tokens: 16 })
      .withResponse();
    expect(completion.choices[0]?.message.content).toBeTruthy();
    const usage = completion.usage;
    expect(usage?.completion_tokens).toBeGreaterThan(0);

    // 2.00 and 6.00 per million tokens are 2 and 6 micro-units a token; the voucher pays half
    // (coverage 50%) and the wallet the rest, and nothing stays held once the answer is settled.
    const costMicros =
      BigInt(usage?.prompt_tokens ?? 0) * 2n + BigInt(usage?.completion_tokens ?? 0) * 6n;
    const records = jsonOf(await admin(['usage', tenantId])).data as UsageRecordView[];
    expect(records.map((record) => [record.request_id, micro(record.cost)])).toEqual([
      [response.headers.get('x-request-id'), costMicros],
    ]);
    expect(records[0]?.paid_by.map((part) => part.source).sort()).toEqual(['coupon', 'wallet']);
    const money = jsonOf(await admin(['tenants', 'get', tenantId])) as TenantMoneyView;
    expect(micro(money.holds)).toBe(0n);
    expect(moneyOf(money)).toBe(700_000_000n - costMicros);
    expect(jsonOf(await admin(['ledger', 'check']))).toMatchObject({ ok: true });

    // The operator's own query of the usage copy in D1, a moment after the tenant's object
    // wrote the record.
    const copied = await pollUntil(
      async () => {
        const rows = await d1Query(
          `SELECT request_id, cost FROM usage_records WHERE tenant_id = '${tenantId}'`,
        );
        return rows.length > 0 ? rows : undefined;
      },
      'the usage record copied to D1',
      60_000,
      500,
    );
    expect(copied).toEqual([
      { request_id: response.headers.get('x-request-id'), cost: Number(costMicros) },
    ]);
  });
});
