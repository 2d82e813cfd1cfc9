/**
 * The FileStore over the shared PostgreSQL: metadata and bytes in the `files` table (the bytes
 * as bytea). Listing never reads the bytes. Replicas upload at once, so the quota check and the
 * insert run in one transaction under the tenant's advisory lock (fileQuotaLockNamespace): READ
 * COMMITTED alone would let two uploads each count the files without the other's.
 */
import { asc, count, eq, lt, sql, sum } from 'drizzle-orm';
import { fileMetadataOf, fileOfTenant, filePageOf, filesPast } from '../../../db/file-queries.ts';
import {
  exceededOf,
  type FileInput,
  type FilePage,
  type FileStore,
  type QuotaOutcome,
  type StoredFile,
} from '../../../db/file-store.ts';
import { files } from '../../../db/postgres-schema.ts';
import { newOpenAIId } from '../../../platform/identifiers.ts';
import { fileQuotaLockNamespace, type OpenedPostgres } from './postgres-database.ts';

/** The pool's database or one of its transactions. */
type Executor = Pick<OpenedPostgres['database'], 'select' | 'insert'>;

const metadata = fileMetadataOf(files);

async function held(executor: Executor, tenantId: string) {
  const [row] = await executor
    .select({ files: count(), bytes: sum(files.bytes) })
    .from(files)
    .where(eq(files.tenantId, tenantId));
  return { files: row?.files ?? 0, bytes: Number(row?.bytes ?? 0) };
}

async function insert(executor: Executor, { content, ...input }: FileInput): Promise<StoredFile> {
  const stored: StoredFile = {
    id: newOpenAIId('file-'),
    tenantId: input.tenantId,
    filename: input.filename,
    purpose: input.purpose,
    bytes: content.byteLength,
    createdAtMs: input.atMs,
  };
  await executor.insert(files).values({ ...stored, content });
  return stored;
}

/** Where a page starts: past its `after` file, or undefined when that is no file of theirs. */
async function pastCursor(
  executor: Executor,
  tenantId: string,
  page: FilePage & { after: string },
) {
  const [after] = await executor
    .select({ createdAtMs: files.createdAtMs, id: files.id })
    .from(files)
    .where(fileOfTenant(files, tenantId, page.after));
  return after && filesPast(files, after, page.order);
}

export function createPostgresFileStore(opened: OpenedPostgres): FileStore {
  const { database } = opened;
  return {
    create: (input) => insert(database, input),
    createWithinQuota: (input, quota) =>
      database.transaction(async (transaction): Promise<QuotaOutcome> => {
        await transaction.execute(
          sql`SELECT pg_advisory_xact_lock(${fileQuotaLockNamespace}, hashtext(${input.tenantId}))`,
        );
        const now = await held(transaction, input.tenantId);
        const exceeded = exceededOf(now, input.content.byteLength, quota);
        if (exceeded !== undefined) {
          return { ok: false, exceeded, heldFiles: now.files, heldBytes: now.bytes };
        }
        return { ok: true, file: await insert(transaction, input) };
      }),
    get: async (tenantId, fileId) => {
      const [row] = await database
        .select(metadata)
        .from(files)
        .where(fileOfTenant(files, tenantId, fileId));
      return row;
    },
    list: async (tenantId, page) => {
      const { after } = page;
      const cursor =
        after === undefined ? undefined : await pastCursor(database, tenantId, { ...page, after });
      if (after !== undefined && cursor === undefined) {
        return [];
      }
      const { where, orderBy } = filePageOf(files, tenantId, page, cursor);
      return database
        .select(metadata)
        .from(files)
        .where(where)
        .orderBy(...orderBy)
        .limit(page.limit);
    },
    content: async (tenantId, fileId) => {
      const [row] = await database
        .select({ content: files.content })
        .from(files)
        .where(fileOfTenant(files, tenantId, fileId));
      return row?.content ?? undefined;
    },
    delete: async (tenantId, fileId) => {
      const deleted = await database
        .delete(files)
        .where(fileOfTenant(files, tenantId, fileId))
        .returning({ id: files.id });
      return deleted.length > 0;
    },
    bytesOfTenant: async (tenantId) => (await held(database, tenantId)).bytes,
    countOfTenant: async (tenantId) => (await held(database, tenantId)).files,
    bytesByTenant: async (createdBeforeMs) =>
      (
        await database
          .select({ tenantId: files.tenantId, bytes: sum(files.bytes) })
          .from(files)
          .where(lt(files.createdAtMs, createdBeforeMs))
          .groupBy(files.tenantId)
          .orderBy(asc(files.tenantId))
      ).map((row) => ({ tenantId: row.tenantId, bytes: Number(row.bytes ?? 0) })),
    deleteAllOfTenant: async (tenantId) =>
      (await database.delete(files).where(eq(files.tenantId, tenantId)).returning({ id: files.id }))
        .length,
  };
}
