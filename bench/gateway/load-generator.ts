/**
 * The load generator, in the bench process: closed-loop workers over keep-alive undici Pools, a
 * fixed number of requests in flight, times from process.hrtime (nanoseconds, reported in
 * microseconds). A run warms up first (connections opened, JIT warm) and then measures a fixed
 * window; the caller is told when the window opens and closes so it can read server CPU exactly
 * over it. With several origins (gateway replicas) requests go to them in turn.
 */
import { Pool } from 'undici';
import { sortedCopy } from './statistics.ts';

export type LoadTarget = {
  /** One origin per process; requests are spread over them round-robin. */
  origins: readonly string[];
  path: string;
  headers: Readonly<Record<string, string>>;
  model: string;
};

export type LoadPhase = {
  concurrency: number;
  warmupMs: number;
  durationMs: number;
  stream: boolean;
  onWindowStart?: () => void;
  onWindowEnd?: () => void;
};

export type LoadResult = {
  /** Requests that completed inside the window. */
  completedCount: number;
  errorCount: number;
  firstError: string | undefined;
  windowSeconds: number;
  requestsPerSecond: number;
  /** Whole-request latencies of requests that started and ended inside the window, sorted. */
  latenciesUs: Float64Array;
  /** Time from sending to the first body chunk, same requests, sorted. */
  firstChunkUs: Float64Array;
};

export type RequestOutcome = {
  ok: boolean;
  /** hrtime (ns) when the first body chunk arrived; 0 if none did. */
  firstChunkAtNs: number;
  error: string | undefined;
};

/** Bounds of one request, far above anything a healthy server under test needs. */
const headersTimeoutMs = 60_000;
const bodyTimeoutMs = 60_000;
const keepAliveTimeoutMs = 60_000;
const errorTextCharsMax = 300;

export const nowNs = (): number => Number(process.hrtime.bigint());

/** The chat request every target gets: a short prompt, as an SDK would send it. */
export function chatRequestBody(model: string, stream: boolean): Buffer {
  return Buffer.from(
    JSON.stringify({
      model,
      messages: [
        { role: 'system', content: 'You are a helpful assistant.' },
        { role: 'user', content: 'Say this is a test, and explain briefly what a gateway does.' },
      ],
      max_tokens: 256,
      ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
    }),
  );
}

export function createClientPool(origin: string, connections: number): Pool {
  return new Pool(origin, {
    connections,
    pipelining: 1,
    keepAliveTimeout: keepAliveTimeoutMs,
    headersTimeout: headersTimeoutMs,
    bodyTimeout: bodyTimeoutMs,
  });
}

/**
 * Sends one chat request and reads its whole answer. A stream only counts as complete when it
 * ended with `[DONE]`, so a gateway that cuts streams short cannot look fast.
 */
export async function sendChatRequest(
  pool: Pool,
  target: LoadTarget,
  body: Buffer,
  stream: boolean,
  onFirstChunk?: () => void,
): Promise<RequestOutcome> {
  try {
    const answer = await pool.request({
      path: target.path,
      method: 'POST',
      headers: target.headers,
      body,
    });
    if (answer.statusCode !== 200) {
      const text = await answer.body.text();
      return {
        ok: false,
        firstChunkAtNs: 0,
        error: `HTTP ${answer.statusCode}: ${text.slice(0, errorTextCharsMax)}`,
      };
    }
    let firstChunkAtNs = 0;
    let tail = '';
    for await (const chunk of answer.body) {
      if (firstChunkAtNs === 0) {
        firstChunkAtNs = nowNs();
        onFirstChunk?.();
      }
      if (stream) {
        tail = (tail + (chunk as Buffer).toString('latin1')).slice(-64);
      }
    }
    if (firstChunkAtNs === 0 || (stream && !tail.includes('[DONE]'))) {
      return {
        ok: false,
        firstChunkAtNs,
        error: `incomplete answer ending ${JSON.stringify(tail)}`,
      };
    }
    return { ok: true, firstChunkAtNs, error: undefined };
  } catch (error) {
    return {
      ok: false,
      firstChunkAtNs: 0,
      error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
    };
  }
}

/** Runs `phase.concurrency` closed-loop workers against the target for warm-up plus window. */
export async function runClosedLoop(target: LoadTarget, phase: LoadPhase): Promise<LoadResult> {
  const pools = target.origins.map((origin) => createClientPool(origin, phase.concurrency));
  const body = chatRequestBody(target.model, phase.stream);
  const latenciesUs: number[] = [];
  const firstChunkUs: number[] = [];
  let completedCount = 0;
  let errorCount = 0;
  let firstError: string | undefined;
  let nextPool = 0;
  let windowStartNs = Number.POSITIVE_INFINITY;
  let windowEndNs = Number.POSITIVE_INFINITY;
  let running = true;

  const windowOpens = setTimeout(() => {
    phase.onWindowStart?.();
    windowStartNs = nowNs();
  }, phase.warmupMs);
  const windowCloses = setTimeout(() => {
    windowEndNs = nowNs();
    phase.onWindowEnd?.();
    running = false;
  }, phase.warmupMs + phase.durationMs);

  const worker = async () => {
    while (running) {
      const pool = pools[nextPool % pools.length] as Pool;
      nextPool += 1;
      const sentAtNs = nowNs();
      const outcome = await sendChatRequest(pool, target, body, phase.stream);
      const doneAtNs = nowNs();
      if (!outcome.ok) {
        errorCount += 1;
        firstError ??= outcome.error;
        continue;
      }
      if (doneAtNs >= windowStartNs && doneAtNs <= windowEndNs) {
        completedCount += 1;
        if (sentAtNs >= windowStartNs) {
          latenciesUs.push((doneAtNs - sentAtNs) / 1000);
          firstChunkUs.push((outcome.firstChunkAtNs - sentAtNs) / 1000);
        }
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: phase.concurrency }, worker));
  } finally {
    clearTimeout(windowOpens);
    clearTimeout(windowCloses);
    await Promise.all(pools.map((pool) => pool.close()));
  }
  const windowSeconds = (windowEndNs - windowStartNs) / 1e9;
  return {
    completedCount,
    errorCount,
    firstError,
    windowSeconds,
    requestsPerSecond: completedCount / windowSeconds,
    latenciesUs: sortedCopy(latenciesUs),
    firstChunkUs: sortedCopy(firstChunkUs),
  };
}
