import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { startWalCheckpointer } from './wal-checkpointer.ts';

const directories: string[] = [];
afterEach(() => {
  for (const directory of directories.splice(0)) {
    rmSync(directory, { recursive: true, force: true });
  }
});

function openWal(): Database.Database {
  const directory = mkdtempSync(join(tmpdir(), 'tokenbank-checkpoint-'));
  directories.push(directory);
  const connection = new Database(join(directory, 'store.db'));
  connection.pragma('journal_mode = WAL');
  return connection;
}

async function until(condition: () => boolean): Promise<void> {
  for (let attempt = 0; attempt < 500 && !condition(); attempt += 1) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  expect(condition()).toBe(true);
}

describe('startWalCheckpointer', () => {
  it('copies the writer’s committed WAL frames back from its own thread', async () => {
    const connection = openWal();
    const checkpointer = startWalCheckpointer(
      connection,
      { intervalMs: 5, writerAutocheckpointPages: 100_000 },
      (message) => expect.fail(message),
    );
    connection.exec('CREATE TABLE rows (id INTEGER PRIMARY KEY, body TEXT)');
    const insert = connection.prepare('INSERT INTO rows (body) VALUES (?)');
    connection.transaction(() => {
      for (let index = 0; index < 500; index += 1) {
        insert.run('x'.repeat(200));
      }
    })();
    await until(() => {
      const statistics = checkpointer.statistics();
      return statistics.walFrames > 0 && statistics.checkpointedFrames === statistics.walFrames;
    });
    // The writer's own threshold was raised: it leaves checkpoints to the worker.
    expect(connection.pragma('wal_autocheckpoint', { simple: true })).toBe(100_000);
    await checkpointer.stop();
    expect(checkpointer.statistics().failures).toBe(0);
    connection.close();
  });

  it('refuses an in-memory database, which has no WAL', () => {
    const connection = new Database(':memory:');
    expect(() =>
      startWalCheckpointer(connection, { intervalMs: 5, writerAutocheckpointPages: 1 }, () => {}),
    ).toThrow(/in-memory/);
    connection.close();
  });
});
