/** `tokenbank migrate`: applies the store's migrations and exits. */
import { migrateSqlite, openSqlite } from '../../runtime/node/sqlite-database.ts';
import { parseGatewayFlags, withUsageErrors } from '../gateway-flags.ts';

const help = `Usage: tokenbank migrate [--db ./data/tokenbank.db]

Applies the migrations in drizzle/ to the store (TOKENBANK_DB or --db).
`;

export function runMigrateCommand(argv: string[]): Promise<number> {
  return withUsageErrors(help, async () => {
    const { config, help: wantsHelp } = parseGatewayFlags(argv);
    if (wantsHelp) {
      process.stdout.write(help);
      return 0;
    }
    const opened = openSqlite(config.database);
    try {
      migrateSqlite(opened);
    } finally {
      opened.close();
    }
    process.stdout.write(`migrations applied to ${config.database}\n`);
    return 0;
  });
}
