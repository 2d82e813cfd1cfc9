/**
 * The FileStore over the embedded SQLite file: metadata and bytes in the `files` table (the bytes
 * as a blob), through the rows of db/sqlite-file-records.ts, which the Workers coordinator object
 * shares. Listing never reads a blob. The quota check and the insert run in one IMMEDIATE
 * transaction, which holds the database's write lock, so no other connection or process can
 * store a file in between.
 */
import type { FileInput, FileStore } from '../../../db/file-store.ts';
import {
  createSqliteFileRecords,
  type FileRow,
  newFileRow,
  storedFileOf,
} from '../../../db/sqlite-file-records.ts';
import { newOpenAIId } from '../../../platform/identifiers.ts';
import type { OpenedSqlite } from './sqlite-database.ts';

/** A new file's row, its bytes in the row. */
function rowOf(input: FileInput): FileRow {
  return newFileRow(input, newOpenAIId('file-'), input.content);
}

export function createSqliteFileStore(opened: OpenedSqlite): FileStore {
  const records = createSqliteFileRecords(opened.database);
  return {
    async create(input) {
      const row = rowOf(input);
      await records.insert(row);
      return storedFileOf(row);
    },
    createWithinQuota: (input, quota) => records.insertWithinQuota(rowOf(input), quota),
    get: (tenantId, fileId) => records.get(tenantId, fileId),
    list: (tenantId, page) => records.list(tenantId, page),
    content: (tenantId, fileId) => records.content(tenantId, fileId),
    delete: (tenantId, fileId) => records.delete(tenantId, fileId),
    bytesOfTenant: async (tenantId) => (await records.held(tenantId)).bytes,
    countOfTenant: async (tenantId) => (await records.held(tenantId)).files,
    bytesByTenant: (createdBeforeMs) => records.bytesByTenant(createdBeforeMs),
    deleteAllOfTenant: async (tenantId) => (await records.deleteAllOfTenant(tenantId)).length,
  };
}
