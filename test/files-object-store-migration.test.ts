/**
 * Migration 0013 of the SQLite store, which lets a file's row leave its bytes to an object store
 * (R2 on Workers) by making `content` nullable: SQLite changes a column's constraints only by
 * rebuilding the table, so this checks that the files stored before it keep their bytes, and that
 * the rebuilt table still refuses a row whose bytes do not match its size.
 */
import { migrate as migrateSqliteFrom } from 'drizzle-orm/better-sqlite3/migrator';
import { describe, expect, it } from 'vitest';
import { migrationsFolder, openSqlite } from '../src/runtime/node/sqlite/sqlite-database.ts';
import { migrationsBefore } from './support/partial-migrations.ts';

describe('the object-store files migration', () => {
  it('keeps the files stored before it, and the size check on bytes kept in the row', () => {
    const opened = openSqlite(':memory:');
    const before = migrationsBefore(migrationsFolder, '0014_object_store_files_and_job_leases');
    try {
      migrateSqliteFrom(opened.database, { migrationsFolder: before.folder });
      opened.connection.exec(`
        INSERT INTO tenants (id, name, home_region, allowed_regions, allow_max_tokens_clamp, created_at_ms)
          VALUES ('tenant-1', 'tenant-1', NULL, NULL, 0, 0);
        INSERT INTO files (id, tenant_id, filename, purpose, bytes, created_at_ms, content)
          VALUES ('file-old', 'tenant-1', 'old.jsonl', 'batch', 3, 5, x'616263');`);
      migrateSqliteFrom(opened.database, { migrationsFolder });

      const row = opened.connection
        .prepare('SELECT bytes, created_at_ms AS createdAtMs, content FROM files WHERE id = ?')
        .get('file-old') as { bytes: number; createdAtMs: number; content: Buffer };
      expect({ ...row, content: row.content.toString() }).toEqual({
        bytes: 3,
        createdAtMs: 5,
        content: 'abc',
      });
      const insert = opened.connection.prepare(
        `INSERT INTO files (id, tenant_id, filename, purpose, bytes, created_at_ms, content)
           VALUES (?, 'tenant-1', 'new.jsonl', 'batch', ?, 6, ?)`,
      );
      expect(() => insert.run('file-elsewhere', 1_000, null)).not.toThrow();
      expect(() => insert.run('file-lying', 4, Buffer.from('abc'))).toThrow(/CHECK constraint/);
    } finally {
      before.remove();
      opened.close();
    }
  });
});
