/**
 * An API key's rate limits on Cloudflare Workers hold once across isolates, in real workerd: two
 * gateway Workers from the same bundle, each in isolates of its own, over the same Durable
 * Objects (one per rate key, rate-limit-object.ts), as two isolates of one deployment. Requests
 * sent at once through both with the official OpenAI SDK are admitted up to the key's rpm and no
 * further, the rest answered 429 with Retry-After; a request's tokens and a stream's slot taken
 * through one Worker are missing from the other's view too, and a slot released by one is free
 * for the other. The counters are in the objects' storage: a restart of workerd forgets nothing.
 * And an object a key no longer uses empties itself: its alarm drops a bucket's row once the
 * bucket is full again and a slot's once it expired.
 */
import type OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenantWithKey, httpCaller, topUp } from './support/demo-pool.ts';
import { fastSimulatorForFile } from './support/fast-simulator.ts';
import { gatewayClient, sdkFailure } from './support/openai-client.ts';
import { pollUntil } from './support/poll-until.ts';
import { seedPool } from './support/seeded-pool.ts';
import {
  startWorkersRuntime,
  suiteVariables,
  type WorkersRuntime,
} from './support/workers-runtime.ts';

const model = 'sim-chat';
const adminToken = `tba-${'r'.repeat(32)}`;
const hello = [{ role: 'user' as const, content: 'hello' }];

// Answers as long as max_tokens asks, slowly enough that a stream of a thousand tokens stays
// open for seconds while the test looks at it.
const simulator = fastSimulatorForFile({
  models: [model],
  region: 'east',
  decodeTokensPerSecond: 200,
  outputTokensDefault: 4096,
});
let runtime: WorkersRuntime | undefined;

function started(): WorkersRuntime {
  if (!runtime) {
    throw new Error('the Workers did not start');
  }
  return runtime;
}

/** A client of gateway Worker `index` (0 or 1). */
function client(apiKey: string, index: number): OpenAI {
  const url = started().urls[index];
  return gatewayClient({ baseURL: `${url}/v1`, apiKey, timeoutMs: 60_000 });
}

/** A new tenant with money and one key with these limits. */
async function keyWith(limits: Record<string, unknown>): Promise<string> {
  const call = httpCaller(started().url);
  const created = await createTenantWithKey(call, adminToken, { name: 'limited' }, limits);
  await topUp(call, adminToken, created.tenantId, '100');
  return created.apiKey;
}

function ask(apiKey: string, index: number) {
  return client(apiKey, index)
    .chat.completions.create({ model, messages: hello, max_tokens: 4 })
    .withResponse();
}

/** Reads a stream to its end; true once it is over. */
async function drained(stream: AsyncIterable<unknown>): Promise<true> {
  for await (const _chunk of stream) {
    // Nothing to look at: the stream is read so that it ends.
  }
  return true;
}

beforeAll(async () => {
  runtime = await startWorkersRuntime(
    {
      ...suiteVariables(adminToken),
      TOKENBANK_LIMITS: JSON.stringify({ streamsPerKeyMax: 1 }),
    },
    { gatewayCount: 2 },
  );
  await seedPool(httpCaller(runtime.url), adminToken, {
    backends: [{ url: simulator().url, region: 'east', models: [model] }],
    tenants: [],
  });
}, 120_000);

afterAll(async () => {
  await runtime?.close();
});

describe("a key's limits on Workers, across isolates", () => {
  it('admits exactly the rpm of a burst sent through two Workers and answers 429 to the rest', async () => {
    // 4 a minute refill one every 15 s: far longer than the burst takes to be admitted.
    const apiKey = await keyWith({ rpm: 4 });
    const outcomes = await Promise.allSettled(
      Array.from({ length: 16 }, (_unused, index) => ask(apiKey, index % 2)),
    );
    const admitted = outcomes.filter((outcome) => outcome.status === 'fulfilled');
    expect(admitted).toHaveLength(4);
    for (const outcome of outcomes) {
      if (outcome.status === 'rejected') {
        const refusal = await sdkFailure(Promise.reject(outcome.reason));
        expect(refusal.status).toBe(429);
        expect(refusal.code).toBe('rate_limit_exceeded');
        expect(Number(refusal.headers?.get('retry-after'))).toBeGreaterThanOrEqual(1);
      }
    }
  }, 60_000);

  it('counts a request through one Worker against the same bucket the other takes from', async () => {
    const apiKey = await keyWith({ rpm: 2 });
    expect((await ask(apiKey, 0)).response.status).toBe(200);
    expect((await ask(apiKey, 1)).response.status).toBe(200);
    // Each isolate on its own would still have one left.
    for (const index of [0, 1]) {
      const refusal = await sdkFailure(ask(apiKey, index));
      expect(refusal.status).toBe(429);
      expect(refusal.message).toContain('2 requests per minute');
    }
  }, 60_000);

  it("shares the key's token budget: tokens reserved through one Worker are missing from the other", async () => {
    const apiKey = await keyWith({ tpm: 600 });
    const large = (index: number) =>
      client(apiKey, index).chat.completions.create({
        model,
        messages: hello,
        max_tokens: 500,
      });
    await large(0);
    // Usage is given back after the answer: about 500 tokens stay taken for the minute.
    const refusal = await sdkFailure(large(1));
    expect(refusal.status).toBe(429);
    expect(refusal.message).toContain('600 tokens per minute');
  }, 60_000);

  it('keeps what a bucket owes across a restart of every isolate and object', async () => {
    const apiKey = await keyWith({ rpm: 2 });
    expect((await ask(apiKey, 0)).response.status).toBe(200);
    expect((await ask(apiKey, 1)).response.status).toBe(200);
    await started().restart();
    // A bucket kept only in the object's memory would be full again.
    const refusal = await sdkFailure(ask(apiKey, 0));
    expect(refusal.status).toBe(429);
    expect(refusal.code).toBe('rate_limit_exceeded');
  }, 60_000);

  it("holds a key's stream slot for every Worker until the stream ends", async () => {
    const apiKey = await keyWith({});
    const stream = await client(apiKey, 0).chat.completions.create({
      model,
      messages: hello,
      max_tokens: 1000,
      stream: true,
    });
    const chunks = stream[Symbol.asyncIterator]();
    expect((await chunks.next()).done).toBe(false);
    const refusal = await sdkFailure(
      client(apiKey, 1).chat.completions.create({ model, messages: hello, stream: true }),
    );
    expect(refusal.status).toBe(429);
    expect(refusal.message).toContain('at most 1 streams at once');
    while (!(await chunks.next()).done) {
      // Read to the end: the slot is released once the stream is over.
    }
    const second = await pollUntil(
      async () =>
        client(apiKey, 1)
          .chat.completions.create({ model, messages: hello, max_tokens: 4, stream: true })
          .then(drained, () => undefined),
      'the stream slot released through the other Worker',
    );
    expect(second).toBe(true);
  }, 60_000);
});

describe('a rate object left alone', () => {
  /** One call of a rate key's object, straight through the harness. */
  const rate = (key: string, method: string, parameters: unknown[]) =>
    started().call({ object: key, target: 'rate', parameters: [method, parameters] });

  it('drops its bucket and slot rows once the bucket is full and the slot expired', async () => {
    const bucket = { key: 'rpm:key_left_alone', capacity: 2, refillPeriodMs: 400 };
    expect(await rate(bucket.key, 'take', [bucket, 2])).toEqual({ ok: true });
    expect(await rate(bucket.key, 'take', [bucket, 1])).toMatchObject({ ok: false });
    const slots = 'streams:key_left_alone';
    expect(await rate(slots, 'acquire', [slots, 1, 400])).toBe(true);
    expect(await started().rateObjectRows(bucket.key)).toEqual({ buckets: 1, slots: 0 });
    expect(await started().rateObjectRows(slots)).toEqual({ buckets: 0, slots: 1 });

    await pollUntil(async () => {
      const rows = [
        await started().rateObjectRows(bucket.key),
        await started().rateObjectRows(slots),
      ];
      return rows.every((each) => each.buckets === 0 && each.slots === 0) || undefined;
    }, 'both objects empty once the bucket refilled and the slot expired');
    // No row is a full bucket and a free slot.
    expect(await rate(bucket.key, 'take', [bucket, 2])).toEqual({ ok: true });
    expect(await rate(slots, 'acquire', [slots, 1, 400])).toBe(true);
  });
});
