/**
 * The FileStore over the embedded SQLite file: metadata and bytes in the `files` table (the bytes
 * as a blob). Listing never reads a blob. The quota check and the insert run in one IMMEDIATE
 * transaction, which holds the database's write lock, so no other connection or process can
 * store a file in between.
 */
import { and, asc, count, desc, eq, lt, sum } from 'drizzle-orm';
import { fileMetadataOf, fileOfTenant, filesPast } from '../../../db/file-queries.ts';
import {
  exceededOf,
  type FileInput,
  type FilePage,
  type FileStore,
  type QuotaOutcome,
  type StoredFile,
} from '../../../db/file-store.ts';
import { files } from '../../../db/schema.ts';
import { newOpenAIId } from '../../../platform/identifiers.ts';
import type { OpenedSqlite } from './sqlite-database.ts';

const metadata = fileMetadataOf(files);

export function createSqliteFileStore(opened: OpenedSqlite): FileStore {
  const { database } = opened;
  const held = (tenantId: string) => {
    const row = database
      .select({ files: count(), bytes: sum(files.bytes) })
      .from(files)
      .where(eq(files.tenantId, tenantId))
      .get();
    return { files: row?.files ?? 0, bytes: Number(row?.bytes ?? 0) };
  };
  const insert = ({ content, ...input }: FileInput): StoredFile => {
    const stored: StoredFile = {
      id: newOpenAIId('file-'),
      tenantId: input.tenantId,
      filename: input.filename,
      purpose: input.purpose,
      bytes: content.byteLength,
      createdAtMs: input.atMs,
    };
    database
      .insert(files)
      .values({ ...stored, content })
      .run();
    return stored;
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
    create: async (input) => insert(input),
    createWithinQuota: async (input, quota) =>
      opened.connection
        .transaction((): QuotaOutcome => {
          const now = held(input.tenantId);
          const exceeded = exceededOf(now, input.content.byteLength, quota);
          if (exceeded !== undefined) {
            return { ok: false, exceeded, heldFiles: now.files, heldBytes: now.bytes };
          }
          return { ok: true, file: insert(input) };
        })
        .immediate(),
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
      const direction = page.order === 'asc' ? asc : desc;
      return database
        .select(metadata)
        .from(files)
        .where(
          and(
            eq(files.tenantId, tenantId),
            page.purpose === undefined ? undefined : eq(files.purpose, page.purpose),
            cursor,
          ),
        )
        .orderBy(direction(files.createdAtMs), direction(files.id))
        .limit(page.limit)
        .all();
    },
    content: async (tenantId, fileId) =>
      database
        .select({ content: files.content })
        .from(files)
        .where(fileOfTenant(files, tenantId, fileId))
        .get()?.content,
    delete: async (tenantId, fileId) =>
      database
        .delete(files)
        .where(fileOfTenant(files, tenantId, fileId))
        .run().changes > 0,
    bytesOfTenant: async (tenantId) => held(tenantId).bytes,
    countOfTenant: async (tenantId) => held(tenantId).files,
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
      database.delete(files).where(eq(files.tenantId, tenantId)).run().changes,
  };
}
