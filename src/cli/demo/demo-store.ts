/**
 * Which SQLite file the demo may run on, and the only deletions it ever makes. A demo must never
 * destroy data it did not create: it marks each store it creates with a table of its own, and
 * starts over only on a store carrying that mark. Any other existing path is refused, except
 * that `--reset` lets it start over on a tokenbank SQLite store it can open (one made by
 * `tokenbank serve` or `migrate`); a file that is not SQLite, a directory, a device, a link or a
 * SQLite database of something else is never touched, whatever the flags.
 */
import { closeSync, lstatSync, mkdirSync, openSync, readSync, rmSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

/** The mark the demo leaves in every store it creates. */
export const demoMarkerTable = 'tokenbank_demo_store';

/** Tables every tokenbank SQLite store has: what `--reset` requires before deleting a store. */
const tokenbankTables = ['__drizzle_migrations', 'tenants', 'api_keys'] as const;

const sqliteHeader = 'SQLite format 3\0';

/** SQLite's companions of a database file: they hold its latest writes and go with it. */
const companionSuffixes = ['-wal', '-shm', '-journal'] as const;

export class DemoStoreRefused extends Error {
  override name = 'DemoStoreRefused';
}

export type DemoStoreOutcome = 'created' | 'recreated' | 'reset';

function statOf(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return undefined;
    }
    throw error;
  }
}

function startsWithSqliteHeader(path: string): boolean {
  const descriptor = openSync(path, 'r');
  try {
    const header = Buffer.alloc(sqliteHeader.length);
    const read = readSync(descriptor, header, 0, header.length, 0);
    return read === header.length && header.toString('latin1') === sqliteHeader;
  } finally {
    closeSync(descriptor);
  }
}

type StoreKind = 'demo' | 'tokenbank' | 'other';

/** Opens the file read-only (nothing is written, not even a journal) and reads its tables. */
function kindOfSqlite(path: string): StoreKind {
  let connection: Database.Database;
  try {
    connection = new Database(path, { readonly: true, fileMustExist: true });
  } catch {
    return 'other';
  }
  try {
    const rows = connection
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
      .all() as { name: string }[];
    const tables = new Set(rows.map((row) => row.name));
    if (tables.has(demoMarkerTable)) {
      return 'demo';
    }
    return tokenbankTables.every((table) => tables.has(table)) ? 'tokenbank' : 'other';
  } catch {
    return 'other';
  } finally {
    connection.close();
  }
}

function refusal(path: string, what: string): DemoStoreRefused {
  return new DemoStoreRefused(
    `demo: ${path} ${what}; it is left untouched. Choose another --db, or leave --db out: ` +
      'the demo then runs on a fresh store in a temporary folder.',
  );
}

/** What is at `path`, and whether the demo may start over on it. */
function classify(path: string, stats: Stats): StoreKind {
  if (!stats.isFile()) {
    throw refusal(path, 'is not a regular file (a directory, link, device or socket)');
  }
  if (!startsWithSqliteHeader(path)) {
    throw refusal(path, 'is not a SQLite database');
  }
  return kindOfSqlite(path);
}

/** The database file and its companions; each must be a regular file or absent. */
function removeStore(path: string): void {
  for (const companion of companionSuffixes.map((suffix) => `${path}${suffix}`)) {
    const stats = statOf(companion);
    if (stats !== undefined && !stats.isFile()) {
      throw refusal(companion, 'is not a regular file');
    }
  }
  for (const file of [path, ...companionSuffixes.map((suffix) => `${path}${suffix}`)]) {
    rmSync(file, { force: true });
  }
}

/** A new SQLite file holding only the demo's mark; the gateway migrates it on start. */
function createMarkedStore(path: string, nowMs: number): void {
  for (const suffix of companionSuffixes) {
    if (statOf(`${path}${suffix}`) !== undefined) {
      throw refusal(`${path}${suffix}`, 'exists without its database');
    }
  }
  mkdirSync(dirname(path), { recursive: true });
  const connection = new Database(path);
  try {
    connection.exec(
      `CREATE TABLE ${demoMarkerTable} (created_at TEXT NOT NULL, note TEXT NOT NULL)`,
    );
    connection
      .prepare(`INSERT INTO ${demoMarkerTable} (created_at, note) VALUES (?, ?)`)
      .run(
        new Date(nowMs).toISOString(),
        'created by tokenbank demo, which may delete it on its next start',
      );
  } finally {
    connection.close();
  }
}

/**
 * Makes `path` ready for the demo: a new marked store when nothing is there, the demo's own store
 * started over, or (with `reset`) a tokenbank store deleted and started over. Throws
 * DemoStoreRefused for everything else, before anything was changed.
 */
export function prepareDemoStore(
  path: string,
  options: { reset: boolean; nowMs: number },
): DemoStoreOutcome {
  const stats = statOf(path);
  if (stats === undefined) {
    createMarkedStore(path, options.nowMs);
    return 'created';
  }
  const kind = classify(path, stats);
  if (kind === 'other') {
    throw refusal(path, 'is a SQLite database but not a tokenbank store, so even --reset keeps it');
  }
  if (kind === 'tokenbank' && !options.reset) {
    throw new DemoStoreRefused(
      `demo: ${path} is a tokenbank store the demo did not create (made by tokenbank serve or ` +
        'migrate?); the demo will not delete it. Pass --reset to delete it and start a demo ' +
        'there, choose another --db, or leave --db out: the demo then runs on a fresh store in ' +
        'a temporary folder.',
    );
  }
  removeStore(path);
  createMarkedStore(path, options.nowMs);
  return kind === 'demo' ? 'recreated' : 'reset';
}
