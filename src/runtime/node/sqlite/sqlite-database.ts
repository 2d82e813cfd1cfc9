/**
 * Opens the embedded SQLite store (better-sqlite3, WAL) and applies drizzle's migrations from the
 * project's drizzle/ folder. WAL with synchronous=NORMAL keeps every commit durable across a
 * process crash while letting readers run beside the single writer.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { type BetterSQLite3Database, drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import * as schema from '../../../db/schema.ts';

export const migrationsFolder = fileURLToPath(new URL('../../../../drizzle', import.meta.url));

export type OpenedSqlite = {
  database: BetterSQLite3Database<typeof schema>;
  /** The raw connection, for the ledger's prepared statements and synchronous transactions. */
  connection: Database.Database;
  close(): void;
};

/** `sqlite:` prefixes are accepted so that a URL-shaped setting also works. */
export function sqlitePathOf(setting: string): string {
  return setting.startsWith('sqlite:') ? setting.slice('sqlite:'.length) : setting;
}

export function openSqlite(setting: string): OpenedSqlite {
  const path = sqlitePathOf(setting);
  if (path !== ':memory:') {
    mkdirSync(dirname(resolve(path)), { recursive: true });
  }
  const connection = new Database(path);
  connection.pragma('journal_mode = WAL');
  connection.pragma('synchronous = NORMAL');
  connection.pragma('foreign_keys = ON');
  // Another process (a second gateway, the CLI) may hold the write lock for a moment.
  connection.pragma('busy_timeout = 5000');
  const database = drizzle(connection, { schema });
  return {
    database,
    connection,
    close: () => connection.close(),
  };
}

export function migrateSqlite(opened: OpenedSqlite): void {
  migrate(opened.database, { migrationsFolder });
}
