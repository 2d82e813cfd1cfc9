/**
 * `tokenbank`: dispatches to one command per subcommand. Each command returns its exit code;
 * long-running ones (serve, demo, sim) resolve when they are stopped. The usage lists every
 * environment variable any command reads (src/cli/main.test.ts keeps it complete).
 */
import { runAdminCommand } from './commands/admin.ts';
import { runBatchCommand } from './commands/batch.ts';
import { runDemoCommand } from './commands/demo.ts';
import { runMigrateCommand } from './commands/migrate.ts';
import { runProviderCommand } from './commands/provider.ts';
import { runServeCommand } from './commands/serve.ts';
import { runSimCommand } from './commands/sim.ts';

const environmentHelp: ReadonlyArray<readonly [string, string]> = [
  ['TOKENBANK_PORT', 'listen port (default 8787; --port)'],
  ['TOKENBANK_HOST', 'listen address (default 127.0.0.1; --host)'],
  [
    'TOKENBANK_DB',
    'SQLite path (default ./data/tokenbank.db; --db) or postgres://... for replicas',
  ],
  ['TOKENBANK_REDIS_URL', 'Redis shared by replicas (rate limits, load, catalog changes, locks)'],
  ['TOKENBANK_REDIS_PREFIX', 'start of every Redis key and channel (default tokenbank:)'],
  ['TOKENBANK_ADMIN_TOKEN', 'the admin token, at least 24 characters (default: generated and'],
  ['', 'printed on the first start); also the token of tokenbank admin'],
  ['TOKENBANK_CURRENCY', "the deployment's one currency (default CNY)"],
  [
    'TOKENBANK_ALLOW_PRIVATE_BACKENDS',
    '1 lets providers register loopback/private URLs (default off)',
  ],
  ['TOKENBANK_AUTO_APPROVE_BACKENDS', '1 lets provider-registered backends serve without approval'],
  [
    'TOKENBANK_ALLOW_FOREIGN_METRICS_HOSTS',
    "1 lets a backend's metrics_url be on another host than its url",
  ],
  ['TOKENBANK_REQUEST_TIMEOUT_S', 'longest a request may run, in seconds (default 600)'],
  [
    'TOKENBANK_STORAGE_TICK_S',
    'stored files are charged once per tick, in seconds (default 3600; the demo: 60)',
  ],
  ['TOKENBANK_LOG_LEVEL', 'debug, info (default), warn or error; JSON lines on stderr'],
  ['TOKENBANK_LIMITS', 'JSON object overriding single limits of src/config.ts, e.g.'],
  ['', '{"routingPriceMarginMs":100}; replicas count each other through Redis, without'],
  ['', 'it give each {"gatewayReplicaCount":N}'],
  ['TOKENBANK_URL', 'gateway of admin, provider and batch (default http://127.0.0.1:8787)'],
  ['TOKENBANK_PROVIDER_TOKEN', "a provider's tbp-... token, for tokenbank provider"],
  ['TOKENBANK_API_KEY', "a tenant's tbk-... API key, for tokenbank batch"],
];

function aligned(rows: ReadonlyArray<readonly [string, string]>): string {
  const width = Math.max(...rows.map(([name]) => name.length));
  return rows.map(([name, meaning]) => `  ${name.padEnd(width)}  ${meaning}`).join('\n');
}

export const usage = `tokenbank — token-metered AI inference gateway

Usage:
  tokenbank serve    [--port 8787] [--host 127.0.0.1] [--db ./data/tokenbank.db]
  tokenbank migrate  [--db ./data/tokenbank.db | --db postgres://user@host/db]
  tokenbank demo     [--port 8787] [--host 127.0.0.1] [--db PATH] [--reset]
  tokenbank sim      --models a,b [--port 0] [--region local] [--slots 8] [--prefill-tps 2000]
                     [--decode-tps 40] [--fault KIND[:SHARE]]...
  tokenbank admin    <tenants|keys|topup|coupons|usage|ledger|statement|providers|prices|backends|audit>
                     ... [--url URL] [--token T] [--json]
  tokenbank provider <backends|earnings> ... [--url URL] [--token T] [--json]
  tokenbank batch    <submit FILE --endpoint PATH|status ID [--wait]|results ID|list|cancel ID>
                     ... [--url URL] [--key K] [--json]

Run 'tokenbank <command> --help' for the options of one command and their defaults.
The package is not published: run it from the repository root (npx tokenbank ..., npm run demo,
npm start); elsewhere npx would look the name up in the npm registry.

Environment (flags win over the environment, the environment over defaults):
${aligned(environmentHelp)}`;

type Command = (argv: string[]) => Promise<number | undefined> | Promise<void>;

const commands: Record<string, Command> = {
  serve: runServeCommand,
  migrate: runMigrateCommand,
  demo: runDemoCommand,
  sim: runSimCommand,
  admin: runAdminCommand,
  provider: runProviderCommand,
  batch: runBatchCommand,
};

export async function runCli(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${usage}\n`);
    return name === undefined ? 2 : 0;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`tokenbank: unknown command '${name}'\n\n${usage}\n`);
    return 2;
  }
  return (await command(rest)) ?? 0;
}
