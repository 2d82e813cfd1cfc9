/**
 * The PostgreSQL ledger's group commit (postgres-group-commit.ts): concurrent requests' reserves
 * and settles share a transaction (a few pool checkouts for many operations), each still hears
 * its own outcome, and one operation's failure, in memory or on the server, fails no other of
 * its group; an operation that cannot run against the group's load (a settle repeated) runs
 * alone and answers as it would alone. Money stays whole: the ledger check holds after each.
 */
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { PinnedPrice } from '../src/billing/cost.ts';
import type { Ledger, SettleInput } from '../src/billing/ledger.ts';
import { accountIds } from '../src/billing/ledger-accounts.ts';
import { parseConfig } from '../src/config.ts';
import { migratePostgres } from '../src/runtime/node/postgres/postgres-database.ts';
import { openPostgresLedger } from '../src/runtime/node/postgres/postgres-ledger.ts';
import { PostgresLedgerUnit } from '../src/runtime/node/postgres/postgres-ledger-unit.ts';
import { inTransaction } from '../src/runtime/node/postgres/postgres-transaction.ts';
import { createTestDatabase, quietPool, type TestDatabase } from './support/postgres-service.ts';

const limits = (() => {
  const parsed = parseConfig({});
  if (!parsed.ok) {
    throw new Error(parsed.message);
  }
  return parsed.config.limits;
})();

const price: PinnedPrice = {
  priceId: 'prc_group',
  inputPerMillion: 2_000_000n,
  cachedInputPerMillion: 1_000_000n,
  outputPerMillion: 6_000_000n,
  multiplierBps: 10_000,
};

const tenants = ['ten_a', 'ten_b'] as const;

let database: TestDatabase;
let pool: pg.Pool;
let ledger: Ledger;
/** Connections checked out of the pool: one per transaction the ledger ran. */
let checkouts = 0;

beforeAll(async () => {
  database = await createTestDatabase(inject('postgresAdminUrl'));
  await migratePostgres(database.url, limits);
  pool = quietPool(database.url, 8);
  pool.on('acquire', () => {
    checkouts += 1;
  });
  for (const tenantId of tenants) {
    await pool.query(
      `INSERT INTO tenants (id, name, home_region, allowed_regions, allow_max_tokens_clamp,
         created_at_ms) VALUES ($1, $1, NULL, NULL, false, 0)`,
      [tenantId],
    );
  }
  await pool.query(`INSERT INTO providers (id, name, payout_bps, token_hash, created_at_ms)
    VALUES ('prv_group', 'group', 8000, 'hash', 0)`);
  ledger = await openPostgresLedger(pool, { retryCountMax: limits.ledgerConflictRetryCountMax });
  for (const tenantId of tenants) {
    await ledger.topUp({ tenantId, amountMicro: 1_000_000_000n, reference: 'seed', atMs: 0 });
  }
  // A failure on the server that only one request meets: its reservation cannot be inserted.
  await pool.query(`CREATE FUNCTION refuse_poisoned() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.request_id LIKE 'req_poisoned%' THEN RAISE EXCEPTION 'poisoned request'; END IF;
      RETURN NEW;
    END $$`);
  await pool.query(`CREATE TRIGGER reservations_poisoned BEFORE INSERT ON reservations
    FOR EACH ROW EXECUTE FUNCTION refuse_poisoned()`);
});

afterAll(async () => {
  await pool?.end();
  await database?.drop();
});

function reserve(requestId: string, tenantId: string) {
  return ledger.reserve({
    requestId,
    tenantId,
    keyId: 'key_group',
    model: 'group-model',
    region: 'east',
    price,
    promptTokensEstimate: 300,
    outputTokensMax: 256,
    clampAllowed: false,
    atMs: 1,
    instanceId: 'gw_group',
  });
}

function settleInput(requestId: string, outputTokens: number): SettleInput {
  return {
    requestId,
    usage: {
      inputTokens: 280,
      cachedInputTokens: 0,
      outputTokens,
      reasoningTokens: undefined,
      source: 'provider',
    },
    outcome: 'complete',
    servedBy: { backendId: 'bkd_group', providerId: 'prv_group', region: 'east' },
    price,
    atMs: 2,
  };
}

async function expectCheckHolds() {
  const check = await ledger.check();
  expect(check.problems).toEqual([]);
  expect(check.ok).toBe(true);
}

async function walletAvailable(tenantId: string): Promise<bigint> {
  const { rows } = await pool.query(
    `SELECT credits_posted - debits_posted - debits_pending AS available FROM accounts
     WHERE id = $1`,
    [accountIds.wallet(tenantId)],
  );
  return BigInt(String((rows[0] as { available: unknown }).available));
}

describe('the PostgreSQL ledger group commit', () => {
  it('reserves and settles concurrent requests of two tenants in a few transactions', async () => {
    const requestIds = Array.from({ length: 24 }, (_, index) => `req_many_${index}`);
    const tenantOf = (index: number) => tenants[index % tenants.length] ?? 'ten_a';
    const before = await Promise.all(tenants.map(walletAvailable));

    checkouts = 0;
    const reserved = await Promise.all(
      requestIds.map((requestId, index) => reserve(requestId, tenantOf(index))),
    );
    expect(reserved.every((result) => result.ok)).toBe(true);
    expect(checkouts).toBeLessThanOrEqual(3);

    checkouts = 0;
    const settled = await Promise.all(
      requestIds.map((requestId, index) => ledger.settle(settleInput(requestId, 100 + index))),
    );
    expect(checkouts).toBeLessThanOrEqual(3);
    expect(settled.every((result) => !result.duplicate && result.costMicro > 0n)).toBe(true);

    // Each tenant paid exactly the sum of its own requests' costs.
    const after = await Promise.all(tenants.map(walletAvailable));
    tenants.forEach((tenantId, tenantIndex) => {
      const paid = settled
        .filter((_, index) => tenantOf(index) === tenantId)
        .reduce((sum, result) => sum + result.costMicro, 0n);
      expect((before[tenantIndex] ?? 0n) - (after[tenantIndex] ?? 0n)).toBe(paid);
    });
    // Each settle reports the wallet as its own place in the group left it.
    const lastOfA = settled.filter((_, index) => tenantOf(index) === 'ten_a').at(-1);
    expect(lastOfA?.walletAvailableMicro).toBe(after[0]);
    await expectCheckHolds();
  });

  it('fails only the request the server refuses, not the others of its group', async () => {
    const requestIds = ['req_poisoned_1', ...Array.from({ length: 7 }, (_, i) => `req_fine_${i}`)];
    const outcomes = await Promise.allSettled(
      requestIds.map((requestId) => reserve(requestId, 'ten_a')),
    );
    const [poisoned, ...fine] = outcomes;
    expect(poisoned?.status).toBe('rejected');
    expect(String((poisoned as PromiseRejectedResult).reason)).toContain('poisoned request');
    for (const outcome of fine) {
      expect(outcome.status === 'fulfilled' && outcome.value.ok).toBe(true);
    }
    const { rows } = await pool.query(
      `SELECT count(*)::int AS count FROM reservations WHERE request_id = ANY($1::text[])`,
      [requestIds],
    );
    expect(rows[0]).toEqual({ count: 7 });
    await Promise.all(
      requestIds.slice(1).map((requestId) => ledger.settle(settleInput(requestId, 50))),
    );
    await expectCheckHolds();
  });

  it('answers a settle repeated within a group as the duplicate it is, charged once', async () => {
    const before = await walletAvailable('ten_b');
    const reserved = await reserve('req_twice', 'ten_b');
    expect(reserved.ok).toBe(true);
    const [first, second, missing] = await Promise.allSettled([
      ledger.settle(settleInput('req_twice', 80)),
      ledger.settle(settleInput('req_twice', 80)),
      ledger.settle(settleInput('req_never_reserved', 80)),
    ]);
    expect(first?.status === 'fulfilled' && first.value.duplicate).toBe(false);
    expect(second?.status === 'fulfilled' && second.value.duplicate).toBe(true);
    const charged = first?.status === 'fulfilled' ? first.value.costMicro : -1n;
    expect(second?.status === 'fulfilled' && second.value.costMicro).toBe(charged);
    expect(missing?.status).toBe('rejected');
    expect(before - (await walletAvailable('ten_b'))).toBe(charged);
    await expectCheckHolds();
  });

  it('undoes in memory an operation of a group back to the mark taken before it', async () => {
    const before = await walletAvailable('ten_a');
    await inTransaction(
      pool,
      { retryCountMax: 0, isolation: 'read committed', readOnly: false },
      async (client, { begun, commitWith }) => {
        const unit = new PostgresLedgerUnit(client, new Set());
        await unit.loadGroup(['ten_a'], [], [{}]);
        await begun;
        const mark = unit.mark();
        const transactionId = unit.insertTransaction({
          idempotencyKey: 'reserve:req_undone',
          kind: 'reserve',
          tenantId: 'ten_a',
          requestId: 'req_undone',
          reference: null,
          amountMicro: 10n,
          atMs: 3,
        });
        unit.hold(transactionId, accountIds.wallet('ten_a'), accountIds.holds, 10n, 3);
        expect(unit.walletAvailableMicro('ten_a')).toBe(before - 10n);
        unit.rollbackTo(mark);
        expect(unit.walletAvailableMicro('ten_a')).toBe(before);
        await unit.flushAndCommit(commitWith);
      },
    );
    expect(await walletAvailable('ten_a')).toBe(before);
    const { rows } = await pool.query(
      `SELECT count(*)::int AS count FROM ledger_transactions
       WHERE idempotency_key = 'reserve:req_undone'`,
    );
    expect(rows[0]).toEqual({ count: 0 });
    await expectCheckHolds();
  });
});
