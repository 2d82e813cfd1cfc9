/**
 * `tokenbank batch` as a tenant uses it: a real gateway process running its scheduler, a real
 * simulator, and the CLI as a child process, from `submit --wait` (progress on stderr, the final
 * batch on stdout) to `results` written to files, `list`, and a cancel of a batch already ended.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ServedSimulator, serveSimulator } from '../src/runtime/node/serve-simulator.ts';
import { type CliCommandResult, runCliCommand } from './support/cli-process.ts';
import {
  createTenantWithKey,
  httpCaller,
  priceModels,
  registerProvider,
  topUp,
} from './support/demo-pool.ts';
import { type GatewayProcess, startGatewayProcess } from './support/spawn-gateway.ts';

const adminToken = `tba-${'b'.repeat(30)}`;
const model = 'batch-cli-model';

let gateway: GatewayProcess;
let simulator: ServedSimulator;
let apiKey = '';
const folder = mkdtempSync(join(tmpdir(), 'tokenbank-batch-cli-'));

function batch(args: string[]): Promise<CliCommandResult> {
  return runCliCommand(['batch', ...args], {
    TOKENBANK_URL: gateway.url,
    TOKENBANK_API_KEY: apiKey,
  });
}

beforeAll(async () => {
  simulator = await serveSimulator({
    simulator: {
      models: [model],
      prefillTokensPerSecond: 1_000_000,
      decodeTokensPerSecond: 20_000,
    },
  });
  gateway = await startGatewayProcess({
    adminToken,
    environment: {
      TOKENBANK_ALLOW_PRIVATE_BACKENDS: '1',
      TOKENBANK_LIMITS: JSON.stringify({ batchTickMs: 50 }),
    },
  });
  const call = httpCaller(gateway.url);
  await registerProvider(call, adminToken, [
    { url: simulator.url, region: 'east', models: [model] },
  ]);
  await priceModels(call, adminToken, [model]);
  const tenant = await createTenantWithKey(call, adminToken, { name: 'cli-sme' });
  await topUp(call, adminToken, tenant.tenantId, '10');
  apiKey = tenant.apiKey;
});

afterAll(async () => {
  await gateway?.stop();
  await simulator?.close();
});

describe('tokenbank batch', () => {
  it('submits a file, waits with progress, and writes the results', async () => {
    const requests = join(folder, 'requests.jsonl');
    writeFileSync(
      requests,
      ['a', 'b', 'c']
        .map((customId) =>
          JSON.stringify({
            custom_id: customId,
            method: 'POST',
            url: '/v1/chat/completions',
            body: { model, messages: [{ role: 'user', content: customId }], max_tokens: 8 },
          }),
        )
        .join('\n'),
    );
    const submitted = await batch([
      'submit',
      requests,
      '--endpoint',
      '/v1/chat/completions',
      '--wait',
      '--interval-s',
      '0.5',
      '--json',
    ]);
    expect(submitted.code).toBe(0);
    const final = JSON.parse(submitted.stdout) as {
      id: string;
      status: string;
      request_counts: { completed: number };
    };
    expect(final).toMatchObject({ status: 'completed', request_counts: { completed: 3 } });
    // Not a terminal: one progress line per change, ending with every line done.
    expect(submitted.stderr).toMatch(/3\/3/);
    expect(submitted.stderr).not.toContain(apiKey);

    const output = join(folder, 'out.jsonl');
    const errors = join(folder, 'errors.jsonl');
    const results = await batch(['results', final.id, '--output', output, '--errors', errors]);
    expect(results.code).toBe(0);
    const lines = readFileSync(output, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { custom_id: string; response: { status_code: number } });
    expect(lines.map((line) => [line.custom_id, line.response.status_code])).toEqual([
      ['a', 200],
      ['b', 200],
      ['c', 200],
    ]);

    const listed = await batch(['list', '--json']);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain(final.id);
    const cancelled = await batch(['cancel', final.id]);
    expect(cancelled.code).not.toBe(0);
    expect(cancelled.stderr).toContain('can no longer be cancelled');
  });
});
