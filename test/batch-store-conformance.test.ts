/**
 * The BatchStore port (src/db/batch-store.ts) holds the same promises on every store: one suite,
 * run on SQLite and on PostgreSQL. A batch starts once, with its lines; a line is claimed by one
 * gateway only (even when several race for it) and ends once, moving its batch's counters in the
 * same step; the lines a stopped gateway left running are found, and nobody else's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BatchRecord, BatchStore, LineEnding, NewBatchLine } from '../src/db/batch-store.ts';
import { type OpenedStore, postgresStore, sqliteStore } from './support/store-under-test.ts';

let sequence = 0;

function newBatch(changes: Partial<BatchRecord> = {}): BatchRecord {
  sequence += 1;
  return {
    id: `batch_${String(sequence).padStart(4, '0')}`,
    tenantId: 'ten_a',
    keyId: 'key_a',
    endpoint: '/v1/chat/completions',
    inputFileId: 'file-input',
    completionWindow: '24h',
    status: 'validating',
    metadata: { project: '试点' },
    errors: null,
    outputFileId: null,
    errorFileId: null,
    requestTotal: 0,
    requestCompleted: 0,
    requestFailed: 0,
    inputTokens: 0,
    outputTokens: 0,
    cost: 0n,
    createdAtMs: 1_000 + sequence,
    expiresAtMs: 86_401_000 + sequence,
    inProgressAtMs: null,
    finalizingAtMs: null,
    completedAtMs: null,
    failedAtMs: null,
    expiredAtMs: null,
    cancellingAtMs: null,
    cancelledAtMs: null,
    ...changes,
  };
}

function lines(count: number): NewBatchLine[] {
  return Array.from({ length: count }, (_, index) => ({
    lineIndex: index + 1,
    customId: `line-${index + 1}`,
    model: 'm',
    body: { model: 'm', messages: [{ role: 'user', content: `q${index}` }] },
  }));
}

function succeeded(cost: bigint): LineEnding {
  return {
    status: 'succeeded',
    result: { response: { status_code: 200, request_id: 'r', body: { ok: true } }, error: null },
    inputTokens: 10,
    outputTokens: 20,
    cost,
  };
}

async function startedBatch(batches: BatchStore, count: number): Promise<BatchRecord> {
  const batch = newBatch();
  await batches.insertBatch(batch);
  expect(await batches.startBatch(batch.id, lines(count), 5_000)).toBe(true);
  return batch;
}

describe.each([sqliteStore, postgresStore()])('the $name BatchStore', (store) => {
  let opened: OpenedStore;
  let batches: BatchStore;

  beforeAll(async () => {
    opened = await store.open();
    batches = opened.batches;
  });

  afterAll(async () => {
    await opened?.close();
  });

  it('starts a batch once, with its lines, and reads it back whole', async () => {
    const batch = await startedBatch(batches, 3);
    expect(await batches.startBatch(batch.id, lines(3), 6_000)).toBe(false);
    const read = await batches.getBatch('ten_a', batch.id);
    expect(read).toEqual({
      ...batch,
      status: 'in_progress',
      inProgressAtMs: 5_000,
      requestTotal: 3,
    });
    expect(await batches.getBatch('ten_b', batch.id)).toBeUndefined();
    expect((await batches.pendingLines(batch.id, -1, 10)).map((line) => line.customId)).toEqual([
      'line-1',
      'line-2',
      'line-3',
    ]);
    expect((await batches.pendingLines(batch.id, 1, 1)).map((line) => line.lineIndex)).toEqual([2]);
  });

  it('lets one of several racing gateways claim a line, and ends it once', async () => {
    const batch = await startedBatch(batches, 1);
    const claims = await Promise.all(
      ['gw_1', 'gw_2', 'gw_3', 'gw_4'].map((instanceId) =>
        batches.claimLine(batch.id, 1, instanceId, 7_000),
      ),
    );
    expect(claims.filter(Boolean)).toHaveLength(1);
    expect(await batches.runningCount(batch.id)).toBe(1);
    const endings = await Promise.all([
      batches.endLine(batch.id, 1, succeeded(1_500n), 8_000),
      batches.endLine(batch.id, 1, succeeded(1_500n), 8_000),
    ]);
    expect(endings.filter(Boolean)).toHaveLength(1);
    const read = await batches.getBatch('ten_a', batch.id);
    expect(read).toMatchObject({
      requestCompleted: 1,
      requestFailed: 0,
      inputTokens: 10,
      outputTokens: 20,
      cost: 1_500n,
    });
    const [ended] = await batches.endedLines(batch.id, -1, 10);
    expect(ended).toMatchObject({ status: 'succeeded', cost: 1_500n, endedAtMs: 8_000 });
    expect(ended?.result).toEqual(succeeded(1_500n).result);
  });

  it('counts lines ending at once on the same batch, none lost', async () => {
    const batch = await startedBatch(batches, 20);
    for (let index = 1; index <= 20; index += 1) {
      expect(await batches.claimLine(batch.id, index, 'gw_1', 7_000)).toBe(true);
    }
    await Promise.all(
      Array.from({ length: 20 }, (_, index) =>
        batches.endLine(batch.id, index + 1, succeeded(1_000_000_000_000n), 8_000),
      ),
    );
    expect(await batches.getBatch('ten_a', batch.id)).toMatchObject({
      requestCompleted: 20,
      inputTokens: 200,
      cost: 20_000_000_000_000n,
    });
  });

  it('puts back a line that never held money, and fails the pending ones with one error', async () => {
    const batch = await startedBatch(batches, 4);
    expect(await batches.claimLine(batch.id, 1, 'gw_1', 7_000)).toBe(true);
    await batches.unclaimLine(batch.id, 1);
    expect(await batches.runningCount(batch.id)).toBe(0);
    expect(await batches.claimLine(batch.id, 2, 'gw_1', 7_000)).toBe(true);
    const cancelled = { response: null, error: { code: 'batch_cancelled', message: 'cancelled' } };
    expect(await batches.failPendingLines(batch.id, cancelled, 9_000)).toBe(3);
    expect(await batches.pendingLines(batch.id, -1, 10)).toEqual([]);
    expect(await batches.getBatch('ten_a', batch.id)).toMatchObject({ requestFailed: 3 });
    const ended = await batches.endedLines(batch.id, -1, 10);
    expect(ended.map((line) => [line.lineIndex, line.result?.error?.code])).toEqual([
      [1, 'batch_cancelled'],
      [3, 'batch_cancelled'],
      [4, 'batch_cancelled'],
    ]);
  });

  it('finds the lines a silent gateway left running, not a live one’s nor its own', async () => {
    const batch = await startedBatch(batches, 4);
    await opened.heartbeat('gw_dead', 1_000);
    await opened.heartbeat('gw_live', 50_000);
    await batches.claimLine(batch.id, 1, 'gw_dead', 2_000);
    await batches.claimLine(batch.id, 2, 'gw_live', 2_000);
    await batches.claimLine(batch.id, 3, 'gw_self', 2_000);
    await batches.claimLine(batch.id, 4, 'gw_never_beat', 2_000);
    const orphans = await batches.orphanedLines(batch.id, {
      instanceId: 'gw_self',
      ownerSilentBeforeMs: 40_000,
    });
    expect(orphans.map((line) => line.lineIndex)).toEqual([1, 4]);
  });

  it('moves a batch only from the statuses named, stamping the time', async () => {
    const batch = await startedBatch(batches, 1);
    expect(await batches.transition(batch.id, ['validating'], { to: 'failed', atMs: 1 })).toBe(
      false,
    );
    expect(
      await batches.transition(batch.id, ['in_progress'], {
        to: 'cancelling',
        atMs: 9_500,
      }),
    ).toBe(true);
    expect(
      await batches.transition(batch.id, ['cancelling'], {
        to: 'cancelled',
        atMs: 9_900,
        changes: { errorFileId: 'file-errors' },
      }),
    ).toBe(true);
    expect(await batches.getBatch('ten_a', batch.id)).toMatchObject({
      status: 'cancelled',
      cancellingAtMs: 9_500,
      cancelledAtMs: 9_900,
      errorFileId: 'file-errors',
    });
  });

  it('lists a tenant’s batches newest first, page by page, and counts the open ones', async () => {
    const own = await opened.batches.listBatches('ten_list', { limit: 10 });
    expect(own).toEqual([]);
    const made = [newBatch({ tenantId: 'ten_list' }), newBatch({ tenantId: 'ten_list' })];
    made.push(newBatch({ tenantId: 'ten_list', status: 'completed' }));
    for (const batch of made) {
      await batches.insertBatch(batch);
    }
    const first = await batches.listBatches('ten_list', { limit: 2 });
    expect(first.map((batch) => batch.id)).toEqual([made[2]?.id, made[1]?.id]);
    const second = await batches.listBatches('ten_list', { limit: 2, after: first[1]?.id });
    expect(second.map((batch) => batch.id)).toEqual([made[0]?.id]);
    expect(await batches.openBatchCount('ten_list')).toBe(2);
    const scheduled = await batches.batchesInStatus(['validating'], 100);
    expect(scheduled.map((batch) => batch.tenantId)).toContain('ten_list');
  });
});
