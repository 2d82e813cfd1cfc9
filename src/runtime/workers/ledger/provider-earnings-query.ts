/**
 * A provider's earnings from token requests over a time range, per backend and model: one query
 * of the usage records, answered by each tenant's object over its own records and by D1 over the
 * copy of all of them (d1-usage-reads.ts). The share is read as text, so it is exact whatever
 * its size.
 */
import type { EarningsRow, TimeRange } from '../../../billing/ledger.ts';
import type { SqlParameter } from '../durable-sql.ts';

export const providerEarningsQuery = `SELECT backend_id AS backendId, model, COUNT(*) AS requests,
    COALESCE(SUM(input_tokens), 0) AS inputTokens,
    COALESCE(SUM(output_tokens), 0) AS outputTokens,
    CAST(COALESCE(SUM(provider_share), 0) AS TEXT) AS earned
  FROM usage_records WHERE provider_id = ? AND created_at_ms >= ? AND created_at_ms < ?
    AND outcome != 'rejected'
  GROUP BY backend_id, model ORDER BY backend_id, model`;

export function providerEarningsParameters(providerId: string, range: TimeRange): SqlParameter[] {
  return [providerId, range.fromMs, range.toMs];
}

export function earningsRowOf(row: Record<string, unknown>): EarningsRow {
  return {
    backendId: String(row.backendId),
    model: String(row.model),
    requests: Number(row.requests),
    inputTokens: Number(row.inputTokens),
    outputTokens: Number(row.outputTokens),
    earnedMicro: BigInt(String(row.earned)),
  };
}
