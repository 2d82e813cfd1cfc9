/**
 * A gateway killed with `kill -9` in the middle of a batch, then started again on the same store:
 * the batch carries on from where it stopped and ends, every line appears exactly once in its
 * output or error file, no line reaches the backend twice, a line cut off by the crash ends as
 * interrupted (charged only what the ledger recorded for it), and the ledger balances.
 */
import type OpenAI from 'openai';
import { toFile } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ServedSimulator, serveSimulator } from '../src/runtime/node/serve-simulator.ts';
import {
  createTenantWithKey,
  expectOk,
  httpCaller,
  priceModels,
  registerProvider,
  topUp,
} from './support/demo-pool.ts';
import { micro } from './support/money-reading.ts';
import { uploadingClient } from './support/openai-client.ts';
import { pollUntil } from './support/poll-until.ts';
import { type GatewayProcess, startGatewayProcess } from './support/spawn-gateway.ts';
import { tenantReader } from './support/tenant-money.ts';

const adminToken = 'tba-batch-crash-admin-0123456789abcdef';
const model = 'crash-batch';
const lineCount = 40;
const environment = {
  TOKENBANK_ALLOW_PRIVATE_BACKENDS: '1',
  TOKENBANK_LIMITS: JSON.stringify({ batchTickMs: 50, batchLinesInFlightMax: 4 }),
};

let simulator: ServedSimulator;
let gateway: GatewayProcess | undefined;

beforeAll(async () => {
  // 40 output tokens at 400 tokens/s: a line runs for about 100 ms, so the kill finds some running.
  simulator = await serveSimulator({
    simulator: {
      models: [model],
      decodeTokensPerSecond: 400,
      prefillTokensPerSecond: 1_000_000,
      outputTokensDefault: 40,
    },
  });
});

afterAll(async () => {
  await gateway?.stop();
  await simulator?.close();
});

type FileLine = { custom_id: string; error: { code: string } | null };

async function fileLines(client: OpenAI, fileId: string | null | undefined): Promise<FileLine[]> {
  if (fileId === null || fileId === undefined) {
    return [];
  }
  const text = await (await client.files.content(fileId)).text();
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as FileLine);
}

describe('a batch across a kill -9 of its gateway', () => {
  it('resumes, runs no line twice and ends with every line accounted for once', async () => {
    gateway = await startGatewayProcess({ adminToken, environment });
    const call = () => httpCaller((gateway as GatewayProcess).url);
    await registerProvider(call(), adminToken, [
      { url: simulator.url, region: 'east', models: [model], slots: 8 },
    ]);
    await priceModels(call(), adminToken, [model]);
    const { tenantId, apiKey } = await createTenantWithKey(call(), adminToken, { name: 'sme' });
    await topUp(call(), adminToken, tenantId, '100');
    const client = () =>
      uploadingClient({
        baseURL: `${(gateway as GatewayProcess).url}/v1`,
        apiKey,
        timeoutMs: 20_000,
      });
    const lines = Array.from({ length: lineCount }, (_, index) =>
      JSON.stringify({
        custom_id: `line-${index}`,
        method: 'POST',
        url: '/v1/chat/completions',
        body: { model, messages: [{ role: 'user', content: `question ${index}` }] },
      }),
    );
    const file = await client().files.create({
      file: await toFile(Buffer.from(`${lines.join('\n')}\n`), 'crash.jsonl'),
      purpose: 'batch',
    });
    const created = await client().batches.create({
      input_file_id: file.id,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
    });
    await pollUntil(
      async () => {
        const batch = await client().batches.retrieve(created.id);
        return (batch.request_counts?.completed ?? 0) >= 8 ? batch : undefined;
      },
      'eight lines done before the kill',
      30_000,
    );

    const { databasePath } = gateway;
    await gateway.kill();
    gateway = await startGatewayProcess({ adminToken, databasePath, environment });
    const batch = await pollUntil(
      async () => {
        const current = await client().batches.retrieve(created.id);
        return current.status === 'completed' ? current : undefined;
      },
      'the batch to complete after the restart',
      60_000,
    );

    const output = await fileLines(client(), batch.output_file_id);
    const errors = await fileLines(client(), batch.error_file_id);
    const ids = [...output, ...errors].map((line) => line.custom_id).sort();
    expect(ids).toEqual(lines.map((_, index) => `line-${index}`).sort());
    expect(batch.request_counts).toEqual({
      total: lineCount,
      completed: output.length,
      failed: errors.length,
    });
    // The kill found lines running (four are in flight at any time): they end interrupted.
    expect(errors.length).toBeGreaterThan(0);
    for (const line of errors) {
      expect(line.error?.code).toBe('batch_line_interrupted');
    }
    // Never sent twice: the backend saw at most one request per line.
    expect(simulator.simulator.stats().requests_received).toBeLessThanOrEqual(lineCount);

    const usage = [...(await tenantReader(call, adminToken, tenantId).usageById()).values()];
    const batchUsage = usage.filter((record) => record.request_id.startsWith(`${created.id}:`));
    const completedIds = new Set(output.map((line) => `${created.id}:${line.custom_id}`));
    for (const id of completedIds) {
      expect(batchUsage.find((record) => record.request_id === id)?.outcome).toBe('complete');
    }
    const billed = batchUsage.reduce((total, record) => total + micro(record.cost), 0n);
    expect(micro((batch as unknown as { cost: string }).cost)).toBe(billed);
    const check = await expectOk(call(), 'GET', '/admin/v1/ledger/check', adminToken);
    expect(check.ok).toBe(true);
    const money = await tenantReader(call, adminToken, tenantId).view();
    expect(money.holds).toBe('0.00');
  });
});
