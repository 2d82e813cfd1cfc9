import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { createFileChanges } from './file-changes.ts';

const directories: string[] = [];
afterEach(() => {
  for (const directory of directories.splice(0)) {
    rmSync(directory, { recursive: true, force: true });
  }
});

/** Two connections on one WAL file, as two processes would hold it. */
function twoConnections() {
  const directory = mkdtempSync(join(tmpdir(), 'tokenbank-file-changes-'));
  directories.push(directory);
  const path = join(directory, 'store.db');
  const own = new Database(path);
  own.pragma('journal_mode = WAL');
  own.exec('CREATE TABLE rows (value INTEGER)');
  const other = new Database(path);
  return { own, other };
}

describe('changes to the file by other connections', () => {
  it('answers yes once after another connection commits, never for its own commits', () => {
    const { own, other } = twoConnections();
    const changes = createFileChanges(own);
    own.exec('INSERT INTO rows VALUES (1)');
    expect(changes.changedByOthers()).toBe(false);
    other.exec('INSERT INTO rows VALUES (2)');
    other.exec('INSERT INTO rows VALUES (3)');
    expect(changes.changedByOthers()).toBe(true);
    expect(changes.changedByOthers()).toBe(false);
    // A passive checkpoint, as the checkpoint worker runs, changes no content.
    other.pragma('wal_checkpoint(PASSIVE)');
    expect(changes.changedByOthers()).toBe(false);
    own.close();
    other.close();
  });
});
