/**
 * The PostgreSQL ledger's journal, written and committed in one pipelined round trip
 * (postgres-ledger-journal.ts, postgres-journal-statement.ts): whatever it was given is written
 * whole and committed, with transfers taking the stored ids of the transactions inserted beside
 * them, in journal order; and when a guard refuses on the server (a balance change that would
 * overdraw a guarded account, a reservation to end that is no longer open) or any statement of
 * the batch fails, the COMMIT sent behind it rolls back instead and nothing of it is stored. A
 * refusal is told from other failures by its own SQLSTATE (refusalCodes), not its message.
 */
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { InsufficientFundsError } from '../src/billing/ledger-accounts.ts';
import { parseConfig } from '../src/config.ts';
import { migratePostgres } from '../src/runtime/node/postgres/postgres-database.ts';
import { refusalCodes } from '../src/runtime/node/postgres/postgres-journal-statement.ts';
import {
  type LedgerJournal,
  writeLedgerJournal,
} from '../src/runtime/node/postgres/postgres-ledger-journal.ts';
import { inTransaction } from '../src/runtime/node/postgres/postgres-transaction.ts';
import { createTestDatabase, quietPool, type TestDatabase } from './support/postgres-service.ts';

const limits = (() => {
  const parsed = parseConfig({});
  if (!parsed.ok) {
    throw new Error(parsed.message);
  }
  return parsed.config.limits;
})();

let database: TestDatabase;
let pool: pg.Pool;

beforeAll(async () => {
  database = await createTestDatabase(inject('postgresAdminUrl'));
  await migratePostgres(database.url, limits);
  pool = quietPool(database.url, 4);
  await pool.query(
    `INSERT INTO accounts (id, kind, owner_id, no_overdraft, debits_posted, credits_posted,
       debits_pending, credits_pending)
     VALUES ('wallet:t1', 'wallet', 't1', true, 0, 100, 0, 0),
       ('holds', 'holds', NULL, false, 0, 0, 0, 0), ('cash', 'cash', NULL, false, 0, 0, 0, 0)`,
  );
});

afterAll(async () => {
  await pool?.end();
  await database?.drop();
});

const emptyJournal: LedgerJournal = {
  accountsToCreate: [],
  transactions: [],
  transfers: [],
  balanceChanges: [],
  couponInserts: [],
  couponEnds: [],
  reservationInserts: [],
  reservationEnds: [],
  usageInserts: [],
};

/** A reserve of `amount` from the wallet of t1 for `requestId`, as the unit would journal it. */
function reserveJournal(requestId: string, amount: bigint): LedgerJournal {
  return {
    ...emptyJournal,
    transactions: [
      {
        provisionalId: -1,
        fields: {
          idempotencyKey: `reserve:${requestId}`,
          kind: 'reserve',
          tenantId: 't1',
          requestId,
          reference: null,
          amountMicro: amount,
          atMs: 1,
        },
      },
    ],
    transfers: [
      {
        transactionId: -1,
        debitAccountId: 'wallet:t1',
        creditAccountId: 'holds',
        amount,
        flag: 'pending',
        pendingId: null,
        atMs: 1,
      },
    ],
    balanceChanges: [
      {
        id: 'wallet:t1',
        guarded: true,
        debitsPosted: 0n,
        creditsPosted: 0n,
        debitsPending: amount,
        creditsPending: 0n,
      },
      {
        id: 'holds',
        guarded: false,
        debitsPosted: 0n,
        creditsPosted: 0n,
        debitsPending: 0n,
        creditsPending: amount,
      },
    ],
    reservationInserts: [
      {
        requestId,
        tenantId: 't1',
        keyId: 'k1',
        model: 'm',
        region: 'east',
        priceId: 'price-1',
        multiplierBps: 10_000,
        reservedAmount: amount,
        instanceId: 'i1',
        promptTokensEstimate: 10,
        admittedAtMs: 1,
      },
    ],
  };
}

function write(journal: LedgerJournal): Promise<(id: number) => number> {
  return inTransaction(
    pool,
    { retryCountMax: 0, isolation: 'read committed', readOnly: false },
    async (_client, { begun, commitWith }) => {
      await begun;
      return writeLedgerJournal(commitWith, journal);
    },
  );
}

async function walletPending(): Promise<bigint> {
  const result = await pool.query("SELECT debits_pending FROM accounts WHERE id = 'wallet:t1'");
  return BigInt(String((result.rows[0] as { debits_pending: unknown }).debits_pending));
}

async function countOf(table: string, requestId: string): Promise<number> {
  const result = await pool.query(`SELECT count(*) AS n FROM ${table} WHERE request_id = $1`, [
    requestId,
  ]);
  return Number((result.rows[0] as { n: unknown }).n);
}

describe('the journal written in one round trip with its COMMIT', () => {
  it('writes everything, transfers under the stored ids of their transactions, in order', async () => {
    const journal = reserveJournal('r-ok', 30n);
    journal.transactions.push({
      provisionalId: -2,
      fields: {
        idempotencyKey: 'topup:t1:ref',
        kind: 'topup',
        tenantId: 't1',
        requestId: null,
        reference: 'ref',
        amountMicro: 5n,
        atMs: 1,
      },
    });
    journal.transfers.push({
      transactionId: -2,
      debitAccountId: 'cash',
      creditAccountId: 'wallet:t1',
      amount: 5n,
      flag: 'posted',
      pendingId: null,
      atMs: 1,
    });
    const storedId = await write(journal);
    const transfers = await pool.query(
      `SELECT t.transaction_id, x.idempotency_key FROM transfers t
       JOIN ledger_transactions x ON x.id = t.transaction_id ORDER BY t.id`,
    );
    expect(
      (transfers.rows as { transaction_id: unknown; idempotency_key: string }[]).map((row) => [
        Number(row.transaction_id),
        row.idempotency_key,
      ]),
    ).toEqual([
      [storedId(-1), 'reserve:r-ok'],
      [storedId(-2), 'topup:t1:ref'],
    ]);
    expect(await walletPending()).toBe(30n);
    expect(await countOf('reservations', 'r-ok')).toBe(1);
  });

  it('commits nothing when a guard refuses a balance change on the server', async () => {
    // 100 credited, 30 held: a hold of 80 would leave the wallet below zero.
    const refusal = write(reserveJournal('r-over', 80n));
    await expect(refusal).rejects.toThrow(InsufficientFundsError);
    // Told by the statement's own SQLSTATE, not by its message.
    await expect(refusal).rejects.toMatchObject({ cause: { code: refusalCodes.guard } });
    expect(await walletPending()).toBe(30n);
    expect(await countOf('reservations', 'r-over')).toBe(0);
    expect(await countOf('ledger_transactions', 'r-over')).toBe(0);
  });

  it('commits nothing when a reservation to end is no longer open', async () => {
    const journal: LedgerJournal = {
      ...reserveJournal('r-second', 10n),
      reservationEnds: [{ requestId: 'r-missing', status: 'released', atMs: 2 }],
    };
    const refusal = write(journal);
    await expect(refusal).rejects.toThrow('0 of 1 reservation ends');
    await expect(refusal).rejects.toMatchObject({ cause: { code: refusalCodes.rows } });
    expect(await walletPending()).toBe(30n);
    expect(await countOf('reservations', 'r-second')).toBe(0);
  });

  it('commits nothing when a statement of the batch fails', async () => {
    // The idempotency key of the first test again: unique, so the insert fails.
    await expect(write(reserveJournal('r-ok', 10n))).rejects.toMatchObject({ code: '23505' });
    expect(await walletPending()).toBe(30n);
  });
});
