/**
 * The SQLite ledger's lean journal (DESIGN.md §4, migration 0012_lean_journal): a request writes
 * its reservation and its usage record and nothing else, while the views `ledger_transactions`
 * and `transfers` still show every transaction and transfer it made, as the tables did before,
 * and the ledger check recomputes every balance from them. A database written before the
 * migration keeps its rows' meaning, and a reservation left open then still settles after it.
 */
import Database from 'better-sqlite3';
import { migrate as migrateSqliteFrom } from 'drizzle-orm/better-sqlite3/migrator';
import { afterEach, describe, expect, it } from 'vitest';
import type { PinnedPrice } from '../src/billing/cost.ts';
import type { Ledger } from '../src/billing/ledger.ts';
import {
  migrateSqlite,
  migrationsFolder,
  type OpenedSqlite,
  openSqlite,
} from '../src/runtime/node/sqlite/sqlite-database.ts';
import { createSqliteLedger } from '../src/runtime/node/sqlite/sqlite-ledger.ts';
import { gatewayClient } from './support/openai-client.ts';
import { migrationsBefore } from './support/partial-migrations.ts';
import { pollUntil } from './support/poll-until.ts';
import { firstTenant, seedPool, startGatewayWithSimulators } from './support/seeded-pool.ts';

const price: PinnedPrice = {
  priceId: 'price-1',
  inputPerMillion: 1_000_000n,
  cachedInputPerMillion: 0n,
  outputPerMillion: 1_000_000n,
  multiplierBps: 10_000,
};
const servedBy = { backendId: 'backend-1', providerId: 'provider-1', region: 'east' };
const seedSql = `INSERT INTO tenants
    (id, name, home_region, allowed_regions, allow_max_tokens_clamp, created_at_ms)
    VALUES ('tenant-1', 'tenant-1', NULL, NULL, 0, 0);
  INSERT INTO providers (id, name, payout_bps, token_hash, created_at_ms)
    VALUES ('provider-1', 'provider-1', 5000, 'hash', 0);`;

function reserveInput(requestId: string, atMs: number) {
  return {
    requestId,
    tenantId: 'tenant-1',
    keyId: 'key-1',
    model: 'model-a',
    region: 'east',
    price,
    promptTokensEstimate: 100,
    outputTokensMax: 100,
    clampAllowed: false,
    atMs,
    instanceId: 'instance-1',
  };
}

function settleInput(requestId: string, atMs: number) {
  return {
    requestId,
    usage: {
      inputTokens: 50,
      cachedInputTokens: 0,
      outputTokens: 30,
      reasoningTokens: undefined,
      source: 'provider' as const,
    },
    outcome: 'complete' as const,
    servedBy,
    price,
    atMs,
  };
}

type Counts = Record<string, number>;

function rowCounts(opened: Pick<OpenedSqlite, 'connection'>): Counts {
  const tables = [
    'journal_transactions',
    'journal_transfers',
    'reservations',
    'usage_records',
    'ledger_transactions',
    'transfers',
  ];
  return Object.fromEntries(
    tables.map((table) => [
      table,
      Number(opened.connection.prepare(`SELECT COUNT(*) FROM ${table}`).pluck().get()),
    ]),
  );
}

function difference(after: Counts, before: Counts): Counts {
  return Object.fromEntries(
    Object.entries(after).map(([table, count]) => [table, count - (before[table] ?? 0)]),
  );
}

/** The transfers of a request's transaction as the view shows them, in id order. */
function transfersOf(opened: OpenedSqlite, idempotencyKey: string) {
  return opened.connection
    .prepare(
      `SELECT t.id, t.debit_account_id AS debit, t.credit_account_id AS credit, t.amount, t.flag,
         t.pending_id AS pendingId
       FROM transfers t JOIN ledger_transactions x ON x.id = t.transaction_id
       WHERE x.idempotency_key = ? ORDER BY t.id`,
    )
    .all(idempotencyKey) as {
    id: number;
    debit: string;
    credit: string;
    amount: number;
    flag: string;
    pendingId: number | null;
  }[];
}

describe('the lean journal of the SQLite ledger', () => {
  let opened: OpenedSqlite;
  let ledger: Ledger;

  const open = async () => {
    opened = openSqlite(':memory:');
    migrateSqlite(opened);
    opened.connection.exec(seedSql);
    ledger = createSqliteLedger(opened.connection);
    await ledger.topUp({ tenantId: 'tenant-1', amountMicro: 1_000_000n, reference: 'p', atMs: 0 });
    await ledger.grantCoupon({
      id: 'coupon-1',
      tenantId: 'tenant-1',
      kind: 'compute',
      program: 'program-1',
      amountMicro: 1_000_000n,
      coverageBps: 5_000,
      models: null,
      regions: null,
      priority: 50,
      startsAtMs: 0,
      expiresAtMs: null,
      reference: 'grant-1',
      atMs: 0,
    });
  };
  afterEach(() => opened.close());

  it('writes two rows for a request, from which its two transactions and six transfers derive', async () => {
    await open();
    const before = rowCounts(opened);
    await ledger.reserve(reserveInput('request-1', 1));
    await ledger.settle(settleInput('request-1', 2));

    // Before the lean journal the same request wrote 2 transactions and 6 transfers as rows too.
    expect(difference(rowCounts(opened), before)).toEqual({
      journal_transactions: 0,
      journal_transfers: 0,
      reservations: 1,
      usage_records: 1,
      ledger_transactions: 2,
      transfers: 6,
    });
    const holds = transfersOf(opened, 'reserve:request-1');
    // 200 reserved: the coupon covers half of it, the wallet the rest.
    expect(holds.map(({ id, ...rest }) => rest)).toEqual([
      { debit: 'coupon:coupon-1', credit: 'holds', amount: 100, flag: 'pending', pendingId: null },
      { debit: 'wallet:tenant-1', credit: 'holds', amount: 100, flag: 'pending', pendingId: null },
    ]);
    const [couponHold, walletHold] = holds;
    // 80 charged: 40 from each hold; the provider gets half of it, revenue the rest.
    expect(transfersOf(opened, 'settle:request-1').map(({ id, ...rest }) => rest)).toEqual([
      {
        debit: 'coupon:coupon-1',
        credit: 'holds',
        amount: 40,
        flag: 'post_pending',
        pendingId: couponHold?.id,
      },
      {
        debit: 'wallet:tenant-1',
        credit: 'holds',
        amount: 40,
        flag: 'post_pending',
        pendingId: walletHold?.id,
      },
      {
        debit: 'holds',
        credit: 'provider_payable:provider-1',
        amount: 40,
        flag: 'posted',
        pendingId: null,
      },
      { debit: 'holds', credit: 'revenue', amount: 40, flag: 'posted', pendingId: null },
    ]);
    // The tenant's entries read the derived transfers of its own accounts as they read rows.
    const entries = await ledger.entries('tenant-1', 10);
    expect(entries.filter((entry) => entry.requestId === 'request-1')).toHaveLength(4);
    expect(await ledger.check()).toMatchObject({ ok: true, problems: [] });
  });

  it('numbers derived and kept rows from one sequence, and voids every hold of a release', async () => {
    await open();
    await ledger.reserve(reserveInput('request-1', 1));
    const before = rowCounts(opened);
    await ledger.topUp({ tenantId: 'tenant-1', amountMicro: 5n, reference: 'q', atMs: 2 });
    await ledger.release({
      requestId: 'request-1',
      outcome: 'upstream_error',
      servedBy: undefined,
      atMs: 3,
    });
    // The top-up is kept in full; the release is carried by the usage record.
    expect(difference(rowCounts(opened), before)).toEqual({
      journal_transactions: 1,
      journal_transfers: 1,
      reservations: 0,
      usage_records: 1,
      ledger_transactions: 2,
      transfers: 3,
    });
    const transactions = opened.connection
      .prepare('SELECT id, idempotency_key AS key FROM ledger_transactions ORDER BY id')
      .all() as { id: number; key: string }[];
    expect(transactions.map((transaction) => transaction.key)).toEqual([
      'topup:tenant-1:p',
      'grant:tenant-1:grant-1',
      'reserve:request-1',
      'topup:tenant-1:q',
      'release:request-1',
    ]);
    expect(new Set(transactions.map((transaction) => transaction.id)).size).toBe(5);
    const transferIds = opened.connection.prepare('SELECT id FROM transfers').pluck().all();
    expect(new Set(transferIds).size).toBe(transferIds.length);
    expect(
      transfersOf(opened, 'release:request-1').map((transfer) => [transfer.flag, transfer.amount]),
    ).toEqual([
      ['void_pending', 100],
      ['void_pending', 100],
    ]);
    expect(await ledger.check()).toMatchObject({ ok: true, problems: [] });
  });

  it('changes a derived row only through its record', async () => {
    await open();
    await ledger.reserve(reserveInput('request-1', 1));
    expect(() =>
      opened.connection.exec(
        `UPDATE transfers SET amount = 1 WHERE transaction_id =
          (SELECT id FROM ledger_transactions WHERE idempotency_key = 'reserve:request-1')`,
      ),
    ).toThrow(/changed through its reservation or usage record/);
    expect(() =>
      opened.connection.exec(
        `DELETE FROM ledger_transactions WHERE idempotency_key = 'reserve:request-1'`,
      ),
    ).toThrow(/changed through its reservation or usage record/);
    // A row kept in full changes through the view as it did in the table (the check's own tests).
    opened.connection.exec(
      `UPDATE ledger_transactions SET amount = 7 WHERE idempotency_key = 'topup:tenant-1:p'`,
    );
    expect(
      opened.connection
        .prepare(
          `SELECT amount FROM journal_transactions WHERE idempotency_key = 'topup:tenant-1:p'`,
        )
        .pluck()
        .get(),
    ).toBe(7);
  });
});

describe('the lean journal migration', () => {
  it('keeps what rows written before it mean, and settles a reservation they left open', async () => {
    const opened = openSqlite(':memory:');
    const before = migrationsBefore(migrationsFolder, '0012_lean_journal');
    try {
      migrateSqliteFrom(opened.database, { migrationsFolder: before.folder });
      // As the journal was written before: a top-up of 10,000; request-old reserved 3,000 and
      // settled 2,000 (half to the provider); request-open reserved 4,000 and is still open.
      opened.connection.exec(`${seedSql}
        INSERT INTO accounts VALUES
          ('wallet:tenant-1', 'wallet', 'tenant-1', 1, 2000, 10000, 4000, 0),
          ('cash', 'cash', NULL, 0, 10000, 0, 0, 0),
          ('holds', 'holds', NULL, 0, 2000, 2000, 0, 4000),
          ('revenue', 'revenue', NULL, 0, 0, 1000, 0, 0),
          ('provider_payable:provider-1', 'provider_payable', 'provider-1', 0, 0, 1000, 0, 0);
        INSERT INTO ledger_transactions (id, idempotency_key, kind, tenant_id, request_id, reference, amount, created_at_ms) VALUES
          (1, 'topup:p', 'topup', 'tenant-1', NULL, 'p', 10000, 0),
          (2, 'reserve:request-old', 'reserve', 'tenant-1', 'request-old', NULL, 3000, 1),
          (3, 'settle:request-old', 'settle', 'tenant-1', 'request-old', NULL, 2000, 2),
          (4, 'reserve:request-open', 'reserve', 'tenant-1', 'request-open', NULL, 4000, 3);
        INSERT INTO transfers (id, transaction_id, debit_account_id, credit_account_id, amount, flag, pending_id, created_at_ms) VALUES
          (1, 1, 'cash', 'wallet:tenant-1', 10000, 'posted', NULL, 0),
          (2, 2, 'wallet:tenant-1', 'holds', 3000, 'pending', NULL, 1),
          (3, 3, 'wallet:tenant-1', 'holds', 2000, 'post_pending', 2, 2),
          (4, 3, 'holds', 'provider_payable:provider-1', 1000, 'posted', NULL, 2),
          (5, 3, 'holds', 'revenue', 1000, 'posted', NULL, 2),
          (6, 4, 'wallet:tenant-1', 'holds', 4000, 'pending', NULL, 3);
        INSERT INTO reservations (request_id, tenant_id, key_id, model, region, price_id, multiplier_bps,
            reserved_amount, status, instance_id, prompt_tokens_estimate, admitted_at_ms, ended_at_ms) VALUES
          ('request-old', 'tenant-1', 'key-1', 'model-a', 'east', 'price-1', 10000, 3000, 'settled', 'old', 100, 1, 2),
          ('request-open', 'tenant-1', 'key-1', 'model-a', 'east', 'price-1', 10000, 4000, 'reserved', 'old', 100, 3, NULL);
        INSERT INTO usage_records (request_id, tenant_id, key_id, model, region, backend_id, provider_id,
            input_tokens, cached_input_tokens, output_tokens, outcome, cost, provider_share, paid_by,
            price_id, created_at_ms, settled_at_ms) VALUES
          ('request-old', 'tenant-1', 'key-1', 'model-a', 'east', 'backend-1', 'provider-1', 1000, 0, 1000,
            'complete', 2000, 1000, '[{"source":"wallet","id":null,"kind":"wallet","amount":"0.002"}]',
            'price-1', 1, 2);`);
      migrateSqlite(opened);

      const counts = rowCounts(opened);
      expect(counts).toMatchObject({ ledger_transactions: 4, transfers: 6 });
      expect(counts.journal_transactions).toBe(4);
      const ledger = createSqliteLedger(opened.connection);
      expect(await ledger.check()).toMatchObject({ ok: true, problems: [] });

      // The open reservation's hold is a transfer kept in full; its settlement is lean.
      const settled = await ledger.settle(settleInput('request-open', 4));
      expect(settled).toMatchObject({
        costMicro: 80n,
        duplicate: false,
        walletAvailableMicro: 10_000n - 2_000n - 80n,
      });
      expect(transfersOf(opened, 'settle:request-open').map(({ id, ...rest }) => rest)).toEqual([
        {
          debit: 'wallet:tenant-1',
          credit: 'holds',
          amount: 80,
          flag: 'post_pending',
          pendingId: 6,
        },
        {
          debit: 'holds',
          credit: 'provider_payable:provider-1',
          amount: 40,
          flag: 'posted',
          pendingId: null,
        },
        { debit: 'holds', credit: 'revenue', amount: 40, flag: 'posted', pendingId: null },
      ]);
      // New rows are numbered after the old ones.
      expect(transfersOf(opened, 'settle:request-open').every((transfer) => transfer.id > 6)).toBe(
        true,
      );
      expect(difference(rowCounts(opened), counts)).toMatchObject({
        journal_transactions: 0,
        journal_transfers: 0,
        usage_records: 1,
      });
      expect(await ledger.check()).toMatchObject({ ok: true, problems: [] });
    } finally {
      before.remove();
      opened.close();
    }
  });
});

describe('the lean journal on the gateway path', () => {
  it('writes a reservation and a usage record per request, and no transaction or transfer row', async () => {
    const adminToken = 'tba-lean-journal-admin-token-0123456789';
    const pool = await startGatewayWithSimulators({
      adminToken,
      simulators: { east: ['--region', 'east', '--models', 'lean-a', '--decode-tps', '20000'] },
    });
    try {
      const seeded = await seedPool(pool.call, adminToken, {
        backends: [{ url: pool.simulators.east.url, region: 'east', models: ['lean-a'] }],
        tenants: [{ tenant: { name: 'sme' }, topUp: '100' }],
      });
      const client = gatewayClient({
        baseURL: `${pool.gateway.url}/v1`,
        apiKey: firstTenant(seeded).apiKey,
        timeoutMs: 20_000,
      });
      const reader = new Database(pool.gateway.databasePath, { readonly: true });
      try {
        const before = rowCounts({ connection: reader });
        const requestCount = 5;
        for (let index = 0; index < requestCount; index += 1) {
          await client.chat.completions.create({
            model: 'lean-a',
            messages: [{ role: 'user', content: 'hello' }],
            max_tokens: 8,
          });
        }
        // The settlement is durable within a turn of the answer: poll for the last record.
        const after = await pollUntil(() => {
          const counts = rowCounts({ connection: reader });
          const settled = (counts.usage_records ?? 0) - (before.usage_records ?? 0);
          return settled === requestCount ? counts : undefined;
        }, 'every request settled');
        expect(difference(after, before)).toEqual({
          journal_transactions: 0,
          journal_transfers: 0,
          reservations: requestCount,
          usage_records: requestCount,
          ledger_transactions: 2 * requestCount,
          // A hold on the wallet, its posting, the provider's share and revenue.
          transfers: 4 * requestCount,
        });
      } finally {
        reader.close();
      }
      expect(
        await (
          await fetch(`${pool.gateway.url}/admin/v1/ledger/check`, {
            headers: { authorization: `Bearer ${adminToken}` },
          })
        ).json(),
      ).toMatchObject({ ok: true, problems: [] });
    } finally {
      await pool.stop();
    }
  });
});
