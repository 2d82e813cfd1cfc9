/**
 * Reads of the usage records' copy in D1 (usage-copy.ts) that would otherwise ask every tenant's
 * object: a provider's earnings from token requests, one query over all tenants, and a request's
 * record when the isolate does not know its tenant. The copy trails the objects by about
 * `usageCopyDelayMs`; a request settled within that is found in its object instead.
 */
import type { EarningsRow, TimeRange, UsageRecord } from '../../../billing/ledger.ts';
import { usageRecordOf } from '../../ledger-row-codecs.ts';
import { bound, checked } from '../durable-sql.ts';
import type { D1Database } from '../workers-types.ts';
import { usageSelect } from './durable-ledger-rows.ts';
import {
  earningsRowOf,
  providerEarningsParameters,
  providerEarningsQuery,
} from './provider-earnings-query.ts';

export type CopiedUsageReads = {
  earnings(providerId: string, range: TimeRange): Promise<EarningsRow[]>;
  usageOfRequest(requestId: string): Promise<UsageRecord | undefined>;
};

export function d1UsageReads(d1: D1Database): CopiedUsageReads {
  return {
    async earnings(providerId, range) {
      const parameters = providerEarningsParameters(providerId, range).map(bound);
      const { results } = await d1
        .prepare(providerEarningsQuery)
        .bind(...parameters)
        .all();
      return results.map((row) => earningsRowOf(checked(row)));
    },
    async usageOfRequest(requestId) {
      const row = await d1.prepare(`${usageSelect} WHERE request_id = ?`).bind(requestId).first();
      return row === null ? undefined : usageRecordOf(checked(row));
    },
  };
}
