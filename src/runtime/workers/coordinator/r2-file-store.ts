/**
 * The FileStore on Workers: a file's bytes in the R2 bucket (wrangler.toml `FILES`), its metadata
 * row and the quota check in the coordinator object (db/sqlite-file-records.ts, the rows the Node
 * SQLite store keeps too, with `content` NULL), since a Durable Object's row holds ~2 MB at most.
 * The two are never one transaction, so the order is what keeps them consistent: the bytes are
 * written first under the new id and deleted again if the row is refused (quota) or fails, and a
 * delete removes the row before the bytes. No row ever points at missing bytes; what can be left
 * behind by a crash in between is bytes no row names, which nobody can read or is charged for.
 */
import type { FileInput, FileStore } from '../../../db/file-store.ts';
import {
  type FileRecords,
  type FileRow,
  newFileRow,
  storedFileOf,
} from '../../../db/sqlite-file-records.ts';
import { newOpenAIId } from '../../../platform/identifiers.ts';
import type { R2Bucket } from '../workers-types.ts';

/** Keys one R2 delete takes at most. */
const deleteKeysMax = 1_000;

function objectKeyOf(tenantId: string, fileId: string): string {
  return `files/${tenantId}/${fileId}`;
}

/** A new file's row, its bytes left to R2. */
function rowOf(input: FileInput): FileRow {
  return newFileRow(input, newOpenAIId('file-'), null);
}

export function createR2FileStore(bucket: R2Bucket, records: FileRecords): FileStore {
  /** Puts the bytes, then the row; the bytes go again unless the row was `stored`. */
  async function bytesThenRow<Outcome>(
    row: FileRow,
    content: Uint8Array,
    insert: () => Promise<Outcome>,
    stored: (outcome: Outcome) => boolean,
  ): Promise<Outcome> {
    const key = objectKeyOf(row.tenantId, row.id);
    await bucket.put(key, content);
    let outcome: Outcome;
    try {
      outcome = await insert();
    } catch (error) {
      await bucket.delete(key);
      throw error;
    }
    if (!stored(outcome)) {
      await bucket.delete(key);
    }
    return outcome;
  }

  return {
    async create(input) {
      const row = rowOf(input);
      await bytesThenRow(
        row,
        input.content,
        () => records.insert(row),
        () => true,
      );
      return storedFileOf(row);
    },
    createWithinQuota(input, quota) {
      const row = rowOf(input);
      return bytesThenRow(
        row,
        input.content,
        () => records.insertWithinQuota(row, quota),
        (outcome) => outcome.ok,
      );
    },
    get: (tenantId, fileId) => records.get(tenantId, fileId),
    list: (tenantId, page) => records.list(tenantId, page),
    async content(tenantId, fileId) {
      if (!(await records.get(tenantId, fileId))) {
        return undefined;
      }
      // A delete between the two reads leaves the row gone first: the file is just not found.
      const object = await bucket.get(objectKeyOf(tenantId, fileId));
      return object ? new Uint8Array(await object.arrayBuffer()) : undefined;
    },
    async delete(tenantId, fileId) {
      if (!(await records.delete(tenantId, fileId))) {
        return false;
      }
      await bucket.delete(objectKeyOf(tenantId, fileId));
      return true;
    },
    bytesOfTenant: async (tenantId) => (await records.held(tenantId)).bytes,
    countOfTenant: async (tenantId) => (await records.held(tenantId)).files,
    bytesByTenant: (createdBeforeMs) => records.bytesByTenant(createdBeforeMs),
    async deleteAllOfTenant(tenantId) {
      const ids = await records.deleteAllOfTenant(tenantId);
      for (let start = 0; start < ids.length; start += deleteKeysMax) {
        const keys = ids.slice(start, start + deleteKeysMax).map((id) => objectKeyOf(tenantId, id));
        await bucket.delete(keys);
      }
      return ids.length;
    },
  };
}
