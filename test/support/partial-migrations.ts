/**
 * A store's migrations up to (not including) one of them, in a temporary folder: a test migrates
 * a store that far, writes rows as an older version would have, then runs every migration, and
 * sees what the one it names does to rows written before it, whatever migrations came after.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

type Journal = { entries: { tag: string }[] };

export type PartialMigrations = { folder: string; remove(): void };

export function migrationsBefore(folder: string, tag: string): PartialMigrations {
  const journal = JSON.parse(
    readFileSync(join(folder, 'meta', '_journal.json'), 'utf8'),
  ) as Journal;
  const index = journal.entries.findIndex((entry) => entry.tag === tag);
  if (index < 0) {
    throw new Error(`no migration ${tag} in ${folder}`);
  }
  const kept = journal.entries.slice(0, index);
  const partial = mkdtempSync(join(tmpdir(), 'tokenbank-migrations-'));
  mkdirSync(join(partial, 'meta'));
  writeFileSync(
    join(partial, 'meta', '_journal.json'),
    JSON.stringify({ ...journal, entries: kept }),
  );
  for (const entry of kept) {
    copyFileSync(join(folder, `${entry.tag}.sql`), join(partial, `${entry.tag}.sql`));
  }
  return { folder: partial, remove: () => rmSync(partial, { recursive: true, force: true }) };
}
