/**
 * The soak: a steady mixed load (chat streams, JSON chat, legacy completions, embeddings, clients
 * that leave half-way) on a real `tokenbank serve` process over two simulators, one of which fails
 * now and then (fast 503s before the first byte, cuts mid-stream). Sampled from the gateway's own
 * /metrics as it runs, and checked at the end:
 *
 * - no memory growth: resident memory in the last quarter stays near the second quarter's;
 * - no error-rate or latency drift: the second half fails and answers like the first;
 * - nothing leaks: no hold, no request in flight, no settlement pending, no backend slot taken;
 *   the ledger checks out and the tenant's money moved by exactly what its usage records cost.
 *
 * SOAK_SECONDS sets the duration: 40 in the test run, 600 with `npm run soak`.
 */
import type OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSeededRandom } from '../src/platform/random.ts';
import { expectOk, type HttpCaller } from './support/demo-pool.ts';
import { micro, sum } from './support/money-reading.ts';
import { gatewayClient } from './support/openai-client.ts';
import {
  firstTenant,
  type GatewayWithSimulators,
  seedPool,
  startGatewayWithSimulators,
} from './support/seeded-pool.ts';
import type { GatewayProcess } from './support/spawn-gateway.ts';
import type { SimulatorProcess } from './support/spawn-simulator.ts';
import { moneyOf, tenantReader } from './support/tenant-money.ts';

const durationS = Number(process.env.SOAK_SECONDS ?? 40);
const requestsPerSecond = Number(process.env.SOAK_RATE ?? 30);
/** More than this many of the test's own requests in flight: the load is not steady, stop. */
const inFlightMax = 200;
const adminToken = `tba-${'o'.repeat(32)}`;
const model = 'soak-chat';
const embeddingModel = 'soak-embed';

type Kind = 'stream' | 'json' | 'legacy' | 'embedding' | 'abandoned';
type Finished = { kind: Kind; startedAtMs: number; endedAtMs: number; failed: boolean };
type Sample = { atMs: number; residentBytes: number; heapBytes: number };

let pool: GatewayWithSimulators<'steady' | 'flaky'> | undefined;
let gateway: GatewayProcess;
let steady: SimulatorProcess;
let flaky: SimulatorProcess;
let call: HttpCaller;
let client: OpenAI;
let tenantId: string;

beforeAll(async () => {
  const speed = ['--decode-tps', '2000', '--prefill-tps', '200000', '--slots', '64'];
  pool = await startGatewayWithSimulators({
    adminToken,
    simulators: {
      steady: ['--region', 'east', '--models', `${model},${embeddingModel}`, ...speed],
      flaky: [
        '--region',
        'west',
        '--models',
        `${model},${embeddingModel}`,
        ...speed,
        '--fault',
        'fast-503:0.05',
        '--fault',
        'cut:0.02',
      ],
    },
  });
  ({ gateway, call } = pool);
  ({ steady, flaky } = pool.simulators);
  const seeded = await seedPool(call, adminToken, {
    backends: [
      { url: steady.url, region: 'east', models: [model, embeddingModel], slots: 64 },
      { url: flaky.url, region: 'west', models: [model, embeddingModel], slots: 64 },
    ],
    tenants: [{ tenant: { name: 'soak' }, topUp: '10000' }],
  });
  const tenant = firstTenant(seeded);
  tenantId = tenant.tenantId;
  client = gatewayClient({
    baseURL: `${gateway.url}/v1`,
    apiKey: tenant.apiKey,
    timeoutMs: 30_000,
  });
}, 60_000);

afterAll(async () => {
  await pool?.stop();
});

async function one(kind: Kind): Promise<Finished> {
  const startedAtMs = performance.now();
  const messages = [{ role: 'user' as const, content: 'soak the computing power bank' }];
  let failed = false;
  try {
    if (kind === 'stream' || kind === 'abandoned') {
      const controller = new AbortController();
      const stream = await client.chat.completions.create(
        { model, messages, max_tokens: 24, stream: true },
        { signal: controller.signal },
      );
      let chunks = 0;
      for await (const _chunk of stream) {
        chunks += 1;
        if (kind === 'abandoned' && chunks === 4) {
          controller.abort();
        }
      }
    } else if (kind === 'json') {
      await client.chat.completions.create({ model, messages, max_tokens: 16 });
    } else if (kind === 'legacy') {
      await client.completions.create({ model, prompt: 'soak', max_tokens: 12 });
    } else {
      await client.embeddings.create({ model: embeddingModel, input: ['soak', 'bank'] });
    }
  } catch {
    // A client leaving on purpose is not a failure; anything else is.
    failed = kind !== 'abandoned';
  }
  return { kind, startedAtMs, endedAtMs: performance.now(), failed };
}

function gaugeOf(body: string, name: string): number {
  const line = body.split('\n').find((candidate) => candidate.startsWith(`${name} `));
  return line === undefined ? Number.NaN : Number(line.slice(name.length + 1));
}

async function sampleMemory(startMs: number): Promise<Sample> {
  const body = await (await fetch(`${gateway.url}/metrics`)).text();
  return {
    atMs: performance.now() - startMs,
    residentBytes: gaugeOf(body, 'tokenbank_process_resident_memory_bytes'),
    heapBytes: gaugeOf(body, 'tokenbank_nodejs_heap_size_used_bytes'),
  };
}

function percentile(values: number[], share: number): number {
  const sorted = [...values].sort((left, right) => left - right);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * share))] ?? 0;
}

function rateOfFailures(finished: readonly Finished[]): number {
  return finished.length === 0
    ? 0
    : finished.filter((item) => item.failed).length / finished.length;
}

describe('a steady mixed load', () => {
  it(`for ${durationS} s at ${requestsPerSecond} requests a second: no growth, no drift, no leak`, async () => {
    const random = createSeededRandom(42);
    const kinds: Kind[] = [
      'stream',
      'stream',
      'stream',
      'json',
      'json',
      'legacy',
      'embedding',
      'abandoned',
    ];
    const finished: Finished[] = [];
    const pending = new Set<Promise<void>>();
    const samples: Sample[] = [];
    const reader = tenantReader(() => call, adminToken, tenantId);
    const moneyBefore = moneyOf(await reader.view());
    const startMs = performance.now();
    const endMs = startMs + durationS * 1000;
    const intervalMs = 1000 / requestsPerSecond;
    let nextSampleMs = startMs;
    for (let sent = 0; ; sent += 1) {
      const dueMs = startMs + sent * intervalMs;
      if (dueMs >= endMs) {
        break;
      }
      const waitMs = dueMs - performance.now();
      if (waitMs > 0) {
        await new Promise((resolve) => setTimeout(resolve, waitMs));
      }
      expect(pending.size, 'the gateway fell behind a steady load').toBeLessThan(inFlightMax);
      const kind = kinds[Math.floor(random() * kinds.length)] ?? 'json';
      const request = one(kind).then((done) => {
        finished.push(done);
        pending.delete(request);
      });
      pending.add(request);
      if (performance.now() >= nextSampleMs) {
        nextSampleMs += 1000;
        samples.push(await sampleMemory(startMs));
      }
    }
    await Promise.all(pending);

    // Drift: the second half fails and answers like the first.
    const halfMs = startMs + (durationS * 1000) / 2;
    const first = finished.filter((item) => item.startedAtMs < halfMs);
    const second = finished.filter((item) => item.startedAtMs >= halfMs);
    const latency = (items: Finished[]) =>
      percentile(
        items
          .filter((item) => item.kind === 'json')
          .map((item) => item.endedAtMs - item.startedAtMs),
        0.5,
      );
    const failures = { first: rateOfFailures(first), second: rateOfFailures(second) };
    expect(failures.first).toBeLessThan(0.05);
    expect(failures.second).toBeLessThan(failures.first + 0.03);
    expect(latency(second)).toBeLessThan(2 * latency(first) + 50);

    // Memory: after the first quarter (warm-up), resident memory stays put.
    const quarter = (index: number) =>
      samples.filter(
        (sample) =>
          sample.atMs >= (index * durationS * 1000) / 4 &&
          sample.atMs < ((index + 1) * durationS * 1000) / 4,
      );
    const peak = (items: Sample[]) => Math.max(...items.map((sample) => sample.residentBytes));
    const residentSecondQuarter = peak(quarter(1));
    const residentLastQuarter = peak(quarter(3));
    expect(residentLastQuarter).toBeLessThan(residentSecondQuarter * 1.25 + 32 * 1024 * 1024);

    // Leaks: once quiet, nothing is held, pending or in flight, and the money adds up.
    let body = '';
    for (let poll = 0; poll < 500; poll += 1) {
      body = await (await fetch(`${gateway.url}/metrics`)).text();
      if (
        gaugeOf(body, 'tokenbank_holds_pending') === 0 &&
        gaugeOf(body, 'tokenbank_requests_in_flight') === 0
      ) {
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(gaugeOf(body, 'tokenbank_holds_pending')).toBe(0);
    expect(gaugeOf(body, 'tokenbank_requests_in_flight')).toBe(0);
    expect(gaugeOf(body, 'tokenbank_background_work_pending')).toBe(0);
    const inFlightLines = body
      .split('\n')
      .filter((line) => line.startsWith('tokenbank_backend_in_flight{'));
    expect(inFlightLines.length).toBe(2);
    for (const line of inFlightLines) {
      expect(line.endsWith(' 0')).toBe(true);
    }
    expect(await expectOk(call, 'GET', '/admin/v1/ledger/check', adminToken)).toMatchObject({
      ok: true,
      problems: [],
    });
    const tenant = await reader.view();
    expect(tenant.holds).toBe('0.00');
    const usage = [...(await reader.usageById()).values()];
    expect(moneyBefore - moneyOf(tenant)).toBe(sum(usage.map((record) => micro(record.cost))));
    expect(usage.length).toBeGreaterThan(finished.length * 0.95);

    process.stdout.write(
      `soak: ${durationS} s, ${finished.length} requests at ${requestsPerSecond}/s, failures ${(failures.first * 100).toFixed(2)}% then ${(failures.second * 100).toFixed(2)}%, json p50 ${latency(first).toFixed(0)} ms then ${latency(second).toFixed(0)} ms, resident ${(residentSecondQuarter / 1048576).toFixed(0)} MiB then ${(residentLastQuarter / 1048576).toFixed(0)} MiB, 0 holds left\n`,
    );
  }, 900_000);
});
