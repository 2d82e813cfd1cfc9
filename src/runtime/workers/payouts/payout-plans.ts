/**
 * The payouts of one provider as its Durable Object records them (tables payout_plans and
 * payout_plan_parts of drizzle/): each payout with the part each tenant's object pays, recorded
 * before any money moves and completed once every part moved (provider-payouts.ts). A payout
 * counts as paid (listed, summed in paidOut) once completed.
 */
import { assert } from '../../../assert.ts';
import type { PayoutInput, PayoutRecord, TimeRange } from '../../../billing/ledger.ts';
import type { DurableSql, SqlRow } from '../durable-sql.ts';

/** What one tenant's object pays of a payout, from what it owes the provider. */
export type PayoutPart = { tenantId: string; amountMicro: bigint };

export type PayoutPlan = { record: PayoutRecord; parts: PayoutPart[] };

export type PayoutPlans = {
  byReference(providerId: string, reference: string): PayoutPlan | undefined;
  /** Every plan some part of which may not have moved yet, oldest first. */
  unfinished(): PayoutPlan[];
  /** Records a plan; run inside the storage's transaction with its parts. */
  insert(input: PayoutInput, parts: readonly PayoutPart[]): PayoutPlan;
  complete(planId: number, atMs: number): void;
  /** The newest `limit` completed payouts, newest first. */
  completed(providerId: string, limit: number): PayoutRecord[];
  paidOut(providerId: string, range: TimeRange): bigint;
};

const planSelect = `SELECT id, provider_id AS providerId, reference, CAST(amount AS TEXT) AS amount,
  note, created_at_ms AS createdAtMs FROM payout_plans`;

function recordOf(row: SqlRow): PayoutRecord {
  return {
    transactionId: Number(row.id),
    providerId: String(row.providerId),
    amountMicro: BigInt(String(row.amount)),
    reference: String(row.reference),
    note: row.note === null ? null : String(row.note),
    createdAtMs: Number(row.createdAtMs),
  };
}

export function payoutPlans(sql: DurableSql): PayoutPlans {
  const planOf = (row: SqlRow): PayoutPlan => ({
    record: recordOf(row),
    parts: sql
      .all(
        `SELECT tenant_id AS tenantId, CAST(amount AS TEXT) AS amount FROM payout_plan_parts
         WHERE plan_id = ? ORDER BY tenant_id`,
        row.id,
      )
      .map((part) => ({
        tenantId: String(part.tenantId),
        amountMicro: BigInt(String(part.amount)),
      })),
  });
  return {
    byReference(providerId, reference) {
      const row = sql.first(
        `${planSelect} WHERE provider_id = ? AND reference = ?`,
        providerId,
        reference,
      );
      return row && planOf(row);
    },
    unfinished: () =>
      sql.all(`${planSelect} WHERE completed_at_ms IS NULL ORDER BY id`).map(planOf),
    insert(input, parts) {
      const row = sql.first(
        `INSERT INTO payout_plans (provider_id, reference, amount, note, created_at_ms)
         VALUES (?, ?, CAST(? AS INTEGER), ?, ?) RETURNING id`,
        input.providerId,
        input.reference,
        input.amountMicro,
        input.note,
        input.atMs,
      );
      assert(row, 'an insert answers the id of its row');
      for (const part of parts) {
        sql.run(
          `INSERT INTO payout_plan_parts (plan_id, tenant_id, amount)
           VALUES (?, ?, CAST(? AS INTEGER))`,
          row.id,
          part.tenantId,
          part.amountMicro,
        );
      }
      const { providerId, amountMicro, reference, note, atMs } = input;
      return {
        record: {
          transactionId: Number(row.id),
          providerId,
          amountMicro,
          reference,
          note,
          createdAtMs: atMs,
        },
        parts: [...parts],
      };
    },
    complete(planId, atMs) {
      sql.run(
        'UPDATE payout_plans SET completed_at_ms = ? WHERE id = ? AND completed_at_ms IS NULL',
        atMs,
        planId,
      );
    },
    completed: (providerId, limit) =>
      sql
        .all(
          `${planSelect} WHERE provider_id = ? AND completed_at_ms IS NOT NULL
           ORDER BY id DESC LIMIT ?`,
          providerId,
          limit,
        )
        .map(recordOf),
    paidOut: (providerId, range) =>
      BigInt(
        String(
          sql.first(
            `SELECT CAST(COALESCE(SUM(amount), 0) AS TEXT) AS paid FROM payout_plans
             WHERE provider_id = ? AND completed_at_ms IS NOT NULL
               AND created_at_ms >= ? AND created_at_ms < ?`,
            providerId,
            range.fromMs,
            range.toMs,
          )?.paid ?? '0',
        ),
      ),
  };
}
