/**
 * `tokenbank`: dispatches to one command per subcommand. Each command returns its exit code;
 * long-running ones (serve, demo, sim) resolve when they are stopped.
 */
import { runAdminCommand } from './commands/admin.ts';
import { runDemoCommand } from './commands/demo.ts';
import { runMigrateCommand } from './commands/migrate.ts';
import { runServeCommand } from './commands/serve.ts';
import { runSimCommand } from './commands/sim.ts';

export const usage = `tokenbank — token-metered AI inference gateway

Usage:
  tokenbank serve   [--port 8787] [--host 127.0.0.1] [--db ./data/tokenbank.db]
  tokenbank migrate [--db ./data/tokenbank.db | --db postgres://user@host/db]
  tokenbank demo    [--port 8787] [--db PATH]
  tokenbank sim     --port N --region R --models a,b [--slots 8] [--prefill-tps 2000]
                    [--decode-tps 40] [--fault KIND[:SHARE]]...
  tokenbank admin   <tenants|keys|topup|coupons|usage|ledger|statement|providers|prices|backends> ... [--url URL] [--token T] [--json]

Run 'tokenbank <command> --help' for the options of one command.
Environment: TOKENBANK_PORT, TOKENBANK_HOST, TOKENBANK_DB, TOKENBANK_ADMIN_TOKEN,
TOKENBANK_CURRENCY, TOKENBANK_ALLOW_PRIVATE_BACKENDS, TOKENBANK_AUTO_APPROVE_BACKENDS,
TOKENBANK_ALLOW_FOREIGN_METRICS_HOSTS, TOKENBANK_REQUEST_TIMEOUT_S, TOKENBANK_LOG_LEVEL,
TOKENBANK_URL (admin), TOKENBANK_REDIS_URL, TOKENBANK_REDIS_PREFIX.`;

type Command = (argv: string[]) => Promise<number | undefined> | Promise<void>;

const commands: Record<string, Command> = {
  serve: runServeCommand,
  migrate: runMigrateCommand,
  demo: runDemoCommand,
  sim: runSimCommand,
  admin: runAdminCommand,
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
