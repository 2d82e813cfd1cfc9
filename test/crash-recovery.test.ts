/**
 * Crash recovery through real processes: streams are cut by a SIGKILL of `tokenbank serve` part
 * way through, the gateway is restarted on the same SQLite file, and its sweeper settles every
 * hold the dead process left from that request's last usage checkpoint (or releases it when there
 * is none). Round after round: no hold survives, each crashed request has exactly one usage
 * record (`gateway_crash`) billed from its checkpoint, never more than it reserved, the tenant's
 * money moves by exactly what the records say, usage settled before a crash is still there after
 * it, and the ledger checks out.
 *
 * Between the kill and the restart the test reads the dead gateway's database (read-only) for the
 * checkpoint each open reservation had reached: the bill after recovery must be exactly that.
 */

import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type OpenAI from 'openai';
import { APIError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PinnedPrice, tokenCost } from '../src/billing/cost.ts';
import { formatMoney } from '../src/billing/money.ts';
import { startCrashPool } from './support/crash-pool.ts';
import { expectOk, type HttpCaller, httpCaller } from './support/demo-pool.ts';
import { micro, sum } from './support/money-reading.ts';
import { gatewayClient } from './support/openai-client.ts';
import { type GatewayProcess, startGatewayProcess } from './support/spawn-gateway.ts';
import type { SimulatorProcess } from './support/spawn-simulator.ts';
import {
  moneyOf,
  type TenantMoneyView,
  tenantReader,
  type UsageRecordView,
} from './support/tenant-money.ts';
import { createStreamWatcher, type WatchedStream } from './support/watched-streams.ts';

const adminToken = `tba-${'k'.repeat(32)}`;
const slowModel = 'crash-slow';
const fastModel = 'crash-fast';
const outputTokensMax = 200;

/**
 * Short sweeper timings; a stream checkpoints every `checkpointEventCount` events (or 250 ms).
 * With 1, every chunk is checkpointed before it is sent, so the bill after a crash is exactly what
 * was relayed; with more, the checkpoint trails by up to that many events.
 */
function gatewayEnvironment(checkpointEventCount: number): Record<string, string> {
  return {
    TOKENBANK_ALLOW_PRIVATE_BACKENDS: '1',
    TOKENBANK_LIMITS: JSON.stringify({
      ownerSilentMs: 1_500,
      sweepIntervalMs: 200,
      heartbeatIntervalMs: 200,
      checkpointEventCount,
      checkpointIntervalMs: 250,
    }),
  };
}
const prompt = 'Tell a long story about a computing power bank.';

type TenantView = TenantMoneyView;
type UsageView = UsageRecordView;

/** What the dead gateway's store said about one open reservation. */
type OpenReservation = {
  status: string;
  reservedMicro: bigint;
  checkpointInputTokens: number | null;
  checkpointOutputTokens: number | null;
  price: PinnedPrice;
};

let gateway: GatewayProcess;
let slow: SimulatorProcess;
let fast: SimulatorProcess;
let call: HttpCaller;
let client: OpenAI;
let apiKey: string;
let tenantId: string;
let moneyAtStart: bigint;
/** The checkpoint cadence of the gateway running now. */
let liveCheckpointEventCount = 4;
/** Every request the suite sent, by id. */
const sentRequestIds = new Set<string>();

function connect(started: GatewayProcess): void {
  gateway = started;
  call = httpCaller(started.url);
  client = gatewayClient({ baseURL: `${started.url}/v1`, apiKey: apiKey, timeoutMs: 30_000 });
}

/** Reads through whichever gateway runs now: `call` is swapped on every restart. */
function reader() {
  return tenantReader(() => call, adminToken, tenantId);
}

function tenantView(): Promise<TenantView> {
  return reader().view();
}

function usageById(): Promise<Map<string, UsageView>> {
  return reader().usageById();
}

/** Polls (bounded, one HTTP call per turn) until `accept` takes the tenant's view. */
async function pollTenant(accept: (view: TenantView) => boolean, what: string) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const view = await tenantView();
    if (accept(view)) {
      return view;
    }
    if (Date.now() > deadline) {
      throw new Error(`gave up waiting for ${what}: ${JSON.stringify(view)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Long streams on the slow backend through whichever gateway runs now. */
const { watchStream, waitForProgress } = createStreamWatcher({
  client: () => client,
  model: slowModel,
  prompt,
  outputTokensMax,
});

/** Reads the dead gateway's store: the open reservations and their checkpoints. */
function readOpenReservations(
  databasePath: string,
  requestIds: readonly string[],
): Map<string, OpenReservation> {
  const connection = new Database(databasePath, { readonly: true, fileMustExist: true });
  try {
    const reservation = connection
      .prepare(
        `SELECT r.status, r.reserved_amount AS reservedMicro, r.multiplier_bps AS multiplierBps,
           r.checkpoint_input_tokens AS checkpointInputTokens,
           r.checkpoint_output_tokens AS checkpointOutputTokens, r.price_id AS priceId,
           p.input_per_million AS inputPerMillion,
           p.cached_input_per_million AS cachedInputPerMillion,
           p.output_per_million AS outputPerMillion
         FROM reservations r JOIN prices p ON p.id = r.price_id WHERE r.request_id = ?`,
      )
      .safeIntegers(true);
    const found = new Map<string, OpenReservation>();
    for (const requestId of requestIds) {
      const row = reservation.get(requestId) as Record<string, bigint | string | null> | undefined;
      if (!row) {
        throw new Error(`no reservation for ${requestId}`);
      }
      const tokensOrNull = (value: unknown) => (value === null ? null : Number(value));
      found.set(requestId, {
        status: String(row.status),
        reservedMicro: row.reservedMicro as bigint,
        checkpointInputTokens: tokensOrNull(row.checkpointInputTokens),
        checkpointOutputTokens: tokensOrNull(row.checkpointOutputTokens),
        price: {
          priceId: String(row.priceId),
          inputPerMillion: row.inputPerMillion as bigint,
          cachedInputPerMillion: row.cachedInputPerMillion as bigint,
          outputPerMillion: row.outputPerMillion as bigint,
          multiplierBps: Number(row.multiplierBps),
        },
      });
    }
    return found;
  } finally {
    connection.close();
  }
}

/** Requests that finish normally on the fast backend; resolves with their request ids. */
async function completeSome(count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let index = 0; index < count; index += 1) {
    const messages = [{ role: 'user' as const, content: `${prompt} (${index})` }];
    if (index % 2 === 0) {
      const { data, response } = await client.chat.completions
        .create({ model: fastModel, messages, max_tokens: 7 + index })
        .withResponse();
      expect(data.usage?.completion_tokens).toBe(7 + index);
      ids.push(response.headers.get('x-request-id') ?? '');
    } else {
      const { data, response } = await client.chat.completions
        .create({ model: fastModel, messages, max_tokens: 7 + index, stream: true })
        .withResponse();
      let tokens = 0;
      for await (const chunk of data) {
        tokens += chunk.choices[0]?.delta.content ? 1 : 0;
      }
      expect(tokens).toBe(7 + index);
      ids.push(response.headers.get('x-request-id') ?? '');
    }
  }
  return ids;
}

type Round = {
  /** Streams cut by the crash. */
  streams: number;
  /** Every other stream is a legacy completion, unless all are chat. */
  chatOnly?: boolean;
  /** The crash comes once every stream has received at least this many tokens. */
  tokensBeforeKill: number;
  /** Requests that complete (and are settled) before the crash. */
  completedBefore?: number;
  /** A non-streaming request still waiting for its body when the gateway dies. */
  bufferedInFlight?: boolean;
  /** The checkpoint cadence of the gateway restarted after the crash. */
  restartCheckpointEventCount: number;
};

async function crashRound(round: Round): Promise<void> {
  const before = await tenantView();
  expect(before.holds).toBe('0.00');
  const moneyBefore = moneyOf(before);

  // Usage settled before the crash must survive it unchanged.
  const completedIds = await completeSome(round.completedBefore ?? 0);
  for (const id of completedIds) {
    sentRequestIds.add(id);
  }
  const settledBefore = new Map<string, UsageView>();
  if (completedIds.length > 0) {
    // A stream settles just after its last byte reached the client: wait (bounded) for all.
    await pollTenant((view) => view.holds === '0.00', 'the completed requests to settle');
    const usage = await usageById();
    for (const id of completedIds) {
      const record = usage.get(id);
      expect(record, id).toMatchObject({ outcome: 'complete', usage_source: 'provider' });
      settledBefore.set(id, record as UsageView);
    }
  }

  // A buffered request admitted (its hold is visible) but not answered when the gateway dies.
  let buffered: Promise<unknown> | undefined;
  if (round.bufferedInFlight) {
    buffered = client.chat.completions
      .create({
        model: slowModel,
        messages: [{ role: 'user', content: prompt }],
        max_tokens: outputTokensMax,
      })
      .withResponse()
      .then(
        () => 'answered',
        (error: unknown) => error,
      );
    await pollTenant((view) => view.holds !== '0.00', 'the buffered request to be admitted');
  }

  const streams = Array.from({ length: round.streams }, (_, index) =>
    watchStream(!round.chatOnly && index % 2 === 1),
  );
  const trigger = await waitForProgress(
    () =>
      streams.every((stream) => stream.tokens >= round.tokensBeforeKill) ||
      streams.some((stream) => stream.failure !== undefined || stream.finished),
    `${round.streams} streams to reach ${round.tokensBeforeKill} tokens`,
  );
  const tokensAtKill = streams.map((stream) => stream.tokens);
  await gateway.kill();
  const checkpointEventCount = liveCheckpointEventCount;
  await Promise.all(streams.map((stream) => stream.done));

  // Every stream was cut: none finished, each broke with an error after the tokens counted.
  for (const [index, stream] of streams.entries()) {
    expect(stream.finished, `stream ${index}`).toBe(false);
    expect(stream.failure, `stream ${index}`).toBeInstanceOf(Error);
    expect(stream.requestId, `stream ${index}`).toMatch(/^req_/);
    expect(tokensAtKill[index]).toBeGreaterThanOrEqual(round.tokensBeforeKill);
  }
  const crashedIds = streams.map((stream) => stream.requestId as string);
  let bufferedId: string | undefined;
  if (buffered) {
    const failure = await buffered;
    expect(failure).toBeInstanceOf(APIError);
  }

  const open = readOpenReservations(gateway.databasePath, crashedIds);
  for (const id of crashedIds) {
    expect(open.get(id)?.status, id).toBe('reserved');
  }

  liveCheckpointEventCount = round.restartCheckpointEventCount;
  connect(
    await startGatewayProcess({
      adminToken,
      databasePath: gateway.databasePath,
      environment: gatewayEnvironment(liveCheckpointEventCount),
    }),
  );
  const after = await pollTenant((view) => view.holds === '0.00', 'the sweeper to clear the holds');

  const check = await expectOk(call, 'GET', '/admin/v1/ledger/check', adminToken);
  expect(check).toMatchObject({ ok: true, problems: [] });
  for (const coupon of after.coupons) {
    expect(coupon.held).toBe('0.00');
    expect(micro(coupon.remaining)).toBeGreaterThanOrEqual(0n);
  }
  expect(micro(after.balance)).toBeGreaterThanOrEqual(0n);

  const usage = await usageById();
  for (const [id, record] of settledBefore) {
    expect(usage.get(id), id).toEqual(record);
  }
  for (const [index, id] of crashedIds.entries()) {
    sentRequestIds.add(id);
    const reservation = open.get(id) as OpenReservation;
    const record = usage.get(id);
    expect(record, id).toBeDefined();
    if (!record) {
      continue;
    }
    // Every stream checkpointed at its first byte: the crash settles from the last checkpoint.
    expect(reservation.checkpointInputTokens).not.toBeNull();
    const checkpointInput = reservation.checkpointInputTokens ?? 0;
    const checkpointOutput = reservation.checkpointOutputTokens ?? 0;
    expect(record).toMatchObject({
      outcome: 'gateway_crash',
      usage_source: 'estimate',
      input_tokens: checkpointInput,
      output_tokens: checkpointOutput,
    });
    const cost = micro(record.cost);
    const inputCost = tokenCost(
      { inputTokens: checkpointInput, cachedInputTokens: 0, outputTokens: 0 },
      reservation.price,
    );
    expect(inputCost).toBeGreaterThan(0n);
    expect(cost).toBe(
      tokenCost(
        { inputTokens: checkpointInput, cachedInputTokens: 0, outputTokens: checkpointOutput },
        reservation.price,
      ),
    );
    expect(cost).toBeGreaterThanOrEqual(inputCost);
    expect(cost).toBeLessThanOrEqual(reservation.reservedMicro);
    // The checkpoint is taken as a chunk is relayed: it trails what the client had seen when the
    // crash came by less than one checkpoint's worth of events...
    const stream = streams[index] as WatchedStream;
    expect(checkpointOutput).toBeGreaterThanOrEqual(
      (tokensAtKill[index] ?? 0) - (checkpointEventCount - 1),
    );
    // ...and bills no output the client did not get. The crash follows the chunk that triggered
    // it within far less than a decode step, so that stream had nothing in flight; another one
    // may lose the chunk being relayed at that instant.
    expect(checkpointOutput).toBeLessThanOrEqual(stream.tokens + (stream === trigger ? 0 : 1));
    expect(sum(record.paid_by.map((paid) => micro(paid.amount)))).toBe(cost);
    expect(record.paid_by.map((paid) => paid.source)).not.toContain('write_off');
  }

  // The buffered request had no checkpoint: released, nothing billed.
  if (buffered) {
    const roundIds = new Set([...crashedIds, ...completedIds]);
    const others = [...usage.values()].filter(
      (record) => !sentRequestIds.has(record.request_id) && !roundIds.has(record.request_id),
    );
    expect(others).toHaveLength(1);
    bufferedId = others[0]?.request_id;
    expect(others[0]).toMatchObject({ outcome: 'gateway_crash', cost: '0.00', paid_by: [] });
    if (bufferedId) {
      sentRequestIds.add(bufferedId);
    }
  }

  // The tenant's money moved by exactly what this round's records cost.
  const roundCosts = [...completedIds, ...crashedIds].map((id) =>
    micro(usage.get(id)?.cost ?? 'missing'),
  );
  expect(moneyBefore - moneyOf(after)).toBe(sum(roundCosts));
  expect(usage.size).toBe(sentRequestIds.size);
}

beforeAll(async () => {
  ({ slow, fast, gateway, call, tenantId, apiKey } = await startCrashPool({
    adminToken,
    models: { slow: slowModel, fast: fastModel },
    slowSlots: 16,
    slowDecodeTokensPerSecond: 50,
    gatewayEnvironment: gatewayEnvironment(liveCheckpointEventCount),
    tenantName: 'crash',
    coupon: { amount: '0.05', reference: 'crash-coupon' },
    prepaid: '10',
  }));
  connect(gateway);
  moneyAtStart = moneyOf(await tenantView());
  expect(moneyAtStart).toBe(10_050_000n);
});

afterAll(async () => {
  await Promise.all([gateway?.stop(), slow?.stop(), fast?.stop()]);
  if (gateway) {
    rmSync(dirname(gateway.databasePath), { recursive: true, force: true });
  }
});

describe('a gateway killed mid-stream and restarted on the same store', () => {
  it('settles every cut stream from its checkpoint, round after round', async () => {
    await crashRound({
      streams: 4,
      tokensBeforeKill: 2,
      bufferedInFlight: true,
      restartCheckpointEventCount: 1,
    });
    await crashRound({
      streams: 4,
      chatOnly: true,
      tokensBeforeKill: 9,
      restartCheckpointEventCount: 1,
    });
    await crashRound({ streams: 3, tokensBeforeKill: 21, restartCheckpointEventCount: 4 });
    await crashRound({
      streams: 4,
      tokensBeforeKill: 5,
      completedBefore: 6,
      restartCheckpointEventCount: 4,
    });

    // Over all rounds: every request has its record, and the money moved is what they cost.
    const usage = await usageById();
    expect(new Set(usage.keys())).toEqual(sentRequestIds);
    const total = sum([...usage.values()].map((record) => micro(record.cost)));
    expect(moneyAtStart - moneyOf(await tenantView())).toBe(total);
    expect(formatMoney(total)).not.toBe('0.00');
  });
});
