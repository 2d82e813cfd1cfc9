/** `tokenbank migrate`: applies the store's migrations (SQLite or PostgreSQL) and exits. */
import { storeKindOf, storeLabelOf } from '../../config.ts';
import { migratePostgres } from '../../runtime/node/postgres/postgres-database.ts';
import { migrateSqlite, openSqlite } from '../../runtime/node/sqlite/sqlite-database.ts';
import { parseGatewayFlags, withUsageErrors } from '../gateway-flags.ts';

const help = `Usage: tokenbank migrate [--db ./data/tokenbank.db | --db postgres://user@host/db]

Applies the migrations to the store (TOKENBANK_DB or --db): drizzle/ to a SQLite file,
drizzle-postgres/ to a PostgreSQL database. Safe to run again, and from several replicas at once.
`;

export function runMigrateCommand(argv: string[]): Promise<number> {
  return withUsageErrors(help, async () => {
    const { config, help: wantsHelp } = parseGatewayFlags(argv);
    if (wantsHelp) {
      process.stdout.write(help);
      return 0;
    }
    if (storeKindOf(config.database) === 'postgres') {
      await migratePostgres(config.database, config.limits);
      process.stdout.write(`migrations applied to ${storeLabelOf(config.database)}\n`);
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
