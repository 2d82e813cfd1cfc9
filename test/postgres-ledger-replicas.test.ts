/**
 * The PostgreSQL ledger as several replicas use it: each replica has its own connection pool on
 * one database. Bursts of reserves on one tenant from two pools at once never overdraw and admit
 * exactly what the money covers; settles racing on both pools charge once; voids and expiries
 * racing with reserves move each coupon's money once; several tenants at once contend for the
 * shared accounts without deadlocking. A transaction aborted for a conflict is retried with the
 * same input, a bounded number of times; and the job lease elects exactly one leader among N
 * replicas, handing over when the leader's session dies.
 */
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { PinnedPrice } from '../src/billing/cost.ts';
import type { Ledger, ReserveInput } from '../src/billing/ledger.ts';
import { parseConfig } from '../src/config.ts';
import { silentLogger } from '../src/platform/logger.ts';
import { migratePostgres } from '../src/runtime/node/postgres/postgres-database.ts';
import { createPostgresJobLease } from '../src/runtime/node/postgres/postgres-job-lease.ts';
import { openPostgresLedger } from '../src/runtime/node/postgres/postgres-ledger.ts';
import {
  inTransaction,
  TransactionConflictError,
} from '../src/runtime/node/postgres/postgres-transaction.ts';
import { createTestDatabase, quietPool, type TestDatabase } from './support/postgres-service.ts';

const limits = (() => {
  const parsed = parseConfig({});
  if (!parsed.ok) {
    throw new Error(parsed.message);
  }
  return parsed.config.limits;
})();

const price: PinnedPrice = {
  priceId: 'price-1',
  inputPerMillion: 1_000_000n,
  cachedInputPerMillion: 0n,
  outputPerMillion: 2_000_000n,
  multiplierBps: 10_000,
};
/** 100 prompt tokens at 1 micro-unit each and 50 output tokens at 2. */
const estimateMicro = 200n;
const servedBy = { backendId: 'backend-east', providerId: 'provider-1', region: 'east' };
const everything = { fromMs: 0, toMs: Number.MAX_SAFE_INTEGER };

let database: TestDatabase;
const pools: pg.Pool[] = [];

beforeAll(async () => {
  database = await createTestDatabase(inject('postgresAdminUrl'));
  await migratePostgres(database.url, limits);
  const seed = new pg.Client({ connectionString: database.url });
  await seed.connect();
  await seed.query(
    `INSERT INTO providers (id, name, payout_bps, token_hash, created_at_ms)
     VALUES ('provider-1', 'provider', 7000, 'hash', 0)`,
  );
  await seed.end();
});

afterAll(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.end()));
  await database?.drop();
});

/** A replica's link to the store: its own pool, its own ledger. */
async function replica(connectionsMax = 8): Promise<Ledger> {
  const pool = quietPool(database.url, connectionsMax);
  pools.push(pool);
  return openPostgresLedger(pool, { retryCountMax: limits.ledgerConflictRetryCountMax });
}

async function addTenant(tenantId: string): Promise<void> {
  await pools[0]?.query(
    `INSERT INTO tenants (id, name, home_region, allowed_regions, allow_max_tokens_clamp, created_at_ms)
     VALUES ($1, $1, NULL, NULL, false, 0)`,
    [tenantId],
  );
}

function reserveInput(tenantId: string, requestId: string, atMs: number): ReserveInput {
  return {
    requestId,
    tenantId,
    keyId: `key-${tenantId}`,
    model: 'model-a',
    region: 'east',
    price,
    promptTokensEstimate: 100,
    outputTokensMax: 50,
    clampAllowed: false,
    atMs,
    instanceId: 'gateway',
  };
}

function settleInput(requestId: string, atMs: number) {
  return {
    requestId,
    usage: {
      inputTokens: 100,
      cachedInputTokens: 0,
      outputTokens: 50,
      reasoningTokens: undefined,
      source: 'provider' as const,
    },
    outcome: 'complete' as const,
    servedBy,
    price,
    atMs,
  };
}

/** A wallet and coupons by priority; the first coupon expires at `firstExpiresAtMs`. */
async function fundTenant(
  ledger: Ledger,
  tenantId: string,
  walletMicro: bigint,
  coupons: bigint[],
  firstExpiresAtMs: number | null = null,
) {
  await ledger.topUp({ tenantId, amountMicro: walletMicro, reference: 'deposit', atMs: 0 });
  for (const [index, amountMicro] of coupons.entries()) {
    await ledger.grantCoupon({
      id: `${tenantId}-coupon-${index}`,
      tenantId,
      kind: 'compute',
      program: 'gov-compute',
      amountMicro,
      coverageBps: 10_000,
      models: null,
      regions: null,
      priority: 10 + index,
      startsAtMs: 0,
      expiresAtMs: index === 0 ? firstExpiresAtMs : null,
      reference: `voucher-${index}`,
      atMs: 0,
    });
  }
}

async function freeMoneyOf(ledger: Ledger, tenantId: string) {
  const money = await ledger.tenantMoney(tenantId, 0);
  return {
    freeMicro:
      money.walletBalanceMicro +
      money.coupons.reduce((sum, coupon) => sum + coupon.remainingMicro, 0n),
    heldMicro: money.holdsMicro,
    overdrawn:
      money.walletBalanceMicro < 0n || money.coupons.some((coupon) => coupon.remainingMicro < 0n),
  };
}

describe('the PostgreSQL ledger shared by replicas', () => {
  it('admits exactly what the money covers when two replicas burst reserves on one tenant', async () => {
    const replicas = [await replica(), await replica()];
    const [first, second] = replicas as [Ledger, Ledger];
    const tenantId = 'tenant-burst';
    await addTenant(tenantId);
    const covered = 137;
    const spareMicro = estimateMicro - 1n;
    const moneyMicro = BigInt(covered) * estimateMicro + spareMicro;
    await fundTenant(first, tenantId, moneyMicro - 6_000n, [2_000n, 4_000n]);

    // 300 reserves at once, alternating replicas, with money for 137; sampled while they run.
    let samples = 0;
    let bursting = true;
    const sampler = (async () => {
      while (bursting) {
        const money = await freeMoneyOf(second, tenantId);
        expect(money.overdrawn).toBe(false);
        expect(money.heldMicro <= BigInt(covered) * estimateMicro).toBe(true);
        samples += 1;
      }
    })();
    const results = await Promise.all(
      Array.from({ length: 300 }, (_, index) =>
        (index % 2 === 0 ? first : second).reserve(
          reserveInput(tenantId, `burst-${index}`, 1 + index),
        ),
      ),
    ).finally(() => {
      bursting = false;
    });
    await sampler;
    expect(samples).toBeGreaterThan(0);
    const admitted = results.flatMap((result, index) => (result.ok ? [`burst-${index}`] : []));
    expect(admitted).toHaveLength(covered);
    expect(await freeMoneyOf(first, tenantId)).toEqual({
      freeMicro: spareMicro,
      heldMicro: BigInt(covered) * estimateMicro,
      overdrawn: false,
    });

    // Every admitted request settled on both replicas at once: one charge, one duplicate.
    const settled = await Promise.all(
      admitted.flatMap((requestId, index) => [
        first.settle(settleInput(requestId, 1_000 + index)),
        second.settle(settleInput(requestId, 1_000 + index)),
      ]),
    );
    expect(settled.filter((result) => result.duplicate)).toHaveLength(covered);
    expect(settled.filter((result) => !result.duplicate)).toHaveLength(covered);
    for (const result of settled) {
      expect(result.costMicro).toBe(estimateMicro);
    }
    expect(await freeMoneyOf(second, tenantId)).toEqual({
      freeMicro: spareMicro,
      heldMicro: 0n,
      overdrawn: false,
    });
    const records = await first.usage(tenantId, everything);
    expect(records.map((record) => record.requestId).sort()).toEqual([...admitted].sort());
    expect((await second.check()).problems).toEqual([]);
  });

  it('moves a coupon once when voids and expiries race with reserves on two replicas', async () => {
    const [first, second] = [await replica(), await replica()];
    const tenantId = 'tenant-ending';
    await addTenant(tenantId);
    await fundTenant(first, tenantId, 20_000n, [3_000n, 5_000n], 5_000);
    const operations = Array.from({ length: 120 }, (_, index) => {
      const ledger = index % 2 === 0 ? first : second;
      if (index % 10 === 3) {
        return ledger.voidCoupon(`${tenantId}-coupon-1`, 6_000 + index);
      }
      if (index % 10 === 7) {
        return ledger.expireCoupons(6_000 + index);
      }
      return ledger.reserve(reserveInput(tenantId, `ending-${index}`, 6_000 + index));
    });
    const outcomes = await Promise.all(operations);
    const expiries = outcomes.filter((outcome): outcome is number => typeof outcome === 'number');
    expect(expiries.reduce((sum, count) => sum + count, 0)).toBe(1);
    const entries = await first.entries(tenantId, 10_000);
    const endings = entries.filter((entry) => entry.kind === 'void' || entry.kind === 'expire');
    expect(new Set(endings.map((entry) => entry.debitAccountId)).size).toBe(endings.length);
    expect((await second.coupon(`${tenantId}-coupon-0`))?.status).toBe('expired');
    expect((await first.coupon(`${tenantId}-coupon-1`))?.status).toBe('voided');
    const checked = await second.check();
    expect(checked.problems).toEqual([]);
    const money = await freeMoneyOf(first, tenantId);
    expect(money.overdrawn).toBe(false);
  });

  it('serves many tenants on many replicas at once without a deadlock or a lost update', async () => {
    const replicas = [await replica(4), await replica(4), await replica(4)];
    const tenants = ['tenant-a', 'tenant-b', 'tenant-c', 'tenant-d'];
    for (const tenantId of tenants) {
      await addTenant(tenantId);
      await fundTenant(replicas[0] as Ledger, tenantId, 3_000n, [1_000n]);
    }
    // Every operation touches the shared `holds`, `revenue` and provider accounts.
    let roundNumber = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat({ max: 3 }), fc.nat({ max: 2 }), fc.boolean()), {
          minLength: 20,
          maxLength: 60,
        }),
        async (plan) => {
          roundNumber += 1;
          const round = `round-${roundNumber}`;
          const reserved = await Promise.all(
            plan.map(([tenantIndex, replicaIndex], index) =>
              (replicas[replicaIndex] as Ledger)
                .reserve(
                  reserveInput(
                    tenants[tenantIndex] ?? 'tenant-a',
                    `${round}-${index}`,
                    10_000 + index,
                  ),
                )
                .then((result) => ({ result, index, replicaIndex })),
            ),
          );
          await Promise.all(
            reserved.flatMap(({ result, index, replicaIndex }): Promise<unknown>[] => {
              if (!result.ok) {
                return [];
              }
              const ledger = replicas[(replicaIndex + 1) % replicas.length] as Ledger;
              return plan[index]?.[2]
                ? [ledger.settle(settleInput(`${round}-${index}`, 20_000 + index))]
                : [
                    ledger.release({
                      requestId: `${round}-${index}`,
                      outcome: 'upstream_error',
                      servedBy: undefined,
                      atMs: 20_000 + index,
                    }),
                  ];
            }),
          );
          for (const tenantId of tenants) {
            const money = await freeMoneyOf(replicas[2] as Ledger, tenantId);
            expect(money.heldMicro).toBe(0n);
            expect(money.overdrawn).toBe(false);
          }
        },
      ),
      { seed: 20_261_126, numRuns: 12 },
    );
    expect((await (replicas[1] as Ledger).check()).problems).toEqual([]);
  });
});

describe('a ledger transaction aborted for a conflict', () => {
  it('runs again with the same input, at most the configured number of times', async () => {
    const pool = quietPool(database.url, 2);
    pools.push(pool);
    const conflict = (code: string) => Object.assign(new Error(`conflict ${code}`), { code });
    let attempts = 0;
    const answer = await inTransaction(
      pool,
      { retryCountMax: 3, isolation: 'read committed', readOnly: false },
      async (client) => {
        attempts += 1;
        await client.query('SELECT 1');
        if (attempts <= 2) {
          throw conflict(attempts === 1 ? '40001' : '40P01');
        }
        return 'committed';
      },
    );
    expect(answer).toBe('committed');
    expect(attempts).toBe(3);

    attempts = 0;
    await expect(
      inTransaction(
        pool,
        { retryCountMax: 2, isolation: 'read committed', readOnly: false },
        async () => {
          attempts += 1;
          throw conflict('40001');
        },
      ),
    ).rejects.toThrow(TransactionConflictError);
    expect(attempts).toBe(3);

    attempts = 0;
    await expect(
      inTransaction(
        pool,
        { retryCountMax: 5, isolation: 'read committed', readOnly: false },
        async () => {
          attempts += 1;
          throw conflict('23505');
        },
      ),
    ).rejects.toThrow('conflict 23505');
    expect(attempts, 'other errors are not retried').toBe(1);
  });

  it('survives a real deadlock: the loser is retried and both commit', async () => {
    const pool = quietPool(database.url, 4);
    pools.push(pool);
    await pool.query(`CREATE TABLE IF NOT EXISTS deadlock_probe (id int PRIMARY KEY, n int)`);
    await pool.query(`INSERT INTO deadlock_probe VALUES (1, 0), (2, 0) ON CONFLICT DO NOTHING`);
    let bothLocked: () => void = () => undefined;
    let lockedCount = 0;
    const bothHoldOne = new Promise<void>((resolve) => {
      bothLocked = resolve;
    });
    const attempts = [0, 0];
    const crossing = (first: number, second: number, index: number) =>
      inTransaction(
        pool,
        { retryCountMax: 3, isolation: 'read committed', readOnly: false },
        async (client) => {
          attempts[index] = (attempts[index] ?? 0) + 1;
          await client.query('UPDATE deadlock_probe SET n = n + 1 WHERE id = $1', [first]);
          if ((attempts[index] ?? 0) === 1) {
            lockedCount += 1;
            if (lockedCount === 2) {
              bothLocked();
            }
            await bothHoldOne;
          }
          await client.query('UPDATE deadlock_probe SET n = n + 1 WHERE id = $1', [second]);
        },
      );
    await Promise.all([crossing(1, 2, 0), crossing(2, 1, 1)]);
    // At least the deadlock's loser ran again; under load the server may abort a retry as well,
    // but never more than the retry bound, and each transaction's effect lands exactly once.
    const attemptCount = (attempts[0] ?? 0) + (attempts[1] ?? 0);
    expect(attemptCount).toBeGreaterThanOrEqual(3);
    expect(attemptCount).toBeLessThanOrEqual(2 * (3 + 1));
    const rows = (await pool.query('SELECT n FROM deadlock_probe ORDER BY id')).rows as {
      n: number;
    }[];
    expect(rows.map((row) => row.n)).toEqual([2, 2]);
  });
});

describe('the job lease on PostgreSQL', () => {
  it('elects exactly one leader among five replicas and hands over when it goes', async () => {
    const leases = Array.from({ length: 5 }, () =>
      createPostgresJobLease(database.url, limits, silentLogger),
    );
    try {
      const first = await Promise.all(leases.map((lease) => lease.acquire()));
      expect(first.filter(Boolean)).toHaveLength(1);
      const leaderIndex = first.indexOf(true);
      // Asked again, nothing changes: the leader keeps it, the others are still refused.
      for (let round = 0; round < 3; round += 1) {
        const again = await Promise.all(leases.map((lease) => lease.acquire()));
        expect(again.indexOf(true)).toBe(leaderIndex);
        expect(again.filter(Boolean)).toHaveLength(1);
        expect(leases.map((lease) => lease.held)).toEqual(again);
      }

      // A clean shutdown gives it up: exactly one of the others takes it.
      await leases[leaderIndex]?.release();
      const others = leases.filter((_, index) => index !== leaderIndex);
      const handedOver = await Promise.all(others.map((lease) => lease.acquire()));
      expect(handedOver.filter(Boolean)).toHaveLength(1);
      const successor = others[handedOver.indexOf(true)];

      // The successor's session dies as with kill -9: the server drops its lock and exactly one
      // of the others takes it; the old leader, should it still run, finds it taken.
      const admin = new pg.Client({ connectionString: database.url });
      await admin.connect();
      await admin.query(
        `SELECT pg_terminate_backend(pid) FROM pg_locks
         WHERE locktype = 'advisory' AND granted AND database = (
           SELECT oid FROM pg_database WHERE datname = current_database())`,
      );
      await admin.end();
      const survivors = others.filter((lease) => lease !== successor);
      const afterCrash = await Promise.all(survivors.map((lease) => lease.acquire()));
      expect(afterCrash.filter(Boolean)).toHaveLength(1);
      expect(await successor?.acquire()).toBe(false);
      expect(successor?.held).toBe(false);
    } finally {
      await Promise.all(leases.map((lease) => lease.release()));
    }
  });
});
