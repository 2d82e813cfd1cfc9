/**
 * The router over real HTTP (issue 4): a gateway process in front of three `tokenbank sim`
 * processes of different speeds sends measurably more traffic to the fast one; when that one
 * starts failing it stops getting traffic (and clients see no error, thanks to retries); when it
 * recovers, traffic comes back. Waits are bounded polls on what the simulators count, never
 * fixed sleeps. The router's failure memory, the circuit's threshold and its open time are
 * shortened here so that the whole story takes seconds.
 */
import type OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpCaller } from './support/demo-pool.ts';
import { gatewayClient } from './support/openai-client.ts';
import {
  firstTenant,
  type GatewayWithSimulators,
  seedPool,
  startGatewayWithSimulators,
} from './support/seeded-pool.ts';
import type { GatewayProcess } from './support/spawn-gateway.ts';
import {
  readSimulatorStats,
  type SimulatorProcess,
  setSimulatorFaults,
} from './support/spawn-simulator.ts';

const adminToken = `tba-${'r'.repeat(32)}`;
const model = 'routing-chat';
const hello = [{ role: 'user' as const, content: 'hello' }];

let pool: GatewayWithSimulators<'fast' | 'medium' | 'slow'> | undefined;
let gateway: GatewayProcess;
let fast: SimulatorProcess;
let medium: SimulatorProcess;
let slow: SimulatorProcess;
let client: OpenAI;

type BackendView = {
  url: string;
  state: string;
  routing: {
    scraped: { engine: string | null } | null;
    rtt_ewma_ms: number | null;
    failure_rate: number | null;
    circuit: { state: string };
    models: Record<string, { first_token_samples: number }>;
  } | null;
};

function simulatorArgs(latencyMs: number): string[] {
  return [
    '--region',
    'east',
    '--models',
    model,
    '--slots',
    '8',
    '--prefill-tps',
    '1000000',
    '--decode-tps',
    '2000',
    '--latency-ms',
    String(latencyMs),
  ];
}

async function okCount(simulator: SimulatorProcess): Promise<number> {
  return (await readSimulatorStats(simulator)).requests_by_status['200'] ?? 0;
}

async function receivedCount(simulator: SimulatorProcess): Promise<number> {
  return (await readSimulatorStats(simulator)).requests_received;
}

/** One streamed completion; fails the test if the client sees anything but 4 tokens. */
async function streamOnce(): Promise<void> {
  const chunks = await client.chat.completions.create({
    model,
    messages: hello,
    max_tokens: 4,
    stream: true,
  });
  let words = 0;
  for await (const chunk of chunks) {
    words += chunk.choices[0]?.delta.content ? 1 : 0;
  }
  expect(words).toBe(4);
}

/** `count` requests, `concurrency` at a time. */
async function send(count: number, concurrency = 4): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        next += 1;
        await streamOnce();
      }
    }),
  );
}

async function backendViews(): Promise<BackendView[]> {
  const answer = await httpCaller(gateway.url)('GET', '/admin/v1/backends', adminToken);
  return answer.body.data as BackendView[];
}

beforeAll(async () => {
  pool = await startGatewayWithSimulators({
    adminToken,
    simulators: {
      fast: simulatorArgs(5),
      medium: simulatorArgs(80),
      slow: simulatorArgs(250),
    },
    limits: { routingFailureHalfLifeMs: 1_000, breakerFailureCountMax: 3, breakerOpenMs: 500 },
  });
  ({ gateway } = pool);
  ({ fast, medium, slow } = pool.simulators);
  const seeded = await seedPool(pool.call, adminToken, {
    backends: [
      { url: fast.url, region: 'east', models: [model] },
      { url: medium.url, region: 'east', models: [model] },
      { url: slow.url, region: 'east', models: [model] },
    ],
    tenants: [{ tenant: { name: 'routing' }, topUp: '100' }],
  });
  const { apiKey } = firstTenant(seeded);
  client = gatewayClient({ baseURL: `${gateway.url}/v1`, apiKey: apiKey, timeoutMs: 20_000 });
});

afterAll(async () => {
  await pool?.stop();
});

describe('routing over real HTTP', () => {
  it('sends measurably more traffic to the fast backend', async () => {
    const before = await Promise.all([fast, medium, slow].map(okCount));
    await send(90);
    const after = await Promise.all([fast, medium, slow].map(okCount));
    const [toFast = 0, toMedium = 0, toSlow = 0] = after.map(
      (count, index) => count - (before[index] ?? 0),
    );
    expect(toFast + toMedium + toSlow).toBe(90);
    expect(toFast).toBeGreaterThan(45);
    expect(toFast).toBeGreaterThan(2 * toMedium);
    expect(toFast).toBeGreaterThan(2 * toSlow);
  });

  it('shows what it learned and scraped in GET /admin/v1/backends', async () => {
    const views = await backendViews();
    expect(views).toHaveLength(3);
    const fastView = views.find((view) => view.url === fast.url);
    expect(fastView?.routing?.scraped?.engine).toBe('vllm');
    expect(fastView?.routing?.rtt_ewma_ms).toEqual(expect.any(Number));
    expect(fastView?.routing?.circuit.state).toBe('closed');
    expect(fastView?.routing?.models[model]?.first_token_samples).toBeGreaterThan(0);
  });

  it('stops sending to a backend that starts failing, and clients see no error', async () => {
    await setSimulatorFaults(fast, ['fast-503']);
    // The first request there finds out (and is retried elsewhere); wait until the router knows.
    const deadlineMs = Date.now() + 20_000;
    let failureRate = 0;
    while (Date.now() < deadlineMs && failureRate === 0) {
      await send(4, 2);
      const view = (await backendViews()).find((candidate) => candidate.url === fast.url);
      failureRate = view?.routing?.failure_rate ?? 0;
    }
    expect(failureRate).toBeGreaterThan(0);
    const receivedBefore = await receivedCount(fast);
    // Two at a time: the retry budget allows three retries in flight at this low load.
    await send(40, 2);
    // It took most of the traffic before; now its circuit opens and only the half-open probes
    // (and the router's occasional re-test of a neglected backend) reach it.
    expect((await receivedCount(fast)) - receivedBefore).toBeLessThanOrEqual(4);
  });

  it('gives the backend its traffic back once it recovers', async () => {
    await setSimulatorFaults(fast, []);
    const okBefore = await okCount(fast);
    const deadlineMs = Date.now() + 45_000;
    while (Date.now() < deadlineMs && (await okCount(fast)) - okBefore < 20) {
      await send(8, 2);
    }
    expect((await okCount(fast)) - okBefore).toBeGreaterThanOrEqual(20);
    // Back to where it was: the fast backend takes most of a fresh batch again.
    const before = await okCount(fast);
    await send(30);
    expect((await okCount(fast)) - before).toBeGreaterThan(15);
  });
});
