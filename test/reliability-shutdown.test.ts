/**
 * Graceful shutdown of a real `tokenbank serve` process on SIGTERM: it stops accepting at once,
 * lets the requests in flight finish (a stream runs to its end within the grace period; past the
 * deadline it is cut and billed for what was delivered), settles them, closes the store and exits
 * 0 on its own. Afterwards the store holds no pending reservation and the ledger checks out,
 * without any help from the sweeper.
 */
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { expectOk, httpCaller } from './support/demo-pool.ts';
import { gatewayClient } from './support/openai-client.ts';
import { firstTenant, seedPool } from './support/seeded-pool.ts';
import { type GatewayProcess, startGatewayProcess } from './support/spawn-gateway.ts';
import { type SimulatorProcess, startSimulatorProcess } from './support/spawn-simulator.ts';

const adminToken = `tba-${'s'.repeat(32)}`;
const model = 'shutdown-slow';
const messages = [{ role: 'user' as const, content: 'a story for the shutdown suite' }];

let simulator: SimulatorProcess;
let gateway: GatewayProcess | undefined;
const databasePaths: string[] = [];

beforeAll(async () => {
  // 50 tokens a second: a stream of 40 takes about 0.8 s, one of 1000 takes 20 s.
  simulator = await startSimulatorProcess([
    '--models',
    model,
    '--decode-tps',
    '50',
    '--prefill-tps',
    '1000000',
    '--slots',
    '16',
  ]);
});

afterEach(async () => {
  await gateway?.stop();
  gateway = undefined;
});

afterAll(async () => {
  await simulator?.stop();
  for (const path of databasePaths) {
    rmSync(dirname(path), { recursive: true, force: true });
  }
});

async function startSeeded(shutdownGraceMs: number) {
  const started = await startGatewayProcess({
    adminToken,
    environment: {
      TOKENBANK_ALLOW_PRIVATE_BACKENDS: '1',
      TOKENBANK_LIMITS: JSON.stringify({ shutdownGraceMs }),
    },
  });
  gateway = started;
  databasePaths.push(started.databasePath);
  const tenant = firstTenant(
    await seedPool(httpCaller(started.url), adminToken, {
      backends: [{ url: simulator.url, region: 'east', models: [model] }],
      tenants: [{ tenant: { name: 'shutdown' }, topUp: '10' }],
    }),
  );
  const client = gatewayClient({
    baseURL: `${started.url}/v1`,
    apiKey: tenant.apiKey,
    timeoutMs: 30_000,
  });
  return { started, client, tenantId: tenant.tenantId };
}

/** Resolves with the exit code once the process has exited on its own (bounded). */
function exitCodeOf(started: GatewayProcess, timeoutMs: number): Promise<number | null> {
  const child = started.process;
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve(child.exitCode);
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(
          new Error(
            `the gateway did not exit within ${timeoutMs} ms: ${started.stderr().slice(-3000)}`,
          ),
        ),
      timeoutMs,
    );
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

type StoredRequest = { status: string; outcome: string | null; outputTokens: number | null };

/** The stopped gateway's store, read directly: each reservation with its usage record. */
function readStore(databasePath: string): StoredRequest[] {
  const connection = new Database(databasePath, { readonly: true, fileMustExist: true });
  try {
    return connection
      .prepare(
        `SELECT r.status AS status, u.outcome AS outcome, u.output_tokens AS outputTokens
         FROM reservations r LEFT JOIN usage_records u ON u.request_id = r.request_id`,
      )
      .all() as StoredRequest[];
  } finally {
    connection.close();
  }
}

/** A stream read chunk by chunk; `started` resolves at its first token. */
function readStream(client: OpenAI, maxTokens: number) {
  let tokens = 0;
  let finished = false;
  let markStarted: () => void = () => {};
  const started = new Promise<void>((resolve) => {
    markStarted = resolve;
  });
  const done = (async () => {
    const stream = await client.chat.completions.create({
      model,
      messages,
      max_tokens: maxTokens,
      stream: true,
    });
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta.content) {
        tokens += 1;
        markStarted();
      }
      finished ||= chunk.choices[0]?.finish_reason != null;
    }
  })().then(
    () => undefined,
    (error: unknown) => error,
  );
  return {
    started,
    done,
    get tokens() {
      return tokens;
    },
    get finished() {
      return finished;
    },
  };
}

/** Polls (bounded) until a new connection to the gateway is refused. */
async function expectRefusesConnections(url: string): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt += 1) {
    const refused = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2_000) }).then(
      (response) => response.status === 503,
      () => true,
    );
    if (refused) {
      return;
    }
  }
  throw new Error('the gateway kept accepting new requests after SIGTERM');
}

describe('SIGTERM', () => {
  it('lets an in-flight stream finish, settles it, closes the store and exits 0', async () => {
    const { started, client } = await startSeeded(15_000);
    const stream = readStream(client, 40);
    await stream.started;
    const signalledAtMs = Date.now();
    started.process.kill('SIGTERM');
    await expectRefusesConnections(started.url);
    expect(await stream.done).toBeUndefined();
    expect(stream.finished).toBe(true);
    expect(stream.tokens).toBe(40);
    expect(await exitCodeOf(started, 15_000)).toBe(0);
    // It left as soon as the stream was done: not at the deadline, and not after the keep-alive
    // timeout (5 s) of the connection the stream came on, which used to hold the close up.
    expect(Date.now() - signalledAtMs).toBeLessThan(3_000);
    expect(started.stderr()).toContain('SIGTERM received');
    expect(started.stderr()).not.toContain('shutdown_left_work');
    expect(readStore(started.databasePath)).toEqual([
      { status: 'settled', outcome: 'complete', outputTokens: 40 },
    ]);
  });

  it('cuts what outlives the grace period, bills what was delivered and leaves nothing pending', async () => {
    const { started, client } = await startSeeded(700);
    const streams = [readStream(client, 1000), readStream(client, 1000)];
    const buffered = client.chat.completions.create({ model, messages, max_tokens: 1000 }).then(
      () => 'answered',
      (error: unknown) => error,
    );
    await Promise.all(streams.map((stream) => stream.started));
    started.process.kill('SIGTERM');
    const results = await Promise.all(streams.map((stream) => stream.done));
    expect(await exitCodeOf(started, 15_000)).toBe(0);
    for (const [index, stream] of streams.entries()) {
      expect(results[index], `stream ${index}`).toBeInstanceOf(Error);
      expect(stream.finished).toBe(false);
      expect(stream.tokens).toBeGreaterThan(0);
      expect(stream.tokens).toBeLessThan(1000);
    }
    expect(await buffered).toBeInstanceOf(Error);
    const stored = readStore(started.databasePath);
    expect(stored).toHaveLength(3);
    expect(stored.filter((row) => row.status === 'reserved')).toEqual([]);
    const delivered = streams.map((stream) => stream.tokens).sort((left, right) => left - right);
    const billed = stored
      .filter((row) => row.outputTokens !== null && row.outputTokens > 0)
      .map((row) => row.outputTokens ?? 0)
      .sort((left, right) => left - right);
    expect(billed).toHaveLength(2);
    for (const [index, tokens] of billed.entries()) {
      // Billed for what was relayed: the client may miss the chunk in flight at the cut.
      expect(tokens).toBeGreaterThanOrEqual(delivered[index] ?? 0);
      expect(tokens).toBeLessThanOrEqual((delivered[index] ?? 0) + 2);
    }

    // The same store, restarted: nothing for the sweeper to do, and the ledger checks out.
    const restarted = await startGatewayProcess({
      adminToken,
      databasePath: started.databasePath,
      environment: { TOKENBANK_ALLOW_PRIVATE_BACKENDS: '1' },
    });
    gateway = restarted;
    const call = httpCaller(restarted.url);
    expect(await expectOk(call, 'GET', '/admin/v1/ledger/check', adminToken)).toMatchObject({
      ok: true,
      problems: [],
    });
    expect(restarted.stderr()).not.toContain('holds_swept');
  });
});
