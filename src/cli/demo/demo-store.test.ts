import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { migrateSqlite, openSqlite } from '../../runtime/node/sqlite/sqlite-database.ts';
import { DemoStoreRefused, demoMarkerTable, prepareDemoStore } from './demo-store.ts';

const folders: string[] = [];

function folder(): string {
  const made = mkdtempSync(join(tmpdir(), 'tokenbank-demo-store-'));
  folders.push(made);
  return made;
}

afterEach(() => {
  for (const made of folders.splice(0)) {
    rmSync(made, { recursive: true, force: true });
  }
});

const nowMs = Date.parse('2026-11-26T08:00:00Z');

function tablesOf(path: string): string[] {
  const connection = new Database(path, { readonly: true });
  try {
    const rows = connection
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
      .all() as { name: string }[];
    return rows.map((row) => row.name);
  } finally {
    connection.close();
  }
}

/** A store exactly as `tokenbank migrate` leaves it, with one row to recognise it by. */
function migratedStore(path: string): void {
  const opened = openSqlite(path);
  try {
    migrateSqlite(opened);
    opened.connection.exec(`CREATE TABLE operator_notes (note TEXT)`);
  } finally {
    opened.close();
  }
}

function expectRefused(path: string, reset: boolean, message: RegExp): void {
  let thrown: unknown;
  try {
    prepareDemoStore(path, { reset, nowMs });
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(DemoStoreRefused);
  expect((thrown as Error).message).toMatch(message);
}

describe('prepareDemoStore', () => {
  it('creates a marked store where nothing is, making the folders it needs', () => {
    const path = join(folder(), 'nested', 'demo.db');
    expect(prepareDemoStore(path, { reset: false, nowMs })).toBe('created');
    expect(tablesOf(path)).toEqual([demoMarkerTable]);
  });

  it('starts over on a store it created, without --reset', () => {
    const path = join(folder(), 'demo.db');
    prepareDemoStore(path, { reset: false, nowMs });
    const opened = openSqlite(path);
    migrateSqlite(opened);
    opened.close();
    expect(tablesOf(path)).toContain('tenants');
    expect(prepareDemoStore(path, { reset: false, nowMs })).toBe('recreated');
    expect(tablesOf(path)).toEqual([demoMarkerTable]);
  });

  it('recognises its own store left by a crash, with its WAL files, and removes them too', () => {
    const base = folder();
    const live = join(base, 'live.db');
    prepareDemoStore(live, { reset: false, nowMs });
    const opened = openSqlite(live);
    migrateSqlite(opened);
    // Copies taken while the connection is open look exactly like a store after a kill.
    const crashed = join(base, 'crashed.db');
    for (const suffix of ['', '-wal', '-shm']) {
      copyFileSync(`${live}${suffix}`, `${crashed}${suffix}`);
    }
    opened.close();
    expect(prepareDemoStore(crashed, { reset: false, nowMs })).toBe('recreated');
    expect(tablesOf(crashed)).toEqual([demoMarkerTable]);
  });

  it('refuses a tokenbank store it did not create, and keeps it', () => {
    const path = join(folder(), 'tokenbank.db');
    migratedStore(path);
    const before = readFileSync(path);
    expectRefused(path, false, /tokenbank store the demo did not create.*--reset/s);
    expect(readFileSync(path).equals(before)).toBe(true);
    expect(tablesOf(path)).toContain('operator_notes');
  });

  it('starts over on a tokenbank store with --reset', () => {
    const path = join(folder(), 'tokenbank.db');
    migratedStore(path);
    expect(prepareDemoStore(path, { reset: true, nowMs })).toBe('reset');
    expect(tablesOf(path)).toEqual([demoMarkerTable]);
  });

  it('never deletes a text file, even with --reset, and leaves it byte for byte', () => {
    const path = join(folder(), 'notes.txt');
    const text = 'quarterly figures\nline two\n';
    writeFileSync(path, text);
    for (const reset of [false, true]) {
      expectRefused(path, reset, /is not a SQLite database; it is left untouched/);
      expect(readFileSync(path, 'utf8')).toBe(text);
    }
  });

  it('never deletes an empty file, a directory or a link', () => {
    const base = folder();
    const empty = join(base, 'empty.db');
    writeFileSync(empty, '');
    expectRefused(empty, true, /is not a SQLite database/);
    expect(statSync(empty).size).toBe(0);
    const directory = join(base, 'directory.db');
    mkdirSync(directory);
    expectRefused(directory, true, /is not a regular file/);
    const target = join(base, 'target.db');
    prepareDemoStore(target, { reset: false, nowMs });
    const link = join(base, 'link.db');
    symlinkSync(target, link);
    expectRefused(link, true, /is not a regular file/);
    expect(tablesOf(target)).toEqual([demoMarkerTable]);
  });

  it('never deletes a SQLite database of something else, even with --reset', () => {
    const path = join(folder(), 'other.db');
    const connection = new Database(path);
    connection.exec('CREATE TABLE invoices (id INTEGER PRIMARY KEY)');
    connection.close();
    expectRefused(path, true, /not a tokenbank store, so even --reset keeps it/);
    expect(tablesOf(path)).toEqual(['invoices']);
  });

  it('refuses the character device /dev/null', () => {
    expectRefused('/dev/null', true, /is not a regular file/);
  });
});
