/**
 * Backend faults through the real gateway process and real simulators: failures before the first
 * byte are retried on another backend and never reach the client; a stream cut half-way ends the
 * client's stream with an error event instead of a silently truncated answer.
 */
import type OpenAI from 'openai';
import { APIError } from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
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

const adminToken = `tba-${'f'.repeat(32)}`;
const model = 'fault-chat';
const soloModel = 'fault-solo';
const slowModel = 'fault-slow';
const hello = [{ role: 'user' as const, content: 'hello' }];

let pool: GatewayWithSimulators<'faulty' | 'healthy' | 'solo' | 'slow'> | undefined;
let gateway: GatewayProcess;
let faulty: SimulatorProcess;
let healthy: SimulatorProcess;
let solo: SimulatorProcess;
let slow: SimulatorProcess;
let client: OpenAI;

async function requestsServed(simulator: SimulatorProcess): Promise<number> {
  return (await readSimulatorStats(simulator)).requests_served;
}

beforeAll(async () => {
  const fast = ['--decode-tps', '20000', '--prefill-tps', '1000000'];
  pool = await startGatewayWithSimulators({
    adminToken,
    simulators: {
      faulty: ['--region', 'east', '--models', model, ...fast],
      healthy: ['--region', 'west', '--models', model, ...fast],
      solo: ['--region', 'east', '--models', soloModel, ...fast],
      slow: ['--region', 'east', '--models', slowModel, '--decode-tps', '20'],
    },
  });
  ({ gateway } = pool);
  ({ faulty, healthy, solo, slow } = pool.simulators);
  const seeded = await seedPool(pool.call, adminToken, {
    backends: [
      { url: faulty.url, region: 'east', models: [model] },
      { url: healthy.url, region: 'west', models: [model] },
      { url: solo.url, region: 'east', models: [soloModel] },
      { url: slow.url, region: 'east', models: [slowModel] },
    ],
    tenants: [{ tenant: { name: 'faults' }, topUp: '100' }],
  });
  const { apiKey } = firstTenant(seeded);
  client = gatewayClient({ baseURL: `${gateway.url}/v1`, apiKey: apiKey, timeoutMs: 20_000 });
});

beforeEach(async () => {
  await Promise.all([
    setSimulatorFaults(faulty, []),
    setSimulatorFaults(healthy, []),
    setSimulatorFaults(solo, []),
  ]);
});

afterAll(async () => {
  await pool?.stop();
});

describe('faults before the first byte are invisible to the client', () => {
  it.each(['refuse', 'fast-503', '429'])(
    'a backend failing with %s is retried on the healthy one',
    async (fault) => {
      await setSimulatorFaults(faulty, [fault]);
      const servedBefore = await requestsServed(healthy);
      const requestCount = 12;
      for (let index = 0; index < requestCount; index += 1) {
        const stream = index % 2 === 0;
        if (stream) {
          const chunks = await client.chat.completions.create({
            model,
            messages: hello,
            max_tokens: 3,
            stream: true,
          });
          let words = 0;
          for await (const chunk of chunks) {
            words += chunk.choices[0]?.delta.content ? 1 : 0;
          }
          expect(words).toBe(3);
        } else {
          const completion = await client.chat.completions.create({
            model,
            messages: hello,
            max_tokens: 3,
          });
          expect(completion.usage?.completion_tokens).toBe(3);
        }
      }
      expect((await requestsServed(healthy)) - servedBefore).toBe(requestCount);
    },
  );

  it('a refusing backend is marked unhealthy while the healthy one keeps serving', async () => {
    await setSimulatorFaults(faulty, ['refuse']);
    const call = httpCaller(gateway.url);
    const stateOf = async (url: string) => {
      const backends = await call('GET', '/admin/v1/backends', adminToken);
      return (backends.body.data as { url: string; state: string }[]).find(
        (backend) => backend.url === url,
      )?.state;
    };
    // After a failure the router avoids the faulty backend and only now and then tries it again
    // (or probes its open circuit): keep sending, within a time bound, until it failed twice.
    const deadlineMs = Date.now() + 30_000;
    while (Date.now() < deadlineMs && (await stateOf(faulty.url)) !== 'unhealthy') {
      await client.chat.completions.create({ model, messages: hello, max_tokens: 1 });
    }
    expect(await stateOf(faulty.url)).toBe('unhealthy');
    expect(await stateOf(healthy.url)).toBe('healthy');
  });
});

describe('faults after the first byte', () => {
  it('a stream cut half-way ends with an error event, not a truncated success', async () => {
    await setSimulatorFaults(solo, ['cut']);
    const stream = await client.chat.completions.create({
      model: soloModel,
      messages: hello,
      max_tokens: 40,
      stream: true,
    });
    const words: string[] = [];
    let caught: unknown;
    try {
      for await (const chunk of stream) {
        const content = chunk.choices[0]?.delta.content;
        if (content) {
          words.push(content);
        }
      }
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(APIError);
    expect((caught as APIError).message).toContain('ended before it was complete');
    expect(words.length).toBeGreaterThan(0);
    expect(words.length).toBeLessThan(40);
  });

  it('a stream without usage still completes for the client', async () => {
    await setSimulatorFaults(solo, ['no-usage']);
    const stream = await client.chat.completions.create({
      model: soloModel,
      messages: hello,
      max_tokens: 4,
      stream: true,
      stream_options: { include_usage: true },
    });
    let words = 0;
    let usage: unknown;
    for await (const chunk of stream) {
      words += chunk.choices[0]?.delta.content ? 1 : 0;
      usage = chunk.usage ?? usage;
    }
    expect(words).toBe(4);
    expect(usage).toBeUndefined();
  });
});

describe('a client that goes away', () => {
  it('has its upstream request aborted at once, freeing the GPU slot', async () => {
    const controller = new AbortController();
    const stream = await client.chat.completions.create(
      { model: slowModel, messages: hello, max_tokens: 1000, stream: true },
      { signal: controller.signal },
    );
    let chunks = 0;
    try {
      for await (const _chunk of stream) {
        chunks += 1;
        if (chunks === 3) {
          controller.abort();
        }
      }
    } catch {
      // The SDK reports the abort; what matters is what the backend saw.
    }
    expect(chunks).toBe(3);
    // The abort travels client -> gateway -> backend; wait for it by watching, with a bound.
    let stats = await readSimulatorStats(slow);
    for (let poll = 0; poll < 200 && stats.running > 0; poll += 1) {
      stats = await readSimulatorStats(slow);
    }
    expect(stats.running).toBe(0);
    // At 20 tokens a second, 1000 tokens take 50 s: the generation stopped long before.
    expect(stats.tokens_generated).toBeLessThan(100);
  });
});
