/**
 * The FileStore port (src/db/file-store.ts) holds the same promises on every store:
 * one suite, run on SQLite and on PostgreSQL. Bytes come back exactly as stored (every byte value,
 * NUL included), every read is scoped by tenant, pages follow (created, id) in either order with
 * ties broken by id, the held files and bytes add up, and a quota holds even when uploads race.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FileInput, FileStore, StoredFile } from '../src/db/file-store.ts';
import { createSeededRandom } from '../src/platform/random.ts';
import { type OpenedStore, postgresStore, sqliteStore } from './support/store-under-test.ts';

const encode = (text: string) => new TextEncoder().encode(text);

describe.each([sqliteStore, postgresStore()])('the $name FileStore', (store) => {
  let opened: OpenedStore;
  let files: FileStore;

  const input = (overrides: Partial<FileInput> = {}): FileInput => ({
    tenantId: 'ten_a',
    filename: 'input.jsonl',
    purpose: 'batch',
    content: encode('{"custom_id":"1"}\n'),
    atMs: 1_000_000,
    ...overrides,
  });

  beforeAll(async () => {
    opened = await store.open();
    files = opened.files;
    for (const id of ['ten_a', 'ten_b']) {
      await opened.catalog.insertTenant({
        id,
        name: id,
        homeRegion: null,
        allowedRegions: null,
        allowMaxTokensClamp: false,
        allowKeyManagement: false,
        createdAtMs: 0,
      });
    }
  });

  afterAll(async () => {
    await opened?.close();
  });

  beforeEach(async () => {
    for (const tenantId of ['ten_a', 'ten_b']) {
      for (const file of await files.list(tenantId, { limit: 1000, order: 'asc' })) {
        await files.delete(tenantId, file.id);
      }
    }
  });

  it('stores a file and gives back its metadata and its exact bytes', async () => {
    // Every byte value, NUL and invalid UTF-8 included: the store keeps bytes, not text.
    const content = Uint8Array.from({ length: 512 * 1024 }, (_, index) => (index * 7) % 256);
    const stored = await files.create(input({ content, filename: '批次 input.jsonl', atMs: 42 }));

    expect(stored).toEqual({
      id: expect.stringMatching(/^file-[a-z0-9]{24}$/),
      tenantId: 'ten_a',
      filename: '批次 input.jsonl',
      purpose: 'batch',
      bytes: content.byteLength,
      createdAtMs: 42,
    });
    expect(await files.get('ten_a', stored.id)).toEqual(stored);
    const read = await files.content('ten_a', stored.id);
    expect(read && Buffer.from(read).equals(Buffer.from(content))).toBe(true);
  });

  it('answers another tenant as if the file did not exist', async () => {
    const stored = await files.create(input());

    expect(await files.get('ten_b', stored.id)).toBeUndefined();
    expect(await files.content('ten_b', stored.id)).toBeUndefined();
    expect(await files.list('ten_b', { limit: 10, order: 'desc' })).toEqual([]);
    expect(await files.delete('ten_b', stored.id)).toBe(false);
    expect(await files.bytesOfTenant('ten_b')).toBe(0);
    expect(await files.get('ten_a', stored.id)).toEqual(stored);
  });

  it('deletes once: true, then false, and the bytes are gone', async () => {
    const stored = await files.create(input());

    expect(await files.delete('ten_a', stored.id)).toBe(true);
    expect(await files.delete('ten_a', stored.id)).toBe(false);
    expect(await files.get('ten_a', stored.id)).toBeUndefined();
    expect(await files.content('ten_a', stored.id)).toBeUndefined();
  });

  it('pages by creation time then id, either way, with ties, cursors and a purpose', async () => {
    const random = createSeededRandom(7);
    const created: StoredFile[] = [];
    for (let index = 0; index < 12; index += 1) {
      // Four creation times, three files each: ties are broken by id.
      const atMs = 1_000 + Math.floor(random() * 4) * 10;
      const purpose = index % 3 === 0 ? 'batch_output' : 'batch';
      created.push(await files.create(input({ atMs, purpose, filename: `f${index}.jsonl` })));
    }
    await files.create(input({ tenantId: 'ten_b' }));
    const ascending = [...created].sort(
      (left, right) =>
        left.createdAtMs - right.createdAtMs ||
        (left.id < right.id ? -1 : left.id > right.id ? 1 : 0),
    );

    for (const order of ['asc', 'desc'] as const) {
      const expected = order === 'asc' ? ascending : [...ascending].reverse();
      expect(await files.list('ten_a', { limit: 100, order })).toEqual(expected);
      // Walked in pages of 5 with the last id as the cursor, every file comes once, in order.
      const walked: StoredFile[] = [];
      let after: string | undefined;
      for (let pages = 0; pages < 10; pages += 1) {
        const page = await files.list('ten_a', { limit: 5, order, ...(after ? { after } : {}) });
        walked.push(...page);
        after = page.at(-1)?.id;
        if (page.length < 5) {
          break;
        }
      }
      expect(walked).toEqual(expected);
    }
    expect(
      await files.list('ten_a', { limit: 100, order: 'asc', purpose: 'batch_output' }),
    ).toEqual(ascending.filter((file) => file.purpose === 'batch_output'));
    expect(await files.list('ten_a', { limit: 100, order: 'asc', after: 'file-unknown' })).toEqual(
      [],
    );
  });

  it('counts the files and bytes a tenant holds, of every purpose', async () => {
    expect(await files.countOfTenant('ten_a')).toBe(0);
    expect(await files.bytesOfTenant('ten_a')).toBe(0);
    await files.create(input({ content: encode('a'.repeat(100)) }));
    const output = await files.create(
      input({ content: encode('b'.repeat(50)), purpose: 'batch_output' }),
    );
    await files.create(input({ tenantId: 'ten_b', content: encode('c'.repeat(7)) }));

    expect(await files.countOfTenant('ten_a')).toBe(2);
    expect(await files.bytesOfTenant('ten_a')).toBe(150);
    await files.delete('ten_a', output.id);
    expect(await files.bytesOfTenant('ten_a')).toBe(100);
    expect(await files.bytesOfTenant('ten_b')).toBe(7);
  });

  it('stores within a quota up to its edge, and nothing past it', async () => {
    const quota = { filesMax: 3, bytesMax: 30 };
    const ten = encode('x'.repeat(10));
    expect((await files.createWithinQuota(input({ content: ten }), quota)).ok).toBe(true);
    expect((await files.createWithinQuota(input({ content: ten }), quota)).ok).toBe(true);

    const overBytes = await files.createWithinQuota(
      input({ content: encode('x'.repeat(11)) }),
      quota,
    );
    expect(overBytes).toEqual({ ok: false, exceeded: 'bytes', heldFiles: 2, heldBytes: 20 });
    const atEdge = await files.createWithinQuota(input({ content: ten }), quota);
    expect(atEdge.ok).toBe(true);
    const overFiles = await files.createWithinQuota(input({ content: encode('x') }), {
      filesMax: 3,
      bytesMax: 1000,
    });
    expect(overFiles).toEqual({ ok: false, exceeded: 'files', heldFiles: 3, heldBytes: 30 });

    expect(await files.countOfTenant('ten_a')).toBe(3);
    expect(await files.bytesOfTenant('ten_a')).toBe(30);
  });

  it('holds a quota when uploads of one tenant race', async () => {
    const outcomes = await Promise.all(
      Array.from({ length: 12 }, () =>
        files.createWithinQuota(input({ content: encode('y'.repeat(5)) }), {
          filesMax: 4,
          bytesMax: 1_000,
        }),
      ),
    );

    expect(outcomes.filter((outcome) => outcome.ok)).toHaveLength(4);
    expect(await files.countOfTenant('ten_a')).toBe(4);
  });

  it('refuses a file of a tenant that does not exist', async () => {
    await expect(files.create(input({ tenantId: 'ten_nobody' }))).rejects.toThrow();
  });
});
