import { describe, expect, it } from 'vitest';
import type { FileRecords, FileRow } from '../../../db/sqlite-file-records.ts';
import type { R2Bucket } from '../workers-types.ts';
import { createR2FileStore } from './r2-file-store.ts';

/** A bucket in memory that records what happened to it, in order. */
function memoryBucket(events: string[]) {
  const objects = new Map<string, Uint8Array>();
  const bucket: R2Bucket = {
    put: async (key, value) => {
      events.push(`put ${key}`);
      objects.set(key, value);
    },
    get: async (key) => {
      const value = objects.get(key);
      return value ? { arrayBuffer: async () => value.slice().buffer } : null;
    },
    delete: async (keys) => {
      for (const key of typeof keys === 'string' ? [keys] : keys) {
        events.push(`delete ${key}`);
        objects.delete(key);
      }
    },
  };
  return { bucket, objects };
}

/** Rows in memory, with a one-file quota; `failInsert` makes every insert throw. */
function memoryRecords(events: string[], options: { failInsert?: boolean } = {}): FileRecords {
  const rows = new Map<string, FileRow>();
  const insert = async (row: FileRow) => {
    if (options.failInsert) {
      throw new Error('the coordinator object is unreachable');
    }
    events.push(`row ${row.id}`);
    rows.set(row.id, row);
  };
  const ofTenant = (tenantId: string) =>
    [...rows.values()].filter((row) => row.tenantId === tenantId);
  const metadata = ({ content: _content, ...file }: FileRow) => file;
  return {
    insert,
    async insertWithinQuota(row, quota) {
      const held = ofTenant(row.tenantId);
      const heldBytes = held.reduce((total, file) => total + file.bytes, 0);
      if (held.length + 1 > quota.filesMax) {
        return { ok: false, exceeded: 'files', heldFiles: held.length, heldBytes };
      }
      await insert(row);
      return { ok: true, file: metadata(row) };
    },
    get: async (tenantId, fileId) => {
      const row = rows.get(fileId);
      return row?.tenantId === tenantId ? metadata(row) : undefined;
    },
    list: async (tenantId) => ofTenant(tenantId).map(metadata),
    content: async () => undefined,
    delete: async (tenantId, fileId) => {
      const found = rows.get(fileId)?.tenantId === tenantId;
      if (found) {
        events.push(`unrow ${fileId}`);
        rows.delete(fileId);
      }
      return found;
    },
    held: async (tenantId) => ({
      files: ofTenant(tenantId).length,
      bytes: ofTenant(tenantId).reduce((total, file) => total + file.bytes, 0),
    }),
    bytesByTenant: async () => [],
    deleteAllOfTenant: async (tenantId) => {
      const ids = ofTenant(tenantId).map((row) => row.id);
      for (const id of ids) {
        events.push(`unrow ${id}`);
        rows.delete(id);
      }
      return ids;
    },
  };
}

const input = (content: string) => ({
  tenantId: 'tenant-1',
  filename: 'input.jsonl',
  purpose: 'batch' as const,
  content: new TextEncoder().encode(content),
  atMs: 1_000,
});
const quota = { filesMax: 1, bytesMax: 1_000 };

describe('the Files API store over R2 and the catalog rows', () => {
  it('writes the bytes before the row, and reads them back by the row', async () => {
    const events: string[] = [];
    const { bucket } = memoryBucket(events);
    const store = createR2FileStore(bucket, memoryRecords(events));
    const outcome = await store.createWithinQuota(input('{"a":1}\n'), quota);
    if (!outcome.ok) {
      throw new Error('the first file was refused');
    }
    const key = `files/tenant-1/${outcome.file.id}`;
    expect(events).toEqual([`put ${key}`, `row ${outcome.file.id}`]);
    expect(outcome.file).toEqual({
      id: outcome.file.id,
      tenantId: 'tenant-1',
      filename: 'input.jsonl',
      purpose: 'batch',
      bytes: 8,
      createdAtMs: 1_000,
    });
    const content = await store.content('tenant-1', outcome.file.id);
    expect(new TextDecoder().decode(content)).toBe('{"a":1}\n');
    expect(await store.content('tenant-2', outcome.file.id)).toBeUndefined();
  });

  it('deletes the bytes again when the quota refuses the row', async () => {
    const events: string[] = [];
    const { bucket, objects } = memoryBucket(events);
    const store = createR2FileStore(bucket, memoryRecords(events));
    await store.createWithinQuota(input('first\n'), quota);
    const refused = await store.createWithinQuota(input('second\n'), quota);
    expect(refused).toEqual({ ok: false, exceeded: 'files', heldFiles: 1, heldBytes: 6 });
    expect(objects.size).toBe(1);
    const [put, deleted] = events.slice(2);
    expect(deleted).toBe(put?.replace('put', 'delete'));
  });

  it('deletes the bytes again when the row cannot be written', async () => {
    const events: string[] = [];
    const { bucket, objects } = memoryBucket(events);
    const store = createR2FileStore(bucket, memoryRecords(events, { failInsert: true }));
    await expect(store.create(input('lost\n'))).rejects.toThrow('unreachable');
    expect(objects.size).toBe(0);
  });

  it('removes the row before the bytes, and only a file of the tenant', async () => {
    const events: string[] = [];
    const { bucket, objects } = memoryBucket(events);
    const store = createR2FileStore(bucket, memoryRecords(events));
    const file = await store.create(input('kept\n'));
    expect(await store.delete('tenant-2', file.id)).toBe(false);
    expect(objects.size).toBe(1);
    expect(await store.delete('tenant-1', file.id)).toBe(true);
    expect(events.slice(-2)).toEqual([`unrow ${file.id}`, `delete files/tenant-1/${file.id}`]);
    expect(await store.delete('tenant-1', file.id)).toBe(false);
  });

  it('deletes every file of a tenant, rows first, then their bytes', async () => {
    const events: string[] = [];
    const { bucket, objects } = memoryBucket(events);
    const store = createR2FileStore(bucket, memoryRecords(events));
    await store.create(input('one\n'));
    await store.create(input('two\n'));
    expect(await store.deleteAllOfTenant('tenant-1')).toBe(2);
    expect(objects.size).toBe(0);
    expect(events.slice(-4).map((event) => event.split(' ')[0])).toEqual([
      'unrow',
      'unrow',
      'delete',
      'delete',
    ]);
  });
});
