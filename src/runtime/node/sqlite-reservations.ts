/**
 * Reservation and usage rows of the SQLite ledger: one reservation per admitted request (its
 * holds are the pending transfers of its `reserve:` transaction) and one usage record per request
 * that ended, however it ended.
 */
import type Database from 'better-sqlite3';
import { assert } from '../../assert.ts';
import type { PaidBy, UsageRecord } from '../../billing/ledger.ts';
import { formatMoney, parseMoney } from '../../billing/money.ts';

export type ReservationRow = {
  requestId: string;
  tenantId: string;
  keyId: string;
  model: string;
  region: string;
  priceId: string;
  multiplierBps: number;
  reservedAmount: bigint;
  status: 'reserved' | 'settled' | 'released';
  instanceId: string;
  backendId: string | null;
  promptTokensEstimate: number;
  checkpointInputTokens: number | null;
  checkpointOutputTokens: number | null;
  admittedAtMs: number;
};

/** A usage record as written: what the API shows, plus the provider's share and the price. */
export type UsageRow = Omit<UsageRecord, 'verifiedOutputTokens'> & {
  providerShareMicro: bigint;
  priceId: string | null;
  settledAtMs: number;
};

const reservationColumns = `request_id AS requestId, tenant_id AS tenantId, key_id AS keyId, model,
  region, price_id AS priceId, multiplier_bps AS multiplierBps, reserved_amount AS reservedAmount,
  status, instance_id AS instanceId, backend_id AS backendId,
  prompt_tokens_estimate AS promptTokensEstimate, checkpoint_input_tokens AS checkpointInputTokens,
  checkpoint_output_tokens AS checkpointOutputTokens, admitted_at_ms AS admittedAtMs`;

/** Integers other than money are small: read them back as numbers. */
function fromRow(row: Record<string, unknown>): ReservationRow {
  const numberOrNull = (value: unknown) => (value === null ? null : Number(value));
  return {
    ...(row as ReservationRow),
    multiplierBps: Number(row.multiplierBps),
    promptTokensEstimate: Number(row.promptTokensEstimate),
    checkpointInputTokens: numberOrNull(row.checkpointInputTokens),
    checkpointOutputTokens: numberOrNull(row.checkpointOutputTokens),
    admittedAtMs: Number(row.admittedAtMs),
  };
}

export type ReservationRows = ReturnType<typeof createReservationRows>;

export function createReservationRows(connection: Database.Database) {
  const statements = {
    insert: connection.prepare(
      `INSERT INTO reservations (request_id, tenant_id, key_id, model, region, price_id, multiplier_bps,
         reserved_amount, status, instance_id, backend_id, prompt_tokens_estimate, admitted_at_ms)
       VALUES (@requestId, @tenantId, @keyId, @model, @region, @priceId, @multiplierBps,
         @reservedAmount, 'reserved', @instanceId, NULL, @promptTokensEstimate, @admittedAtMs)`,
    ),
    get: connection
      .prepare(`SELECT ${reservationColumns} FROM reservations WHERE request_id = ?`)
      .safeIntegers(true),
    end: connection.prepare(
      `UPDATE reservations SET status = ?, ended_at_ms = ? WHERE request_id = ? AND status = 'reserved'`,
    ),
    checkpoint: connection.prepare(
      `UPDATE reservations SET checkpoint_input_tokens = ?, checkpoint_output_tokens = ?,
         checkpoint_at_ms = ?, backend_id = COALESCE(?, backend_id)
       WHERE request_id = ? AND status = 'reserved'`,
    ),
    orphaned: connection
      .prepare(
        `SELECT ${reservationColumns} FROM reservations r
         WHERE r.status = 'reserved' AND (r.admitted_at_ms < @admittedBeforeMs OR NOT EXISTS (
           SELECT 1 FROM gateway_instances g WHERE g.id = r.instance_id AND g.heartbeat_at_ms >= @ownerSilentBeforeMs))
         ORDER BY r.admitted_at_ms LIMIT @limit`,
      )
      .safeIntegers(true),
    insertUsage: connection.prepare(
      `INSERT INTO usage_records (request_id, tenant_id, key_id, model, region, backend_id, provider_id,
         input_tokens, cached_input_tokens, output_tokens, reasoning_tokens, usage_source, outcome, cost,
         provider_share, paid_by, price_id, verified_output_tokens, created_at_ms, settled_at_ms)
       VALUES (@requestId, @tenantId, @keyId, @model, @region, @backendId, @providerId, @inputTokens,
         @cachedInputTokens, @outputTokens, @reasoningTokens, @usageSource, @outcome, @costMicro,
         @providerShareMicro, @paidBy, @priceId, NULL, @createdAtMs, @settledAtMs)`,
    ),
    usageCostAndPayment: connection
      .prepare('SELECT cost, paid_by AS paidBy FROM usage_records WHERE request_id = ?')
      .safeIntegers(true),
    heartbeat: connection.prepare(
      `INSERT INTO gateway_instances (id, started_at_ms, heartbeat_at_ms) VALUES (@id, @atMs, @atMs)
       ON CONFLICT (id) DO UPDATE SET heartbeat_at_ms = excluded.heartbeat_at_ms`,
    ),
  };
  return {
    insert(
      row: Omit<
        ReservationRow,
        'status' | 'backendId' | 'checkpointInputTokens' | 'checkpointOutputTokens'
      >,
    ) {
      statements.insert.run(row);
    },
    get(requestId: string): ReservationRow | undefined {
      const row = statements.get.get(requestId) as Record<string, unknown> | undefined;
      return row && fromRow(row);
    },
    /** Ends a reservation once; false when it had already ended. */
    end(requestId: string, status: 'settled' | 'released', atMs: number): boolean {
      return statements.end.run(status, atMs, requestId).changes === 1;
    },
    checkpoint(
      requestId: string,
      inputTokens: number,
      outputTokens: number,
      backendId: string | null,
      atMs: number,
    ) {
      statements.checkpoint.run(inputTokens, outputTokens, atMs, backendId, requestId);
    },
    orphaned(query: { admittedBeforeMs: number; ownerSilentBeforeMs: number; limit: number }) {
      return (statements.orphaned.all(query) as Record<string, unknown>[]).map(fromRow);
    },
    insertUsage(row: UsageRow) {
      statements.insertUsage.run({
        ...row,
        paidBy: JSON.stringify(
          row.paidBy.map((paid) => ({
            source: paid.source,
            id: paid.id,
            amount: formatMoney(paid.amountMicro),
          })),
        ),
      });
    },
    usageCostAndPayment(requestId: string): { costMicro: bigint; paidBy: PaidBy[] } | undefined {
      const row = statements.usageCostAndPayment.get(requestId) as
        | { cost: bigint; paidBy: string }
        | undefined;
      return row && { costMicro: row.cost, paidBy: parsePaidBy(row.paidBy) };
    },
    heartbeat(instanceId: string, atMs: number) {
      statements.heartbeat.run({ id: instanceId, atMs });
    },
  };
}

/** paid_by is stored with decimal-string amounts, as the API shows it. */
export function parsePaidBy(text: string): PaidBy[] {
  const stored = JSON.parse(text) as {
    source: PaidBy['source'];
    id: string | null;
    amount: string;
  }[];
  return stored.map((paid) => ({
    source: paid.source,
    id: paid.id,
    amountMicro: storedAmountMicro(paid.amount),
  }));
}

export function storedAmountMicro(text: string): bigint {
  const parsed = parseMoney(text);
  assert(parsed.ok, `stored amount ${text} is a decimal amount`);
  return parsed.micro;
}
