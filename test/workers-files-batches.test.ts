/**
 * The Files and Batch APIs on Cloudflare Workers, in real workerd (Miniflare over the bundle
 * wrangler builds), through the official `openai` SDK, with a simulator on loopback as the
 * backend: a file's bytes in the local R2 bucket and its row in the coordinator object; a batch run by
 * Cron Trigger invocations fired two at a time (the job lease lets one of them work), carried by
 * several of them (its lines are slow, each invocation short), each line billed once and the
 * ledger check clean; a line a vanished runner left running; a quota refusal answered as the Node
 * gateway answers it, leaving no object and no row behind; and storage ticks charged once each
 * however often the cron fires.
 */
import OpenAI, { toFile } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storageLine } from '../src/billing/storage-operation.ts';
import {
  createTenantWithKey,
  expectOk,
  type HttpCaller,
  httpCaller,
  topUp,
} from './support/demo-pool.ts';
import { fastSimulatorForFile } from './support/fast-simulator.ts';
import {
  inProcessOpenAI,
  startInProcessGateway,
  testAdminToken,
} from './support/in-process-gateway.ts';
import { micro } from './support/money-reading.ts';
import { gatewayClient, sdkFailure, uploadingClient } from './support/openai-client.ts';
import { pollUntil } from './support/poll-until.ts';
import { firstTenant, type SeededTenant, seedPool } from './support/seeded-pool.ts';
import { tenantReader } from './support/tenant-money.ts';
import {
  startWorkersRuntime,
  suiteVariables,
  type WorkersRuntime,
} from './support/workers-runtime.ts';

const chatModel = 'sim-chat';
const adminToken = `tba-${'f'.repeat(32)}`;
const storageTickS = 2;
/** Small enough that a second 10 kB file passes them. */
const fileLimits = { fileBytesPerTenantMax: 16 * 1024, fileUploadBytesMax: 12 * 1024 };
/**
 * A line takes two seconds (8 tokens at 4 a second) and an invocation sends lines for one, one at
 * a time: a batch of n lines needs n invocations at least, each with a scheduler of its own.
 */
const lineTokens = 8;
const batchLimits = {
  workersCronPassMs: 1_000,
  batchLinesInFlightMax: 1,
  firstTokenTimeoutMinMs: 20_000,
};

const simulator = fastSimulatorForFile({
  models: [chatModel],
  region: 'east',
  decodeTokensPerSecond: 4,
});
let runtime: WorkersRuntime;
let call: HttpCaller;
let tenant: SeededTenant;

beforeAll(async () => {
  runtime = await startWorkersRuntime({
    ...suiteVariables(adminToken),
    TOKENBANK_STORAGE_TICK_S: String(storageTickS),
    TOKENBANK_LIMITS: JSON.stringify({ ...fileLimits, ...batchLimits }),
  });
  call = httpCaller(runtime.url);
  const seeded = await seedPool(call, adminToken, {
    backends: [{ url: simulator().url, region: 'east', models: [chatModel] }],
    tenants: [{ tenant: { name: 'batcher' }, topUp: '100' }],
  });
  tenant = firstTenant(seeded);
}, 120_000);

afterAll(async () => {
  await runtime?.close();
});

function clientOptions(apiKey: string) {
  return { baseURL: `${runtime.url}/v1`, apiKey, timeoutMs: 30_000 };
}

/** Uploads take Node's own fetch (openai-client.ts says why). */
async function upload(apiKey: string, content: string | Uint8Array, filename = 'input.jsonl') {
  return uploadingClient(clientOptions(apiKey)).files.create({
    file: await toFile(Buffer.from(content), filename),
    purpose: 'batch',
  });
}

function chatLines(customIds: readonly string[]): string {
  const lines = customIds.map((customId) =>
    JSON.stringify({
      custom_id: customId,
      method: 'POST',
      url: '/v1/chat/completions',
      body: {
        model: chatModel,
        messages: [{ role: 'user', content: `Question ${customId}` }],
        max_tokens: lineTokens,
      },
    }),
  );
  return `${lines.join('\n')}\n`;
}

/** Two Cron Trigger invocations at once, as overlapping cron runs would be. */
async function cronTwice(): Promise<void> {
  await Promise.all([runtime.scheduled(), runtime.scheduled()]);
}

/** The rows of the tenant's files in the coordinator object. */
async function heldRows(tenantId: string) {
  return runtime.callCoordinator('files', 'held', [tenantId]);
}

async function ledgerCheck() {
  return expectOk(call, 'GET', '/admin/v1/ledger/check', adminToken);
}

describe('the Files API on Workers', () => {
  it('keeps the bytes in R2 and serves upload, retrieve, list, content and delete', async () => {
    const client = gatewayClient(clientOptions(tenant.apiKey));
    const jsonl = chatLines(['x', 'y']);
    const created = await upload(tenant.apiKey, jsonl, 'lines 批次.jsonl');
    expect(created).toMatchObject({
      id: expect.stringMatching(/^file-[a-z0-9]{24}$/),
      object: 'file',
      bytes: Buffer.byteLength(jsonl),
      filename: 'lines 批次.jsonl',
      purpose: 'batch',
    });
    expect(await runtime.fileObjectKeys()).toContain(`files/${tenant.tenantId}/${created.id}`);
    expect(await client.files.retrieve(created.id)).toEqual(created);
    const listed = [];
    for await (const file of client.files.list()) {
      listed.push(file.id);
    }
    expect(listed).toContain(created.id);
    expect(await (await client.files.content(created.id)).text()).toBe(jsonl);

    expect(await client.files.delete(created.id)).toMatchObject({ id: created.id, deleted: true });
    expect(await runtime.fileObjectKeys()).not.toContain(`files/${tenant.tenantId}/${created.id}`);
    const gone = await sdkFailure(client.files.content(created.id));
    expect(gone.status).toBe(404);
    expect(gone.code).toBe('file_not_found');
  });

  it('refuses an upload past the quota as the Node gateway does, leaving no object or row', async () => {
    const { apiKey, tenantId } = await createTenantWithKey(call, adminToken, { name: 'quota' });
    const ten = new Uint8Array(10 * 1024).fill(0x61);
    await upload(apiKey, ten, 'first.jsonl');
    const keysBefore = await runtime.fileObjectKeys();
    const rowsBefore = await heldRows(tenantId);
    expect(rowsBefore).toEqual({ files: 1, bytes: ten.byteLength });

    const refused = await sdkFailure(upload(apiKey, ten, 'second.jsonl'));
    expect(await runtime.fileObjectKeys()).toEqual(keysBefore);
    expect(await heldRows(tenantId)).toEqual(rowsBefore);

    // The same uploads against the Node gateway, with the same limit.
    const node = await startInProcessGateway({ config: { limits: fileLimits } });
    try {
      const nodeTenant = await createTenantWithKey(
        async (method, path, _token, body) => {
          const response = await node.admin(method, path, body);
          return {
            status: response.status,
            body: (await response.json()) as Record<string, unknown>,
          };
        },
        testAdminToken,
        { name: 'quota' },
      );
      const nodeClient = inProcessOpenAI(node, nodeTenant.apiKey);
      const nodeUpload = async (name: string) =>
        nodeClient.files.create({ file: await toFile(Buffer.from(ten), name), purpose: 'batch' });
      await nodeUpload('first.jsonl');
      const nodeRefused = await sdkFailure(nodeUpload('second.jsonl'));
      expect(refused).toBeInstanceOf(OpenAI.BadRequestError);
      expect({ status: refused.status, error: refused.error }).toEqual({
        status: nodeRefused.status,
        error: nodeRefused.error,
      });
      expect(refused.code).toBe('file_storage_limit_exceeded');
    } finally {
      await node.close();
    }
  });
});

describe('the Batch API on Workers', () => {
  it('runs a batch across Cron Trigger invocations, each line billed once', async () => {
    const client = gatewayClient(clientOptions(tenant.apiKey));
    const reader = tenantReader(() => call, adminToken, tenant.tenantId);
    const balanceBefore = micro((await reader.view()).balance);
    const input = await upload(tenant.apiKey, chatLines(['a', 'b', 'c']));
    const created = await client.batches.create({
      input_file_id: input.id,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
    });
    expect(created.status).toBe('validating');

    let invocations = 0;
    const ended = await pollUntil(
      async () => {
        await cronTwice();
        invocations += 1;
        const batch = await client.batches.retrieve(created.id);
        return ['completed', 'failed', 'expired', 'cancelled'].includes(batch.status)
          ? batch
          : undefined;
      },
      'the batch to end',
      60_000,
    );
    expect(ended.status).toBe('completed');
    // One line per invocation at most: the batch's state was carried from one to the next.
    expect(invocations).toBeGreaterThanOrEqual(3);
    expect(ended.request_counts).toEqual({ total: 3, completed: 3, failed: 0 });
    expect(ended.error_file_id).toBeNull();
    const listed = [];
    for await (const batch of client.batches.list()) {
      listed.push(batch.id);
    }
    expect(listed).toContain(created.id);

    const outputText = await (await client.files.content(String(ended.output_file_id))).text();
    const output = outputText
      .split('\n')
      .filter((line) => line !== '')
      .map(
        (line) =>
          JSON.parse(line) as {
            custom_id: string;
            response: { status_code: number; request_id: string };
            error: null;
          },
      );
    expect(output.map((line) => line.custom_id)).toEqual(['a', 'b', 'c']);
    for (const line of output) {
      expect(line.error).toBeNull();
      expect(line.response.status_code).toBe(200);
      expect(line.response.request_id).toBe(`${created.id}:${line.custom_id}`);
    }

    // Each line reserved and settled once: one usage record per line, and the money they say.
    const usage = [...(await reader.usageById()).values()].filter((record) =>
      record.request_id.startsWith(`${created.id}:`),
    );
    expect(usage.map((record) => record.request_id).sort()).toEqual(
      ['a', 'b', 'c'].map((customId) => `${created.id}:${customId}`),
    );
    const billed = usage.reduce((total, record) => total + micro(record.cost), 0n);
    expect(billed).toBeGreaterThan(0n);
    expect(micro((ended as unknown as { cost: string }).cost)).toBe(billed);
    const after = await reader.settled();
    expect(balanceBefore - micro(after.balance)).toBe(billed);
    expect(await ledgerCheck()).toMatchObject({ ok: true, problems: [] });
  });
});

describe('a batch line an ended invocation left running', () => {
  it('is ended as interrupted by the next holder, and the rest of the batch runs', async () => {
    const client = gatewayClient(clientOptions(tenant.apiKey));
    const input = await upload(tenant.apiKey, chatLines(['cut', 'whole']));
    const created = await client.batches.create({
      input_file_id: input.id,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
    });
    const batches = (method: string, parameters: readonly unknown[]) =>
      runtime.callCoordinator('batches', method, parameters);
    // As an invocation would have left it: started, one line claimed by a runner now gone.
    const lines = ['cut', 'whole'].map((customId, index) => ({
      lineIndex: index + 1,
      customId,
      model: chatModel,
      body: {
        model: chatModel,
        messages: [{ role: 'user', content: customId }],
        max_tokens: lineTokens,
      },
    }));
    expect(await batches('startBatch', [created.id, lines, Date.now()])).toBe(true);
    expect(await batches('claimLine', [created.id, 1, 'gw_stopped', Date.now()])).toBe(true);

    const ended = await pollUntil(
      async () => {
        await cronTwice();
        const batch = await client.batches.retrieve(created.id);
        return batch.status === 'completed' ? batch : undefined;
      },
      'the batch to complete',
      60_000,
    );
    expect(ended.request_counts).toEqual({ total: 2, completed: 1, failed: 1 });
    const errors = await (await client.files.content(String(ended.error_file_id))).text();
    expect(JSON.parse(errors)).toMatchObject({
      custom_id: 'cut',
      error: { code: 'batch_line_interrupted' },
    });
    const output = await (await client.files.content(String(ended.output_file_id))).text();
    expect(JSON.parse(output)).toMatchObject({ custom_id: 'whole', error: null });
    expect(await ledgerCheck()).toMatchObject({ ok: true, problems: [] });
  });
});

describe('the job lease of the Cron Trigger', () => {
  it('goes to one holder at a time, renews for it, and passes on once lapsed or given', async () => {
    const lease = (method: 'take' | 'give', parameters: readonly unknown[]) =>
      runtime.callCoordinator('jobLeases', method, ['probe', ...parameters]);
    expect(await lease('take', ['first', 1_000, 2_000])).toBe(true);
    expect(await lease('take', ['second', 1_500, 2_500])).toBe(false);
    expect(await lease('take', ['first', 1_500, 3_000])).toBe(true);
    expect(await lease('take', ['second', 2_999, 4_000])).toBe(false);
    expect(await lease('take', ['second', 3_000, 4_000])).toBe(true);
    await lease('give', ['first']);
    expect(await lease('take', ['first', 3_500, 5_000])).toBe(false);
    await lease('give', ['second']);
    expect(await lease('take', ['first', 3_500, 5_000])).toBe(true);
  });
});

describe('storage ticks on Workers', () => {
  it('charges the bytes held once per tick, however often the cron fires', async () => {
    const { apiKey, tenantId } = await createTenantWithKey(call, adminToken, { name: 'keeper' });
    await topUp(call, adminToken, tenantId, '10');
    const held = await upload(apiKey, new Uint8Array(1_000).fill(0x62), 'held.jsonl');
    await expectOk(call, 'PUT', '/admin/v1/meters/storage', adminToken, {
      storage_gb_hour: '3600',
    });
    type Entry = { transaction_id: string; kind: string; amount: string; created_at: string };
    const storageEntries = async () =>
      (
        (await expectOk(call, 'GET', `/admin/v1/tenants/${tenantId}/ledger`, adminToken))
          .data as Entry[]
      ).filter((entry) => entry.kind === 'storage');
    const charges = await pollUntil(
      async () => {
        await cronTwice();
        await runtime.scheduled();
        const entries = await storageEntries();
        return new Set(entries.map((entry) => entry.transaction_id)).size >= 2
          ? entries
          : undefined;
      },
      'two storage ticks charged',
      30_000,
    );

    const tickMs = storageTickS * 1_000;
    const expected = storageLine({
      tenantId,
      tickStartMs: 0,
      tickMs,
      bytes: held.bytes,
      pricePerGbHourMicro: micro('3600'),
      region: '',
      atMs: 0,
    }).costMicro;
    const byTransaction = new Map<string, Entry[]>();
    for (const entry of charges) {
      byTransaction.set(entry.transaction_id, [
        ...(byTransaction.get(entry.transaction_id) ?? []),
        entry,
      ]);
    }
    // A tick is the one that ended before its charge: no tick is charged twice.
    const ticks = [...byTransaction.values()].map((entries) => {
      const atMs = Date.parse(String(entries[0]?.created_at));
      return Math.floor(atMs / tickMs) * tickMs - tickMs;
    });
    expect(new Set(ticks).size).toBe(byTransaction.size);
    for (const entries of byTransaction.values()) {
      expect(entries.reduce((total, entry) => total + micro(entry.amount), 0n)).toBe(expected);
    }
    // A coupon found by id among the tenants' objects: a compute voucher, which storage never uses.
    const coupon = await expectOk(
      call,
      'POST',
      `/admin/v1/tenants/${tenantId}/coupons`,
      adminToken,
      {
        kind: 'compute',
        amount: '1.00',
        program: 'workers',
        reference: `compute-${tenantId}`,
      },
    );
    const voided = await expectOk(
      call,
      'DELETE',
      `/admin/v1/coupons/${String(coupon.id)}`,
      adminToken,
    );
    expect(voided).toMatchObject({ id: coupon.id, remaining: '0.00' });
    expect(await ledgerCheck()).toMatchObject({ ok: true, problems: [] });
  });
});
