/**
 * Every limit of a key and of the gateway, through the real app in-process (a clock the test
 * moves, the real SQLite ledger) and simulators served in-process: requests and tokens per minute
 * counted with reservations (a burst never passes the limit, unused tokens come back, a request
 * that fails before its output gives all of them back), concurrent streams per key, requests in
 * flight, the max_tokens cap of a model, and the refusal of new work once a shutdown has begun.
 * Each refusal is OpenAI's envelope with the status, code and retry headers API.md names.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { limitsSchema } from '../src/config.ts';
import { estimateContentTokens } from '../src/metering/estimate-prompt-tokens.ts';
import { promptContentOf } from '../src/metering/prompt-content.ts';
import { type ServedSimulator, serveSimulator } from '../src/runtime/node/serve-simulator.ts';
import type { ErrorBody } from './support/api-assertions.ts';
import {
  bearerJson,
  type InProcessGateway,
  inProcessCaller,
  startInProcessGateway,
  testAdminToken,
} from './support/in-process-gateway.ts';
import { seedPool } from './support/seeded-pool.ts';

const chatModel = 'limit-chat';
const cappedModel = 'limit-capped';
const slowModel = 'limit-slow';
const failingModel = 'limit-failing';
const messages = [{ role: 'user', content: 'hello from the rate limit suite' }];
/** What admission estimates for `messages`: the tokens per minute a request reserves besides max_tokens. */
const promptEstimate = estimateContentTokens(
  promptContentOf({ model: chatModel, messages, max_tokens: 100 }),
  limitsSchema.parse({}).imageTokensEstimate,
);

let fast: ServedSimulator;
let slow: ServedSimulator;
let failing: ServedSimulator;
let gateway: InProcessGateway | undefined;

beforeAll(async () => {
  const quick = { prefillTokensPerSecond: 1_000_000, decodeTokensPerSecond: 20_000 };
  [fast, slow, failing] = await Promise.all([
    serveSimulator({
      simulator: { models: [chatModel, cappedModel], outputTokensDefault: 64, ...quick },
    }),
    serveSimulator({ simulator: { models: [slowModel], decodeTokensPerSecond: 20, slots: 16 } }),
    serveSimulator({ simulator: { models: [failingModel], faults: ['fast-503'] } }),
  ]);
});

afterEach(async () => {
  await gateway?.close();
  gateway = undefined;
});

afterAll(async () => {
  await Promise.all([fast?.close(), slow?.close(), failing?.close()]);
});

/** A gateway with these limits over the three simulators, and one tenant with money. */
async function startWith(limits: Record<string, unknown>, key: Record<string, unknown> = {}) {
  const started = await startInProcessGateway({
    environment: { TOKENBANK_ALLOW_PRIVATE_BACKENDS: '1' },
    config: { limits: limitsSchema.parse(limits) },
  });
  gateway = started;
  const seeded = await seedPool(inProcessCaller(started), testAdminToken, {
    backends: [
      { url: fast.url, region: 'east', models: [chatModel, cappedModel] },
      { url: slow.url, region: 'east', models: [slowModel] },
      { url: failing.url, region: 'east', models: [failingModel] },
    ],
    tenants: [
      { tenant: { name: 'limits' }, key, topUp: '1000' },
      { tenant: { name: 'other' }, key, topUp: '1000' },
    ],
  });
  const [tenant, other] = seeded.tenants;
  if (tenant === undefined || other === undefined) {
    throw new Error('the pool was seeded without its two tenants');
  }
  return { gateway: started, apiKey: tenant.apiKey, otherKey: other.apiKey };
}

async function chat(
  current: InProcessGateway,
  apiKey: string,
  body: Record<string, unknown> = {},
): Promise<Response> {
  return current.app.request(
    '/v1/chat/completions',
    bearerJson(apiKey, 'POST', { model: chatModel, messages, max_tokens: 100, ...body }),
  );
}

async function expectRefusal(
  response: Response,
  status: number,
  code: string,
  retry: { shouldRetry: boolean; retryAfterS?: number },
): Promise<ErrorBody['error']> {
  const text = await response.text();
  expect(response.status, text).toBe(status);
  const body = JSON.parse(text) as ErrorBody;
  expect(body.error.code).toBe(code);
  expect(response.headers.get('x-should-retry')).toBe(String(retry.shouldRetry));
  expect(response.headers.get('retry-after')).toBe(
    retry.retryAfterS === undefined ? null : String(retry.retryAfterS),
  );
  expect(response.headers.get('x-request-id')).toMatch(/^req_/);
  return body.error;
}

function statusCounts(responses: readonly Response[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const response of responses) {
    counts[response.status] = (counts[response.status] ?? 0) + 1;
  }
  return counts;
}

describe('requests per minute', () => {
  it('admits exactly rpm of a simultaneous burst, and one more per refill interval', async () => {
    const { gateway: current, apiKey, otherKey } = await startWith({}, { rpm: 5 });
    const burst = await Promise.all(Array.from({ length: 20 }, () => chat(current, apiKey)));
    expect(statusCounts(burst)).toEqual({ 200: 5, 429: 15 });
    const refused = burst.find((response) => response.status === 429);
    if (!refused) {
      throw new Error('expected a refusal');
    }
    // 5 a minute refill one every 12 s.
    const error = await expectRefusal(refused, 429, 'rate_limit_exceeded', {
      shouldRetry: true,
      retryAfterS: 12,
    });
    expect(error.type).toBe('rate_limit_error');
    expect(error.message).toContain('5 requests per minute');
    // Another key has its own budget.
    expect((await chat(current, otherKey)).status).toBe(200);

    current.clock.advanceMs(11_999);
    expect((await chat(current, apiKey)).status).toBe(429);
    current.clock.advanceMs(1);
    expect((await chat(current, apiKey)).status).toBe(200);
    expect((await chat(current, apiKey)).status).toBe(429);
  });

  it('applies the configured default to keys without an rpm of their own', async () => {
    const { gateway: current, apiKey } = await startWith({ keyRequestsPerMinuteDefault: 2 });
    const burst = await Promise.all(Array.from({ length: 5 }, () => chat(current, apiKey)));
    expect(statusCounts(burst)).toEqual({ 200: 2, 429: 3 });
  });
});

describe('tokens per minute, counted with reservations', () => {
  /** Tokens one request reserves: the prompt estimate and its max_tokens (or the default cap). */
  const reservedPerRequest = promptEstimate + 100;

  it('admits exactly what the tokens cover in a burst, and refunds what was not used', async () => {
    const { gateway: current, apiKey } = await startWith(
      { outputTokensDefault: 100 },
      { tpm: 3 * reservedPerRequest },
    );
    // No max_tokens: 100 reserved each, 64 generated (the simulator's default).
    const burst = await Promise.all(
      Array.from({ length: 10 }, () => chat(current, apiKey, { max_tokens: undefined })),
    );
    expect(statusCounts(burst)).toEqual({ 200: 3, 429: 7 });
    let used = 0;
    for (const response of burst.filter((answer) => answer.status === 200)) {
      const body = (await response.json()) as {
        usage: { prompt_tokens: number; completion_tokens: number };
      };
      expect(body.usage.completion_tokens).toBe(64);
      used += body.usage.prompt_tokens + body.usage.completion_tokens;
    }
    const refused = burst.find((response) => response.status === 429);
    if (!refused) {
      throw new Error('expected a refusal');
    }
    await expectRefusal(refused, 429, 'rate_limit_exceeded', {
      shouldRetry: true,
      retryAfterS: Math.ceil((reservedPerRequest * 60) / (3 * reservedPerRequest)),
    });

    // Settlement put back what the three did not use (100 - 64 of output each, and the prompt
    // estimate less the prompt): the bucket holds 3R - used, so a new burst at the same instant
    // gets exactly that many whole reservations. Without the refund it would get none.
    const level = 3 * reservedPerRequest - used;
    const fits = Math.floor(level / reservedPerRequest);
    expect(fits).toBeGreaterThanOrEqual(1);
    const again = await Promise.all(
      Array.from({ length: 5 }, () => chat(current, apiKey, { max_tokens: undefined })),
    );
    expect(statusCounts(again)).toEqual({ 200: fits, 429: 5 - fits });
  });

  it('gives back every token of a request that failed before any output', async () => {
    const { gateway: current, apiKey } = await startWith(
      { retryCountMax: 0 },
      { tpm: reservedPerRequest },
    );
    for (let round = 0; round < 3; round += 1) {
      const failed = await chat(current, apiKey, { model: failingModel });
      expect(failed.status).toBe(502);
    }
    expect((await chat(current, apiKey)).status).toBe(200);
  });

  it('refuses a request larger than the whole tpm as a fix for the client, not a wait', async () => {
    const { gateway: current, apiKey } = await startWith({}, { tpm: 50 });
    const error = await expectRefusal(await chat(current, apiKey), 400, 'invalid_request', {
      shouldRetry: false,
    });
    expect(error.param).toBe('max_tokens');
    expect(error.message).toContain('50 tokens per minute');
  });
});

describe('concurrent streams per key', () => {
  it('refuses a stream past the limit with 429, and frees the slot when a stream ends', async () => {
    const { gateway: current, apiKey, otherKey } = await startWith({ streamsPerKeyMax: 2 });
    const openStream = async (key: string) => {
      const response = await current.app.request(
        '/v1/chat/completions',
        bearerJson(key, 'POST', { model: slowModel, messages, max_tokens: 500, stream: true }),
      );
      return response;
    };
    const first = await openStream(apiKey);
    const second = await openStream(apiKey);
    expect([first.status, second.status]).toEqual([200, 200]);
    const error = await expectRefusal(await openStream(apiKey), 429, 'rate_limit_exceeded', {
      shouldRetry: true,
      retryAfterS: 1,
    });
    expect(error.message).toContain('2 streams');
    // Requests that are not streams, and other keys, are not held back.
    expect((await chat(current, apiKey)).status).toBe(200);
    const otherStream = await openStream(otherKey);
    expect(otherStream.status).toBe(200);
    await otherStream.body?.cancel();

    await first.body?.cancel();
    // The slot comes back once the cancelled stream has settled: poll, with a bound.
    let third = await openStream(apiKey);
    for (let attempt = 0; attempt < 200 && third.status === 429; attempt += 1) {
      await third.text();
      await current.deps.background.drain();
      third = await openStream(apiKey);
    }
    expect(third.status).toBe(200);
    await Promise.all([second.body?.cancel(), third.body?.cancel()]);
    await current.deps.background.drain();
    expect(current.deps.gate.inFlightCount).toBe(0);
  });
});

describe('requests in flight', () => {
  it('answers 503 no_capacity past the bound, and admits again once one finishes', async () => {
    const { gateway: current, apiKey } = await startWith({ inFlightRequestsMax: 2 });
    const slowBody = { model: slowModel, messages, max_tokens: 500, stream: true };
    const held = await Promise.all([
      current.app.request('/v1/chat/completions', bearerJson(apiKey, 'POST', slowBody)),
      current.app.request('/v1/chat/completions', bearerJson(apiKey, 'POST', slowBody)),
    ]);
    expect(held.map((response) => response.status)).toEqual([200, 200]);
    expect(current.deps.gate.inFlightCount).toBe(2);
    const error = await expectRefusal(await chat(current, apiKey), 503, 'no_capacity', {
      shouldRetry: true,
      retryAfterS: 1,
    });
    expect(error.type).toBe('server_error');
    await held[0]?.body?.cancel();
    let answer = await chat(current, apiKey);
    for (let attempt = 0; attempt < 200 && answer.status === 503; attempt += 1) {
      await answer.text();
      await current.deps.background.drain();
      answer = await chat(current, apiKey);
    }
    expect(answer.status).toBe(200);
    await held[1]?.body?.cancel();
    await current.deps.background.drain();
  });
});

describe('the max_tokens cap of a model', () => {
  it('refuses more than the cap with a 400 naming max_tokens, and sends the cap upstream when none is given', async () => {
    const { gateway: current, apiKey } = await startWith({
      outputTokensMaxByModel: { [cappedModel]: 20 },
    });
    const error = await expectRefusal(
      await chat(current, apiKey, { model: cappedModel, max_tokens: 21 }),
      400,
      'invalid_request',
      { shouldRetry: false },
    );
    expect(error.param).toBe('max_tokens');
    expect(error.message).toContain('at most 20');

    const capped = await chat(current, apiKey, { model: cappedModel, max_tokens: undefined });
    expect(capped.status).toBe(200);
    const body = (await capped.json()) as { usage: { completion_tokens: number } };
    expect(body.usage.completion_tokens).toBe(20);
    // Other models keep the global default (the simulator generates its own 64).
    const uncapped = await chat(current, apiKey, { max_tokens: undefined });
    expect(((await uncapped.json()) as typeof body).usage.completion_tokens).toBe(64);
  });
});

describe('a gateway that is shutting down', () => {
  it('refuses every new request with 503 and connection: close', async () => {
    const { gateway: current, apiKey } = await startWith({});
    current.deps.gate.stop();
    for (const response of [
      await chat(current, apiKey),
      await current.app.request('/healthz'),
      await current.admin('GET', '/admin/v1/tenants'),
    ]) {
      expect(response.headers.get('connection'), response.url).toBe('close');
      await expectRefusal(response, 503, 'no_capacity', { shouldRetry: true, retryAfterS: 1 });
    }
  });
});
