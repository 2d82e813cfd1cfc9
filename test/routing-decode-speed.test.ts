/**
 * The router through the whole gateway (issue 17), in-process over real time, with simulators
 * served in-process: of two backends in one region that start answering equally fast, the one
 * that decodes 13 times faster takes most of the traffic, because the router prices the whole
 * answer (first token plus output tokens times the inter-token latency it learned from the
 * streams it relayed), not only the first token; and with one of three backends answering 503 at
 * once, no client sees a failure (the first retry to another backend is never refused by the
 * retry budget, and a backend that fails before it ever succeeded is shut out after two tries).
 *
 * Margins: the fast backend finishes a 32-token answer in about 40 ms, the slow one in about
 * 530 ms, and both have 16 slots, so twelve requests at once never queue on either. Once each has
 * finished one answer, the slow one costs about 100 ms more per request (a fifth of its extra
 * decode time, for a stream) than the fast one, while their first tokens differ by a few ms, so
 * only the first wave (both unmeasured) and the router's 2% exploration reach it: in local runs
 * the fast one served 104 to 108 of the 120,
 * where the previous router, which priced the first token only, gave it 18 to 60. The test asks
 * for 80, far from both. Thirty requests at once against the failing backend make the first wave
 * large (unmeasured, it is drawn like the others) and retries overlap, which is what the retry
 * budget used to refuse: 3 of 60 failed with 502 before. After the first wave, its circuit is
 * open: it saw 8 attempts in local runs, at most 20 are allowed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ServedSimulator, serveSimulator } from '../src/runtime/node/serve-simulator.ts';
import {
  bearerJson,
  type InProcessGateway,
  inProcessCaller,
  startInProcessGateway,
  testAdminToken,
} from './support/in-process-gateway.ts';
import { firstTenant, seedPool } from './support/seeded-pool.ts';

const model = 'decode-chat';
const messages = [{ role: 'user', content: 'hello from the decode speed suite' }];

/** Same prefill and first-token time; only the decode speed differs. */
const simulatorBase = {
  models: [model],
  region: 'east',
  slots: 16,
  prefillTokensPerSecond: 1_000_000,
  latencyMs: 2,
  latencyJitterFraction: 0,
  outputTokensDefault: 64,
};

let fastDecoder: ServedSimulator;
let slowDecoder: ServedSimulator;
let healthyOne: ServedSimulator;
let healthyTwo: ServedSimulator;
let failing: ServedSimulator;

beforeAll(async () => {
  [fastDecoder, slowDecoder, healthyOne, healthyTwo, failing] = await Promise.all([
    serveSimulator({ simulator: { ...simulatorBase, decodeTokensPerSecond: 800 } }),
    serveSimulator({ simulator: { ...simulatorBase, decodeTokensPerSecond: 60 } }),
    serveSimulator({ simulator: { ...simulatorBase, decodeTokensPerSecond: 20_000 } }),
    serveSimulator({ simulator: { ...simulatorBase, decodeTokensPerSecond: 20_000 } }),
    serveSimulator({
      simulator: { ...simulatorBase, decodeTokensPerSecond: 20_000, faults: ['fast-503'] },
    }),
  ]);
});

afterAll(async () => {
  await Promise.all(
    [fastDecoder, slowDecoder, healthyOne, healthyTwo, failing].map((served) => served?.close()),
  );
});

/** A gateway over real time in front of these simulators, and a key with money. */
async function gatewayOver(
  simulators: readonly ServedSimulator[],
): Promise<{ gateway: InProcessGateway; apiKey: string }> {
  const gateway = await startInProcessGateway({
    environment: { TOKENBANK_ALLOW_PRIVATE_BACKENDS: '1' },
    realTime: true,
  });
  const seeded = await seedPool(inProcessCaller(gateway), testAdminToken, {
    backends: simulators.map((served) => ({
      url: served.url,
      region: 'east',
      models: [model],
      slots: simulatorBase.slots,
    })),
    tenants: [{ tenant: { name: 'decode' }, topUp: '1000' }],
  });
  return { gateway, apiKey: firstTenant(seeded).apiKey };
}

/** One streamed completion of `outputTokens`, read to its end; returns its HTTP status. */
async function streamOnce(
  gateway: InProcessGateway,
  apiKey: string,
  outputTokens: number,
): Promise<number> {
  const response = await gateway.app.request(
    '/v1/chat/completions',
    bearerJson(apiKey, 'POST', { model, messages, max_tokens: outputTokens, stream: true }),
  );
  const text = await response.text();
  if (response.status !== 200 || text.includes('"error"')) {
    return response.status === 200 ? 502 : response.status;
  }
  return response.status;
}

/** `count` requests, `concurrency` at a time; the statuses, in no particular order. */
async function sendMany(
  count: number,
  concurrency: number,
  send: () => Promise<number>,
): Promise<number[]> {
  const statuses: number[] = [];
  let started = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (started < count) {
        started += 1;
        statuses.push(await send());
      }
    }),
  );
  return statuses;
}

function completedOn(served: ServedSimulator): number {
  return served.simulator.stats().requests_completed;
}

describe('routing on the whole answer', () => {
  it('sends most requests to the backend that decodes 13 times faster', async () => {
    const { gateway, apiKey } = await gatewayOver([fastDecoder, slowDecoder]);
    try {
      const statuses = await sendMany(120, 12, () => streamOnce(gateway, apiKey, 32));
      expect(statuses.filter((status) => status === 200)).toHaveLength(120);
      const toFast = completedOn(fastDecoder);
      const toSlow = completedOn(slowDecoder);
      expect(toFast + toSlow).toBe(120);
      expect(toFast).toBeGreaterThanOrEqual(80);
    } finally {
      await gateway.close();
    }
  });

  it('shows no client a failure when one of three backends answers 503 at once', async () => {
    const { gateway, apiKey } = await gatewayOver([healthyOne, healthyTwo, failing]);
    try {
      const statuses = await sendMany(60, 30, () => streamOnce(gateway, apiKey, 8));
      expect(statuses.filter((status) => status !== 200)).toEqual([]);
      expect(completedOn(healthyOne) + completedOn(healthyTwo)).toBe(60);
      // Shut out after its first failures: only the first wave reached it.
      expect(failing.simulator.stats().requests_received).toBeLessThanOrEqual(20);
    } finally {
      await gateway.close();
    }
  });
});
