/**
 * Phase 3 of a PostgreSQL ledger unit (postgres-ledger-unit.ts): writing the journal of what the
 * operation did and committing, as one pipelined batch (postgres-pipeline.ts) with the COMMIT at
 * its end: one round trip whatever the operation, and no round trip of the client's between the
 * writes and the commit while the tenant's and the shared accounts' rows are locked. The server
 * runs the statements in this order: accounts and coupons created by the operation (rare: a
 * first grant, a provider's first payable), the shared accounts it changes locked in id order
 * when there are several, then everything else in one statement (postgres-journal-statement.ts):
 * transactions, transfers, the guarded balance changes, and the rows of coupons, reservations
 * and usage. That statement checks on the server that every guard let its change through and
 * every ended row was there, and fails otherwise, so the COMMIT behind it rolls back instead.
 */
import type pg from 'pg';
import { assert } from '../../../assert.ts';
import type { CouponTerms } from '../../../billing/ledger.ts';
import type { AccountKind } from '../../../billing/ledger-accounts.ts';
import type {
  NewReservationRow,
  TransactionFields,
  UsageRow,
} from '../../../billing/ledger-unit.ts';
import { columnList, postgresValueList, rowValues } from '../../../db/ledger-column.ts';
import { couponColumns, usageRecordColumns } from '../../../db/ledger-tables.ts';
import {
  couponProperties,
  storedCouponOf,
  storedUsageOf,
  usageProperties,
} from '../../ledger-row-codecs.ts';
import {
  journalRefusalOf,
  journalStatement,
  takeJournalAnswer,
} from './postgres-journal-statement.ts';
import type { Row } from './postgres-ledger-rows.ts';
import type { TransactionSteps } from './postgres-transaction.ts';

export type JournalTransfer = {
  transactionId: number;
  debitAccountId: string;
  creditAccountId: string;
  amount: bigint;
  flag: 'posted' | 'pending' | 'post_pending' | 'void_pending';
  pendingId: number | null;
  atMs: number;
};

export type BalanceChange = {
  id: string;
  /** A wallet or coupon: locked (or created) by its tenant's lock already. */
  guarded: boolean;
  debitsPosted: bigint;
  creditsPosted: bigint;
  debitsPending: bigint;
  creditsPending: bigint;
};

export type LedgerJournal = {
  accountsToCreate: { id: string; kind: AccountKind; ownerId: string | null; guarded: boolean }[];
  transactions: { provisionalId: number; fields: TransactionFields }[];
  transfers: JournalTransfer[];
  balanceChanges: BalanceChange[];
  couponInserts: (CouponTerms & { createdAtMs: number })[];
  couponEnds: { id: string; status: 'voided' | 'expired'; atMs: number }[];
  reservationInserts: NewReservationRow[];
  reservationEnds: { requestId: string; status: 'settled' | 'released'; atMs: number }[];
  usageInserts: UsageRow[];
};

const byId = (left: { id: string }, right: { id: string }) =>
  left.id < right.id ? -1 : left.id > right.id ? 1 : 0;

/** One statement of the batch, and what its answer says. */
type JournalStep = { statement: pg.QueryConfig; take?: (result: pg.QueryResult) => void };

/**
 * Writes the journal and commits, through `commitWith` (postgres-transaction.ts); returns the
 * stored id of each provisional transaction id. Every check that decides whether it commits ran
 * on the server; the answers read afterwards hold only the stored ids.
 */
export async function writeLedgerJournal(
  commitWith: TransactionSteps['commitWith'],
  journal: LedgerJournal,
): Promise<(provisionalId: number) => number> {
  const storedIds = new Map<number, number>();
  const ordered = { ...journal, balanceChanges: [...journal.balanceChanges].sort(byId) };
  const steps: JournalStep[] = [
    ...createAccountsSteps(journal.accountsToCreate),
    ...journal.couponInserts.map(insertCouponStep),
    ...lockSharedSteps(ordered.balanceChanges),
    ...(isEmpty(journal)
      ? []
      : [
          {
            statement: journalStatement(ordered),
            take: (result: pg.QueryResult) =>
              takeJournalAnswer(ordered, result.rows[0] as Row | undefined, storedIds),
          },
        ]),
  ];
  let results: pg.QueryResult[];
  try {
    results = await commitWith(steps.map((step) => step.statement));
  } catch (error) {
    throw journalRefusalOf(error) ?? error;
  }
  steps.forEach((step, index) => {
    const result = results[index];
    assert(result, 'every statement of the batch is answered');
    step.take?.(result);
  });
  return (id: number) => {
    if (id > 0) {
      return id;
    }
    const stored = storedIds.get(id);
    assert(stored !== undefined, `transaction ${id} was stored`);
    return stored;
  };
}

function isEmpty(journal: LedgerJournal): boolean {
  return (
    journal.transactions.length === 0 &&
    journal.transfers.length === 0 &&
    journal.balanceChanges.length === 0 &&
    journal.couponEnds.length === 0 &&
    journal.reservationInserts.length === 0 &&
    journal.reservationEnds.length === 0 &&
    journal.usageInserts.length === 0
  );
}

/**
 * Shared accounts are not locked yet. One alone cannot deadlock with anything (we wait on it
 * holding only our tenant's rows); several are locked in id order first.
 */
function lockSharedSteps(balanceChanges: readonly BalanceChange[]): JournalStep[] {
  const shared = balanceChanges.filter((change) => !change.guarded);
  if (shared.length <= 1) {
    return [];
  }
  return [
    {
      statement: {
        name: 'tb_lock_shared_accounts',
        text: `SELECT id FROM accounts WHERE id = ANY($1::text[]) ORDER BY id COLLATE "C" FOR UPDATE`,
        values: [shared.map((change) => change.id)],
      },
    },
  ];
}

function createAccountsSteps(accounts: LedgerJournal['accountsToCreate']): JournalStep[] {
  if (accounts.length === 0) {
    return [];
  }
  // In id order, like every other lock: two units creating the same two accounts never cross.
  const created = [...accounts].sort(byId);
  return [
    {
      statement: {
        name: 'tb_create_accounts',
        text: `INSERT INTO accounts (id, kind, owner_id, no_overdraft, debits_posted,
                 credits_posted, debits_pending, credits_pending)
               SELECT id, kind, owner_id, no_overdraft, 0, 0, 0, 0
               FROM unnest($1::text[], $2::text[], $3::text[], $4::boolean[])
                 AS d(id, kind, owner_id, no_overdraft)
               ON CONFLICT (id) DO NOTHING`,
        values: [
          created.map((account) => account.id),
          created.map((account) => account.kind),
          created.map((account) => account.ownerId),
          created.map((account) => account.guarded),
        ],
      },
    },
  ];
}

const insertCouponText = `INSERT INTO coupons (${columnList(couponColumns, couponProperties)})
  VALUES (${postgresValueList(couponColumns, couponProperties, (_name, index) => `$${index + 1}`)})`;

function insertCouponStep(coupon: CouponTerms & { createdAtMs: number }): JournalStep {
  return {
    statement: {
      name: 'tb_insert_coupon',
      text: insertCouponText,
      values: rowValues(couponColumns, couponProperties, storedCouponOf(coupon)),
    },
  };
}

/** JSON arrives as text, stored as jsonb. */
const insertUsageText = `INSERT INTO usage_records (${columnList(usageRecordColumns, usageProperties)})
  VALUES (${postgresValueList(usageRecordColumns, usageProperties, (_name, index) => `$${index + 1}`)})`;

function usageRowStatement(row: UsageRow): pg.QueryConfig {
  return {
    name: 'tb_insert_usage',
    text: insertUsageText,
    values: rowValues(usageRecordColumns, usageProperties, storedUsageOf(row)),
  };
}

export async function insertUsageRow(
  client: pg.ClientBase | pg.Pool,
  row: UsageRow,
): Promise<void> {
  await client.query(usageRowStatement(row));
}
