/**
 * The Files and Batch APIs through the official OpenAI SDK, and the cross-cycle scheduler that
 * runs them: the real app and SQLite store in-process with a clock the test moves and scheduler
 * passes the test calls, against a real (fast) simulator. Off-peak windows that cover now, open
 * later or open too late; cancel mid-batch; a tenant running out of money; malformed files.
 */
import type OpenAI from 'openai';
import { toFile } from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import type { ConfigInput } from '../src/config.ts';
import { type BatchScheduler, createBatchScheduler } from '../src/gateway/batch/batch-scheduler.ts';
import {
  createTenantWithKey,
  expectOk,
  type HttpCaller,
  priceModels,
  registerProvider,
  topUp,
} from './support/demo-pool.ts';
import { fastSimulatorForFile } from './support/fast-simulator.ts';
import {
  type InProcessGateway,
  inProcessCaller,
  inProcessOpenAI,
  startInProcessGateway,
  testAdminToken,
} from './support/in-process-gateway.ts';
import { micro } from './support/money-reading.ts';
import { tenantReader } from './support/tenant-money.ts';

const chatModel = 'batch-chat';
const embedModel = 'batch-embed';
const hourMs = 3_600_000;
const simulator = fastSimulatorForFile({ models: [chatModel, embedModel] });

type World = {
  gateway: InProcessGateway;
  call: HttpCaller;
  scheduler: BatchScheduler;
  client: OpenAI;
  tenantId: string;
};

const worlds: World[] = [];

afterEach(async () => {
  for (const world of worlds.splice(0)) {
    world.scheduler.stop();
    await world.scheduler.idle();
    await world.gateway.close();
  }
});

/** Off-peak terms in UTC, so the test reads its own times plainly. */
function offpeak(startHour: number, endHour: number) {
  const clock = (hour: number) => `${String(hour % 24).padStart(2, '0')}:00`;
  return { start: clock(startHour), end: clock(endHour), timezone: 'UTC', multiplier_bps: 5_000 };
}

async function startWorld(
  options: { config?: ConfigInput; offpeak?: ReturnType<typeof offpeak>; topUp?: string } = {},
): Promise<World> {
  const gateway = await startInProcessGateway({
    config: { allowPrivateBackends: true, ...options.config },
  });
  const call = inProcessCaller(gateway);
  await registerProvider(call, testAdminToken, [
    { url: simulator().url, region: 'east', models: [chatModel, embedModel] },
  ]);
  await priceModels(call, testAdminToken, [embedModel]);
  await expectOk(call, 'PUT', `/admin/v1/prices/${chatModel}`, testAdminToken, {
    input: '1.00',
    output: '2.00',
    ...(options.offpeak === undefined ? {} : { offpeak: options.offpeak }),
  });
  const tenant = await createTenantWithKey(call, testAdminToken, { name: 'sme' });
  await topUp(call, testAdminToken, tenant.tenantId, options.topUp ?? '100');
  const current: World = {
    gateway,
    call,
    scheduler: createBatchScheduler(gateway.deps),
    client: inProcessOpenAI(gateway, tenant.apiKey),
    tenantId: tenant.tenantId,
  };
  worlds.push(current);
  return current;
}

function chatLine(customId: string, content = `Question ${customId}`) {
  return {
    custom_id: customId,
    method: 'POST',
    url: '/v1/chat/completions',
    body: { model: chatModel, messages: [{ role: 'user', content }], max_tokens: 16 },
  };
}

function jsonl(lines: readonly unknown[]): string {
  return `${lines.map((line) => (typeof line === 'string' ? line : JSON.stringify(line))).join('\n')}\n`;
}

async function submit(
  current: World,
  lines: readonly unknown[],
  endpoint: '/v1/chat/completions' | '/v1/embeddings' | '/v1/responses' = '/v1/chat/completions',
) {
  const file = await current.client.files.create({
    file: await toFile(Buffer.from(jsonl(lines)), 'input.jsonl'),
    purpose: 'batch',
  });
  return current.client.batches.create({
    input_file_id: file.id,
    endpoint,
    completion_window: '24h',
  });
}

/** Scheduler passes until the batch ends, each followed by its lines; bounded. */
async function runToEnd(current: World, batchId: string) {
  for (let pass = 0; pass < 20; pass += 1) {
    await current.scheduler.tick();
    await current.scheduler.idle();
    const batch = await current.client.batches.retrieve(batchId);
    if (['completed', 'failed', 'expired', 'cancelled'].includes(batch.status)) {
      return batch;
    }
  }
  throw new Error(`batch ${batchId} did not end in 20 passes`);
}

type FileLine = {
  id: string;
  custom_id: string;
  response: { status_code: number; request_id: string; body: Record<string, unknown> } | null;
  error: { code: string; message: string } | null;
};

async function fileLines(current: World, fileId: string | null | undefined): Promise<FileLine[]> {
  if (fileId === null || fileId === undefined) {
    return [];
  }
  const text = await (await current.client.files.content(fileId)).text();
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as FileLine);
}

async function batchUsage(current: World, batchId: string) {
  const usage = await tenantReader(
    () => current.call,
    testAdminToken,
    current.tenantId,
  ).usageById();
  return [...usage.values()].filter((record) => record.request_id.startsWith(`${batchId}:`));
}

describe('batches of chat and embeddings lines', () => {
  it('runs every line once, writes OpenAI output lines and bills each like a request', async () => {
    const current = await startWorld();
    const created = await submit(current, [chatLine('a'), chatLine('b'), chatLine('c')]);
    expect(created.status).toBe('validating');
    const batch = await runToEnd(current, created.id);
    expect(batch.status).toBe('completed');
    expect(batch.request_counts).toEqual({ total: 3, completed: 3, failed: 0 });
    const output = await fileLines(current, batch.output_file_id);
    expect(output.map((line) => line.custom_id)).toEqual(['a', 'b', 'c']);
    for (const line of output) {
      expect(line.error).toBeNull();
      expect(line.response?.status_code).toBe(200);
      expect(line.response?.request_id).toBe(`${batch.id}:${line.custom_id}`);
      expect(line.response?.body.object).toBe('chat.completion');
    }
    expect(batch.error_file_id).toBeNull();
    const usage = await batchUsage(current, batch.id);
    expect(usage).toHaveLength(3);
    const billed = usage.reduce((total, record) => total + micro(record.cost), 0n);
    const shown = batch as unknown as { cost: string; usage: { output_tokens: number } };
    expect(micro(shown.cost)).toBe(billed);
    expect(shown.usage.output_tokens).toBe(
      usage.reduce((total, record) => total + (record.output_tokens ?? 0), 0),
    );
    for (const record of usage) {
      expect((record as unknown as { batch_id: string }).batch_id).toBe(batch.id);
    }
    const money = await tenantReader(() => current.call, testAdminToken, current.tenantId).view();
    expect(money.holds).toBe('0.00');
  });

  it('runs an embeddings batch', async () => {
    const current = await startWorld();
    const created = await submit(
      current,
      ['x', 'y'].map((customId) => ({
        custom_id: customId,
        method: 'POST',
        url: '/v1/embeddings',
        body: { model: embedModel, input: `text ${customId}` },
      })),
      '/v1/embeddings',
    );
    const batch = await runToEnd(current, created.id);
    expect(batch.request_counts).toEqual({ total: 2, completed: 2, failed: 0 });
    const output = await fileLines(current, batch.output_file_id);
    expect(output.map((line) => line.response?.body.object)).toEqual(['list', 'list']);
  });

  it('runs a Responses batch: each line answered as POST /v1/responses answers', async () => {
    const current = await startWorld();
    const created = await submit(
      current,
      ['r1', 'r2'].map((customId) => ({
        custom_id: customId,
        method: 'POST',
        url: '/v1/responses',
        body: { model: chatModel, input: `Question ${customId}`, max_output_tokens: 16 },
      })),
      '/v1/responses',
    );
    const batch = await runToEnd(current, created.id);
    expect(batch.request_counts).toEqual({ total: 2, completed: 2, failed: 0 });
    const output = await fileLines(current, batch.output_file_id);
    for (const line of output) {
      expect(line.response?.body.object).toBe('response');
      const usage = line.response?.body.usage as { output_tokens: number } | undefined;
      expect(usage?.output_tokens).toBeGreaterThan(0);
    }
    expect(await batchUsage(current, batch.id)).toHaveLength(2);
  });

  it('lists, gets and refuses another tenant', async () => {
    const current = await startWorld();
    const created = await submit(current, [chatLine('only')]);
    const listed = await current.client.batches.list();
    expect(listed.data.map((batch) => batch.id)).toEqual([created.id]);
    const other = await createTenantWithKey(current.call, testAdminToken, { name: 'other' });
    const stranger = inProcessOpenAI(current.gateway, other.apiKey);
    await expect(stranger.batches.retrieve(created.id)).rejects.toMatchObject({ status: 404 });
    await expect(stranger.batches.cancel(created.id)).rejects.toMatchObject({ status: 404 });
    expect((await stranger.batches.list()).data).toEqual([]);
  });
});

describe('cross-cycle: off-peak windows and the deadline', () => {
  it('runs at once at the off-peak price inside a window that covers now', async () => {
    // The in-process clock starts at 09:00 UTC.
    const current = await startWorld({ offpeak: offpeak(8, 10) });
    const batch = await runToEnd(current, (await submit(current, [chatLine('cheap')])).id);
    const [record] = await batchUsage(current, batch.id);
    // The same request sent interactively once the window has closed pays the list price.
    current.gateway.clock.advanceMs(2 * hourMs);
    const interactive = await current.client.chat.completions
      .create({
        model: chatModel,
        messages: [{ role: 'user', content: 'Question cheap' }],
        max_tokens: 16,
      })
      .withResponse();
    const listCost = micro(interactive.response.headers.get('x-tokenbank-cost') ?? '');
    expect(record?.output_tokens).toBe(interactive.data.usage?.completion_tokens);
    expect(micro(record?.cost ?? '')).toBeLessThan(listCost);
  });

  it('waits for a window that opens before the deadline, then runs in it', async () => {
    const current = await startWorld({ offpeak: offpeak(11, 13) });
    const created = await submit(current, [chatLine('later-1'), chatLine('later-2')]);
    await current.scheduler.tick();
    await current.scheduler.tick();
    await current.scheduler.idle();
    const waiting = await current.client.batches.retrieve(created.id);
    expect(waiting.status).toBe('in_progress');
    expect(waiting.request_counts).toEqual({ total: 2, completed: 0, failed: 0 });
    current.gateway.clock.advanceMs(2 * hourMs);
    const batch = await runToEnd(current, created.id);
    expect(batch.request_counts?.completed).toBe(2);
    const inWindow = await batchUsage(current, batch.id);
    const atListPrice = await startWorld({});
    const listBatch = await runToEnd(
      atListPrice,
      (await submit(atListPrice, [chatLine('later-1')])).id,
    );
    const [listRecord] = await batchUsage(atListPrice, listBatch.id);
    expect(micro(inWindow[0]?.cost ?? '')).toBeLessThan(micro(listRecord?.cost ?? ''));
  });

  it('runs at once at the normal price when the window opens too late for the deadline', async () => {
    // Opens at 08:30 UTC tomorrow: 23.5 h away, past the deadline less its hour of runway.
    const current = await startWorld({
      offpeak: { start: '08:30', end: '08:45', timezone: 'UTC', multiplier_bps: 5_000 },
    });
    const created = await submit(current, [chatLine('now')]);
    await current.scheduler.tick();
    await current.scheduler.tick();
    await current.scheduler.idle();
    const batch = await current.client.batches.retrieve(created.id);
    expect(batch.request_counts?.completed).toBe(1);
  });

  it('expires at its deadline: lines that could not run end batch_expired, uncharged', async () => {
    const current = await startWorld({ offpeak: offpeak(11, 13) });
    const created = await submit(current, [chatLine('late-1'), chatLine('late-2')]);
    await current.scheduler.tick();
    current.gateway.clock.advanceMs(25 * hourMs);
    const batch = await runToEnd(current, created.id);
    expect(batch.status).toBe('expired');
    expect(batch.request_counts).toEqual({ total: 2, completed: 0, failed: 2 });
    const errors = await fileLines(current, batch.error_file_id);
    expect(errors.map((line) => line.error?.code)).toEqual(['batch_expired', 'batch_expired']);
    expect(await batchUsage(current, batch.id)).toEqual([]);
  });
});

describe('cancel, money and malformed files', () => {
  it('cancels mid-batch: lines running end, the rest are never reserved', async () => {
    const current = await startWorld({ config: { limits: { batchLinesInFlightMax: 2 } } });
    const lines = Array.from({ length: 10 }, (_, index) => chatLine(`c${index}`));
    const created = await submit(current, lines);
    await current.scheduler.tick();
    await current.scheduler.tick();
    const cancelling = await current.client.batches.cancel(created.id);
    expect(cancelling.status).toBe('cancelling');
    const batch = await runToEnd(current, created.id);
    expect(batch.status).toBe('cancelled');
    const counts = batch.request_counts ?? { total: 0, completed: 0, failed: 0 };
    expect(counts.total).toBe(10);
    expect(counts.completed + counts.failed).toBe(10);
    expect(counts.completed).toBeGreaterThan(0);
    expect(counts.completed).toBeLessThan(10);
    const errors = await fileLines(current, batch.error_file_id);
    expect(errors).toHaveLength(counts.failed);
    expect(new Set(errors.map((line) => line.error?.code))).toEqual(new Set(['batch_cancelled']));
    expect(await batchUsage(current, batch.id)).toHaveLength(counts.completed);
    const money = await tenantReader(() => current.call, testAdminToken, current.tenantId).view();
    expect(money.holds).toBe('0.00');
  });

  it('stops taking lines when the tenant runs out of money: the rest end insufficient_quota', async () => {
    const current = await startWorld({
      topUp: '0.0002',
      config: { limits: { batchLinesInFlightMax: 1 } },
    });
    const lines = Array.from({ length: 8 }, (_, index) => chatLine(`q${index}`));
    const batch = await runToEnd(current, (await submit(current, lines)).id);
    expect(batch.status).toBe('completed');
    const counts = batch.request_counts ?? { total: 0, completed: 0, failed: 0 };
    expect(counts.completed).toBeGreaterThan(0);
    expect(counts.failed).toBeGreaterThan(0);
    const errors = await fileLines(current, batch.error_file_id);
    for (const line of errors) {
      const code = line.error?.code ?? (line.response?.body.error as { code?: string })?.code;
      expect(code).toBe('insufficient_quota');
    }
    const money = await tenantReader(() => current.call, testAdminToken, current.tenantId).view();
    expect(micro(money.balance)).toBeGreaterThanOrEqual(0n);
    expect(money.holds).toBe('0.00');
  });

  it.each([
    ['a line that is not JSON', ['{"custom_id": "a", "method": "POST"'], 'invalid_json_line'],
    [
      'a url that is not the endpoint',
      [{ ...chatLine('a'), url: '/v1/embeddings' }],
      'mismatched_url',
    ],
    ['a custom_id used twice', [chatLine('same'), chatLine('same')], 'duplicate_custom_id'],
    [
      'a model nobody serves',
      [{ ...chatLine('a'), body: { model: 'no-such-model', messages: [] } }],
      'model_not_found',
    ],
    [
      'a body the endpoint refuses',
      [{ ...chatLine('a'), body: { model: chatModel, messages: [], MAX_TOKENS: 5 } }],
      'invalid_request',
    ],
    [
      'a streaming line',
      [{ ...chatLine('a'), body: { ...chatLine('a').body, stream: true } }],
      'invalid_request',
    ],
  ])('fails the batch on %s, charging nothing', async (_name, lines, code) => {
    const current = await startWorld({ config: { limits: { batchLinesMax: 3 } } });
    const batch = await runToEnd(current, (await submit(current, [chatLine('good'), ...lines])).id);
    expect(batch.status).toBe('failed');
    expect(batch.errors?.data?.map((error) => error.code)).toContain(code);
    expect(batch.output_file_id).toBeNull();
    expect(await batchUsage(current, batch.id)).toEqual([]);
    const money = await tenantReader(() => current.call, testAdminToken, current.tenantId).view();
    expect(money.balance).toBe('100.00');
  });

  it('refuses a batch of an unknown file, a wrong window or an unknown endpoint', async () => {
    const current = await startWorld();
    await expect(
      current.client.batches.create({
        input_file_id: 'file-nothing',
        endpoint: '/v1/chat/completions',
        completion_window: '24h',
      }),
    ).rejects.toMatchObject({ status: 404 });
    const file = await current.client.files.create({
      file: await toFile(Buffer.from(jsonl([chatLine('a')])), 'input.jsonl'),
      purpose: 'batch',
    });
    for (const body of [
      { input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '1h' },
      { input_file_id: file.id, endpoint: '/v1/moderations', completion_window: '24h' },
    ]) {
      await expect(
        current.client.batches.create(body as Parameters<OpenAI['batches']['create']>[0]),
      ).rejects.toMatchObject({ status: 400 });
    }
  });
});
