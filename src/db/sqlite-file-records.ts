/**
 * The `files` rows over a synchronous drizzle SQLite database, for the two stores that keep a
 * file's metadata in SQLite: the Node gateway's (the bytes in the row as well) and the Workers
 * coordinator object's (the bytes in R2, `content` NULL). The caller names the id, so an object store
 * can hold the bytes under it before the row exists. The quota check and the insert are one
 * transaction: IMMEDIATE on better-sqlite3, which takes the write lock before it reads; a Durable
 * Object's transactionSync, which nothing else interleaves with.
 */
import { asc, count, eq, lt, sum } from 'drizzle-orm';
import { fileMetadataOf, fileOfTenant, filePageOf, filesPast } from './file-queries.ts';
import {
  exceededOf,
  type FileInput,
  type FilePage,
  type FileQuota,
  type QuotaOutcome,
  type StoredFile,
} from './file-store.ts';
import type { SqliteDatabase } from './portable-sqlite.ts';
import { files } from './schema.ts';

/** A file's row: its metadata, and its bytes unless an object store holds them. */
export type FileRow = StoredFile & { content: Uint8Array | null };

export type FileRecords = {
  insert(row: FileRow): Promise<void>;
  /** Inserts the row only if the tenant then holds no more than the quota, in one step. */
  insertWithinQuota(row: FileRow, quota: FileQuota): Promise<QuotaOutcome>;
  get(tenantId: string, fileId: string): Promise<StoredFile | undefined>;
  list(tenantId: string, page: FilePage): Promise<StoredFile[]>;
  /** The bytes kept in the row; undefined for no such file or bytes kept elsewhere. */
  content(tenantId: string, fileId: string): Promise<Uint8Array | undefined>;
  /** true when it existed */
  delete(tenantId: string, fileId: string): Promise<boolean>;
  held(tenantId: string): Promise<{ files: number; bytes: number }>;
  bytesByTenant(createdBeforeMs: number): Promise<{ tenantId: string; bytes: number }[]>;
  /** Deletes every file row of the tenant; the ids they had. */
  deleteAllOfTenant(tenantId: string): Promise<string[]>;
};

const metadata = fileMetadataOf(files);

/** A new file's row under `id`, holding its bytes unless an object store keeps them (null). */
export function newFileRow(
  { content, atMs, ...input }: FileInput,
  id: string,
  keptContent: Uint8Array | null,
): FileRow {
  return { id, ...input, bytes: content.byteLength, createdAtMs: atMs, content: keptContent };
}

/** The metadata of a row, without its bytes. */
export function storedFileOf({ content: _content, ...file }: FileRow): StoredFile {
  return file;
}

export function createSqliteFileRecords(database: SqliteDatabase): FileRecords {
  const held = (tenantId: string) => {
    const row = database
      .select({ files: count(), bytes: sum(files.bytes) })
      .from(files)
      .where(eq(files.tenantId, tenantId))
      .get();
    return { files: row?.files ?? 0, bytes: Number(row?.bytes ?? 0) };
  };
  const insert = (row: FileRow) => {
    database.insert(files).values(row).run();
  };
  /** Where a page starts: past its `after` file, or undefined when that is no file of theirs. */
  const pastCursor = (tenantId: string, page: FilePage & { after: string }) => {
    const after = database
      .select({ createdAtMs: files.createdAtMs, id: files.id })
      .from(files)
      .where(fileOfTenant(files, tenantId, page.after))
      .get();
    return after && filesPast(files, after, page.order);
  };

  return {
    insert: async (row) => insert(row),
    insertWithinQuota: async (row, quota) =>
      database.transaction(
        (): QuotaOutcome => {
          const now = held(row.tenantId);
          const exceeded = exceededOf(now, row.bytes, quota);
          if (exceeded !== undefined) {
            return { ok: false, exceeded, heldFiles: now.files, heldBytes: now.bytes };
          }
          insert(row);
          return { ok: true, file: storedFileOf(row) };
        },
        { behavior: 'immediate' },
      ),
    get: async (tenantId, fileId) =>
      database
        .select(metadata)
        .from(files)
        .where(fileOfTenant(files, tenantId, fileId))
        .get(),
    list: async (tenantId, page) => {
      const { after } = page;
      const cursor = after === undefined ? undefined : pastCursor(tenantId, { ...page, after });
      if (after !== undefined && cursor === undefined) {
        return [];
      }
      const { where, orderBy } = filePageOf(files, tenantId, page, cursor);
      return database
        .select(metadata)
        .from(files)
        .where(where)
        .orderBy(...orderBy)
        .limit(page.limit)
        .all();
    },
    content: async (tenantId, fileId) =>
      database
        .select({ content: files.content })
        .from(files)
        .where(fileOfTenant(files, tenantId, fileId))
        .get()?.content ?? undefined,
    delete: async (tenantId, fileId) =>
      database
        .delete(files)
        .where(fileOfTenant(files, tenantId, fileId))
        .returning({ id: files.id })
        .all().length > 0,
    held: async (tenantId) => held(tenantId),
    bytesByTenant: async (createdBeforeMs) =>
      database
        .select({ tenantId: files.tenantId, bytes: sum(files.bytes) })
        .from(files)
        .where(lt(files.createdAtMs, createdBeforeMs))
        .groupBy(files.tenantId)
        .orderBy(asc(files.tenantId))
        .all()
        .map((row) => ({ tenantId: row.tenantId, bytes: Number(row.bytes ?? 0) })),
    deleteAllOfTenant: async (tenantId) =>
      database
        .delete(files)
        .where(eq(files.tenantId, tenantId))
        .returning({ id: files.id })
        .all()
        .map((row) => row.id),
  };
}
