import { afterEach, describe, expect, it, vi } from 'vitest';
import type { PooledBackend } from '../../backends/backend-pool.ts';
import { createCapacityWaitQueue } from '../../backends/capacity-wait-queue.ts';
import { createLeastInFlightRouter } from '../../backends/routing/least-in-flight-router.ts';
import { createRetryBudget } from '../../backends/routing/retry-budget.ts';
import type { Router } from '../../backends/routing/router.ts';
import { backendRecord, poolWithBackends } from '../../backends/test-backend-record.ts';
import { chunkSourceOf, readAllChunks } from '../../backends/upstream/chunk-source.ts';
import {
  answerCutShort,
  answerSilentStream,
  answerStatus,
  answerStream,
  hangUntilAborted,
  refuseConnection,
  type ScriptedAnswer,
  scriptedUpstream,
  throwUnexpected,
} from '../../backends/upstream/scripted-upstream.ts';
import { type Limits, limitsSchema } from '../../config.ts';
import { GatewayError } from '../../errors.ts';
import { createManualClock } from '../../platform/clock.ts';
import { createSeededRandom } from '../../platform/random.ts';
import { type ForwardDeps, type Forwarded, forwardWithRetries } from './forward-with-retries.ts';
import { type RequestDeadline, startRequestDeadline } from './request-deadline.ts';

const startMs = 1_700_000_000_000;

/** A router that ranks like least-in-flight and notes each outcome it is told, in order. */
function recordingRouter(inner: Router): Router & { outcomes: string[] } {
  const outcomes: string[] = [];
  return {
    ...inner,
    outcomes,
    observe(attempt, outcome) {
      const failure = outcome.kind === 'failed' ? ` ${outcome.failure}` : '';
      outcomes.push(`${attempt.backend.record.id} ${outcome.kind}${failure}`);
      inner.observe(attempt, outcome);
    },
  };
}

type Setup = {
  deps: ForwardDeps;
  backends: PooledBackend[];
  router: ReturnType<typeof recordingRouter>;
  upstream: ReturnType<typeof scriptedUpstream>;
  events: string[];
};

/** Backends named by their scripts' keys, in order, behind the real pool, budget and router. */
function setup(
  scripts: Record<string, ScriptedAnswer[]>,
  limitOverrides: Partial<Limits> = {},
): Setup {
  const limits = limitsSchema.parse(limitOverrides);
  const clock = createManualClock(startMs);
  const { pool, backends } = poolWithBackends(
    Object.keys(scripts).map((id) => backendRecord({ id })),
    limits,
  );
  const router = recordingRouter(createLeastInFlightRouter(createSeededRandom(7), clock));
  const upstream = scriptedUpstream(scripts);
  const events: string[] = [];
  const deps: ForwardDeps = {
    config: { limits },
    pool,
    router,
    retryBudget: createRetryBudget(limits),
    capacityQueue: createCapacityWaitQueue({ lengthMax: limits.capacityQueueLengthMax }),
    upstream,
    clock,
    logger: { log: (_level, event) => events.push(event) },
  };
  return { deps, backends, router, upstream, events };
}

function forward(
  { deps, backends }: Setup,
  options: { buffered: boolean; clientSignal?: AbortSignal; deadline?: RequestDeadline },
): Promise<Forwarded> {
  const [firstBackend] = backends;
  if (firstBackend === undefined) {
    throw new Error('a setup needs at least one backend');
  }
  return forwardWithRetries(deps, backends, {
    route: {
      model: 'm',
      promptTokens: 10,
      outputTokensAsked: undefined,
      stream: !options.buffered,
      homeRegion: null,
      prices: undefined,
    },
    path: '/chat/completions',
    body: new TextEncoder().encode('{"model":"m"}'),
    headers: { 'content-type': 'application/json' },
    clientSignal: options.clientSignal ?? new AbortController().signal,
    deadline: options.deadline,
    buffered: options.buffered,
    firstBackend,
  });
}

function idsOf(backends: readonly PooledBackend[]): string[] {
  return backends.map((backend) => backend.record.id);
}

function answered(forwarded: Forwarded) {
  if (forwarded.kind !== 'answered') {
    throw new Error(`expected an answer, got ${String(forwarded.error)}`);
  }
  return forwarded;
}

function unansweredError(forwarded: Forwarded): unknown {
  if (forwarded.kind !== 'unanswered') {
    throw new Error(`expected no answer, got one from ${forwarded.backend.record.id}`);
  }
  return forwarded.error;
}

async function textOf(forwarded: Forwarded): Promise<string> {
  const { response, bodyBytes } = answered(forwarded);
  const bytes = bodyBytes ?? (await readAllChunks(chunkSourceOf(response), 1_000_000));
  return new TextDecoder().decode(bytes);
}

const firstChunk = 'data: {"choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\n';

describe('forwardWithRetries', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('retries a 5xx answer on another backend and returns that backend’s answer', async () => {
    const test = setup({ a: [answerStatus(502)], b: [answerStatus(200, '{"id":"ok"}')] });
    const forwarded = await forward(test, { buffered: true });
    expect(idsOf(forwarded.attempted)).toEqual(['a', 'b']);
    expect(answered(forwarded).backend.record.id).toBe('b');
    expect(await textOf(forwarded)).toBe('{"id":"ok"}');
    expect(test.router.outcomes).toEqual(['a failed server_error', 'b first_token']);
    // The retry reached its first byte: its share of the budget is back.
    expect(test.deps.retryBudget.retriesInFlight).toBe(0);
  });

  it('retries a 429 elsewhere and keeps the first backend out for its Retry-After', async () => {
    const test = setup({
      a: [answerStatus(429, '{}', { 'retry-after': '7' })],
      b: [answerStatus(200)],
    });
    const forwarded = await forward(test, { buffered: true });
    expect(idsOf(forwarded.attempted)).toEqual(['a', 'b']);
    expect(test.router.outcomes[0]).toBe('a failed rate_limited');
    expect(test.backends[0]?.retryAfterUntilMs).toBe(startMs + 7_000);
  });

  it('retries a refused connection on another backend', async () => {
    const test = setup({ a: [refuseConnection()], b: [answerStatus(200)] });
    const forwarded = await forward(test, { buffered: true });
    expect(answered(forwarded).backend.record.id).toBe('b');
    expect(test.router.outcomes).toEqual(['a failed connect', 'b first_token']);
    expect(test.events).toContain('upstream_attempt_failed');
  });

  it('retries a buffered body cut short, and one larger than the limit', async () => {
    const test = setup(
      { a: [answerCutShort('{"id":')], b: [answerStatus(200, 'x'.repeat(2_048))] },
      { upstreamResponseBytesMax: 1_024 },
    );
    const forwarded = await forward(test, { buffered: true });
    expect(idsOf(forwarded.attempted)).toEqual(['a', 'b']);
    expect(test.router.outcomes).toEqual(['a failed protocol', 'b failed protocol']);
    expect(unansweredError(forwarded)).toMatchObject({
      code: 'upstream_error',
      message: expect.stringContaining('exceeds 1024 bytes'),
    });
  });

  it('tries each backend at most once, in order, and no more than retryCountMax retries', async () => {
    const test = setup(
      {
        a: [answerStatus(503)],
        b: [answerStatus(503)],
        c: [answerStatus(503)],
        d: [answerStatus(503)],
      },
      { retryCountMax: 2 },
    );
    const forwarded = await forward(test, { buffered: true });
    const attemptedIds = idsOf(forwarded.attempted);
    expect(attemptedIds).toHaveLength(3);
    expect(attemptedIds[0]).toBe('a');
    expect(new Set(attemptedIds).size).toBe(3);
    expect(test.upstream.sentTo).toEqual(attemptedIds);
    const error = unansweredError(forwarded);
    expect(error).toBeInstanceOf(GatewayError);
    expect(error).toMatchObject({
      code: 'upstream_error',
      message: 'The backend failed: status 503',
    });
    expect(test.deps.pool.inFlightTotal).toBe(0);
    expect(test.deps.retryBudget.retriesInFlight).toBe(0);
  });

  it('always makes the first retry, and no later one once the retry budget is spent', async () => {
    const test = setup(
      {
        a: [answerStatus(500)],
        b: [answerStatus(500)],
        c: [answerStatus(500)],
        d: [answerStatus(200)],
      },
      { retryBudgetMin: 1, retryBudgetBps: 0 },
    );
    // Another request's retry holds the only one the budget allows.
    expect(test.deps.retryBudget.tryAcquire(0, false)).toBe(true);
    const forwarded = await forward(test, { buffered: true });
    expect(idsOf(forwarded.attempted)).toHaveLength(2);
    expect(test.upstream.sentTo).toEqual(idsOf(forwarded.attempted));
    expect(forwarded.attempted.map((backend) => backend.record.id)).not.toContain('d');
    expect(unansweredError(forwarded)).toMatchObject({ code: 'upstream_error' });
    expect(test.events).toContain('retry_budget_spent');
    expect(test.deps.retryBudget.retriesInFlight).toBe(1);
  });

  it('retries a stream whose first chunk misses the per-try deadline', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const test = setup(
      { a: [answerSilentStream()], b: [answerStream([firstChunk, 'data: [DONE]\n\n'])] },
      { firstTokenTimeoutMinMs: 50, firstTokenTimeoutMaxMs: 50 },
    );
    const forwarding = forward(test, { buffered: false });
    await vi.advanceTimersByTimeAsync(50);
    const forwarded = await forwarding;
    expect(idsOf(forwarded.attempted)).toEqual(['a', 'b']);
    expect(test.router.outcomes).toEqual(['a failed first_token_timeout', 'b first_token']);
    expect(test.events).toContain('first_token_deadline_passed');
    // The first chunk, read to see the stream start, is replayed before the rest.
    expect(await textOf(forwarded)).toBe(`${firstChunk}data: [DONE]\n\n`);
  });

  it('retries an empty stream, and reports it when every stream was empty', async () => {
    const retried = setup({ a: [answerStream([])], b: [answerStream([firstChunk])] });
    const forwarded = await forward(retried, { buffered: false });
    expect(idsOf(forwarded.attempted)).toEqual(['a', 'b']);
    expect(retried.router.outcomes).toEqual(['a failed protocol', 'b first_token']);
    expect(await textOf(forwarded)).toBe(firstChunk);

    const allEmpty = setup({ a: [answerStream([])], b: [answerStream([])] });
    const none = await forward(allEmpty, { buffered: false });
    expect(idsOf(none.attempted)).toEqual(['a', 'b']);
    expect(unansweredError(none)).toMatchObject({ message: 'The backend failed: an empty stream' });
  });

  it('passes a 4xx answer on to the client without a retry', async () => {
    const test = setup({ a: [answerStatus(400, '{"error":{}}')], b: [] });
    const forwarded = await forward(test, { buffered: false });
    expect(idsOf(forwarded.attempted)).toEqual(['a']);
    expect(answered(forwarded).response.status).toBe(400);
    expect(test.router.outcomes).toEqual(['a first_token']);
  });

  it('stops when the client leaves, with no verdict on the backend', async () => {
    const client = new AbortController();
    const test = setup({ a: [hangUntilAborted(() => client.abort())], b: [answerStatus(200)] });
    const forwarded = await forward(test, { buffered: true, clientSignal: client.signal });
    expect(idsOf(forwarded.attempted)).toEqual(['a']);
    expect(test.upstream.sentTo).toEqual(['a']);
    expect(unansweredError(forwarded)).toMatchObject({ message: 'The backend failed: aborted' });
    expect(test.router.outcomes).toEqual(['a abandoned']);
    expect(test.backends[0]?.health).toBe('healthy');
    expect(test.deps.pool.inFlightTotal).toBe(0);
  });

  it('aborts the attempt when the request deadline passes, and retries nothing', async () => {
    vi.useFakeTimers();
    const deadline = startRequestDeadline(2);
    const test = setup({
      a: [hangUntilAborted(() => vi.advanceTimersByTime(2_000))],
      b: [answerStatus(200)],
    });
    const forwarded = await forward(test, { buffered: true, deadline });
    expect(deadline.expired).toBe(true);
    expect(idsOf(forwarded.attempted)).toEqual(['a']);
    expect(test.upstream.sentTo).toEqual(['a']);
    expect(unansweredError(forwarded)).toMatchObject({ message: 'The backend failed: aborted' });
    expect(test.deps.pool.inFlightTotal).toBe(0);
  });

  it('tries nothing once the request deadline has passed', async () => {
    vi.useFakeTimers();
    const deadline = startRequestDeadline(2);
    vi.advanceTimersByTime(2_000);
    const test = setup({ a: [], b: [] });
    const forwarded = await forward(test, { buffered: true, deadline });
    expect(forwarded.attempted).toEqual([]);
  });

  it('unties an attempt from the request deadline once it is released', async () => {
    const deadline = startRequestDeadline(2);
    let subscribedCount = 0;
    const counted: RequestDeadline = {
      get expired() {
        return deadline.expired;
      },
      onExpiry(end) {
        subscribedCount += 1;
        const forget = deadline.onExpiry(end);
        return () => {
          subscribedCount -= 1;
          forget();
        };
      },
      clear: deadline.clear,
    };
    const test = setup({ a: [answerStream([firstChunk])] });
    const forwarded = answered(await forward(test, { buffered: false, deadline: counted }));
    expect(subscribedCount).toBe(1);
    forwarded.release();
    expect(subscribedCount).toBe(0);
    deadline.clear();
  });

  it('tries nothing for a client already gone', async () => {
    const client = new AbortController();
    client.abort();
    const test = setup({ a: [], b: [] });
    const forwarded = await forward(test, { buffered: true, clientSignal: client.signal });
    expect(forwarded.attempted).toEqual([]);
    expect(unansweredError(forwarded)).toMatchObject({ code: 'no_capacity' });
  });

  it('gives back an unexpected error with the backends tried, and ends the attempt', async () => {
    const bug = new Error('not an UpstreamError');
    const test = setup({ a: [throwUnexpected(bug)], b: [] });
    const forwarded = await forward(test, { buffered: true });
    expect(unansweredError(forwarded)).toBe(bug);
    expect(idsOf(forwarded.attempted)).toEqual(['a']);
    expect(test.deps.pool.inFlightTotal).toBe(0);
  });

  it('keeps the answering attempt in flight until it is released', async () => {
    const test = setup({ a: [answerStream([firstChunk])] });
    const forwarded = answered(await forward(test, { buffered: false }));
    expect(test.deps.pool.inFlightTotal).toBe(1);
    forwarded.release();
    forwarded.release();
    expect(test.deps.pool.inFlightTotal).toBe(0);
    expect(test.router.outcomes).toEqual(['a first_token', 'a done']);
  });
});
