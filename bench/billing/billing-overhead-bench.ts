/**
 * What billing adds to a request: the gateway with the SQLite ledger (reserve, settle, usage
 * record, group commit) against the same gateway with a ledger that admits everything for free,
 * in the same process and run, interleaved. A simulator process answers upstream. Prints CPU
 * microseconds per request of this process (gateway + load client; the client's share is the
 * same in both, so the difference is billing's) and requests per second. Asserts nothing.
 *
 *   npm run bench:billing [-- --requests 4000 --rounds 3 --concurrency 16]
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { serve } from '@hono/node-server';
import { Pool } from 'undici';
import { createApp } from '../../src/app.ts';
import type { Ledger } from '../../src/billing/ledger.ts';
import { parseConfig } from '../../src/config.ts';
import type { Deps } from '../../src/deps.ts';
import { systemClock } from '../../src/platform/clock.ts';
import { silentLogger } from '../../src/platform/logger.ts';
import { createSeededRandom } from '../../src/platform/random.ts';
import { createNodeDeps } from '../../src/runtime/node/node-deps.ts';
import { sha256Hex } from '../../src/runtime/node/node-ports.ts';
import { migrateSqlite, openSqlite } from '../../src/runtime/node/sqlite/sqlite-database.ts';
import { startSimulatorProcess } from '../../test/support/spawn-simulator.ts';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '4000' },
    rounds: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '16' },
  },
});
const requestCount = Number(values.requests);
const roundCount = Number(values.rounds);
const concurrency = Number(values.concurrency);
const adminToken = `tba-${'b'.repeat(32)}`;
const model = 'bench-model';

/** Admits and settles everything for nothing: the gateway with billing taken out. */
function freeLedger(real: Ledger): Ledger {
  return {
    ...real,
    reserve: async (input) => ({
      ok: true,
      reservedMicro: 0n,
      outputTokensMax: input.outputTokensMax,
      clamped: false,
    }),
    checkpoint: async () => {},
    settle: async () => ({
      costMicro: 0n,
      lines: [],
      paidBy: [],
      walletAvailableMicro: 0n,
      duplicate: false,
    }),
    release: async () => {},
    recordRejected: async () => {},
  };
}

async function startVariant(name: string, simulatorUrl: string, billing: boolean) {
  const parsed = parseConfig(
    {},
    {
      database: join(mkdtempSync(join(tmpdir(), 'tokenbank-bench-')), 'bench.db'),
      adminToken,
      allowPrivateBackends: true,
      autoApproveBackends: true,
      port: 0,
    },
  );
  if (!parsed.ok) {
    throw new Error(parsed.message);
  }
  const opened = openSqlite(parsed.config.database);
  migrateSqlite(opened);
  const built = createNodeDeps({
    config: parsed.config,
    opened,
    clock: systemClock,
    random: createSeededRandom(1),
    logger: silentLogger,
    adminTokenHashes: [await sha256Hex(adminToken)],
  });
  const deps: Deps = billing ? built : { ...built, ledger: freeLedger(built.ledger) };
  const app = createApp(deps);
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const started = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () =>
      resolve(started),
    );
  });
  const address = server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  const call = async (method: string, path: string, token: string, body: unknown) => {
    const response = await app.request(path, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return (await response.json()) as Record<string, string>;
  };
  const provider = await call('POST', '/admin/v1/providers', adminToken, {
    name: 'bench',
    payout_bps: 8000,
  });
  await call('POST', '/provider/v1/backends', provider.token ?? '', {
    url: simulatorUrl,
    region: 'east',
    models: [model],
    slots: 256,
  });
  await call('PUT', `/admin/v1/prices/${model}`, adminToken, { input: '2.00', output: '6.00' });
  const tenant = await call('POST', '/admin/v1/tenants', adminToken, { name: 'bench' });
  await call('POST', `/admin/v1/tenants/${tenant.id}/topups`, adminToken, {
    amount: '1000000',
    reference: 'bench',
  });
  const key = await call('POST', `/admin/v1/tenants/${tenant.id}/keys`, adminToken, {});
  return { name, url, apiKey: key.key ?? '', close: () => server.close() };
}

const body = JSON.stringify({
  model,
  messages: [
    { role: 'system', content: 'You are terse.' },
    { role: 'user', content: 'Say hello to the computing power bank.' },
  ],
  max_tokens: 16,
});

async function drive(variant: { url: string; apiKey: string }) {
  const pool = new Pool(variant.url, { connections: concurrency, pipelining: 1 });
  let next = 0;
  const cpuBefore = process.cpuUsage();
  const startedAt = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < requestCount) {
        next += 1;
        const response = await pool.request({
          method: 'POST',
          path: '/v1/chat/completions',
          headers: {
            authorization: `Bearer ${variant.apiKey}`,
            'content-type': 'application/json',
          },
          body,
        });
        await response.body.text();
        if (response.statusCode !== 200) {
          throw new Error(`status ${response.statusCode}`);
        }
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - startedAt) / 1e9;
  const cpu = process.cpuUsage(cpuBefore);
  await pool.close();
  return {
    cpuMicrosPerRequest: (cpu.user + cpu.system) / requestCount,
    requestsPerSecond: requestCount / seconds,
  };
}

const simulator = await startSimulatorProcess([
  '--models',
  model,
  '--decode-tps',
  '1000000000',
  '--prefill-tps',
  '1000000000',
  '--slots',
  '256',
  '--jitter',
  '0',
]);
const variants = [
  await startVariant('billing off (free ledger)', simulator.url, false),
  await startVariant('billing on (SQLite ledger)', simulator.url, true),
];
const results = new Map(
  variants.map((variant) => [
    variant.name,
    [] as { cpuMicrosPerRequest: number; requestsPerSecond: number }[],
  ]),
);
for (const variant of variants) {
  await drive({ ...variant });
}
for (let round = 0; round < roundCount; round += 1) {
  for (const variant of round % 2 === 0 ? variants : [...variants].reverse()) {
    process.stderr.write(`round ${round + 1}/${roundCount}: ${variant.name} ... `);
    const result = await drive(variant);
    results.get(variant.name)?.push(result);
    process.stderr.write(`${Math.round(result.cpuMicrosPerRequest)} us CPU/request\n`);
  }
}
const median = (numbers: number[]) =>
  [...numbers].sort((left, right) => left - right)[Math.floor(numbers.length / 2)] ?? 0;
const summary = variants.map((variant) => {
  const runs = results.get(variant.name) ?? [];
  return {
    name: variant.name,
    cpu: median(runs.map((run) => run.cpuMicrosPerRequest)),
    rate: median(runs.map((run) => run.requestsPerSecond)),
  };
});
const baseline = summary[0];
console.log(
  `\nGateway CPU per request, billing off vs on (${requestCount} requests, concurrency ${concurrency}, median of ${roundCount})\n`,
);
console.log('| variant | CPU us/request (gateway + client) | req/s | CPU ratio to billing off |');
console.log('|---|---:|---:|---:|');
for (const row of summary) {
  console.log(
    `| ${row.name} | ${Math.round(row.cpu)} | ${Math.round(row.rate).toLocaleString('en')} | ${(row.cpu / (baseline?.cpu ?? 1)).toFixed(2)}x |`,
  );
}
console.log(
  `\nbilling adds ${Math.round((summary[1]?.cpu ?? 0) - (baseline?.cpu ?? 0))} us of CPU per request`,
);
for (const variant of variants) {
  variant.close();
}
await simulator.stop();
process.exit(0);
