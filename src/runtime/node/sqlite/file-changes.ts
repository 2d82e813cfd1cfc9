/**
 * Whether another connection committed to the SQLite file since this one last looked:
 * `PRAGMA data_version` changes exactly then (never for this connection's own commits, nor for a
 * PASSIVE checkpoint). The ledger keeps balances and reservation states in memory; a second
 * process on the same file (another gateway, a tool writing the file directly) would make them
 * wrong, so every group commit asks this first, holding the write lock, and forgets what it
 * remembers when the answer is yes. One pragma per commit, not per operation.
 */
import type Database from 'better-sqlite3';

export type FileChanges = ReturnType<typeof createFileChanges>;

export function createFileChanges(connection: Database.Database) {
  const dataVersion = connection.prepare('PRAGMA data_version').pluck();
  let seenVersion = dataVersion.get() as number;
  return {
    /** True once for each new commit (or commits) made by another connection. */
    changedByOthers(): boolean {
      const version = dataVersion.get() as number;
      if (version === seenVersion) {
        return false;
      }
      seenVersion = version;
      return true;
    },
  };
}
