/**
 * What a provider earned in a time range, per backend and model, with the total, what it was
 * paid out in that range, and what it is owed now (everything earned less everything paid): one
 * read shared by the provider's own `GET /provider/v1/earnings` and the operator's
 * `GET /admin/v1/providers/{id}/earnings`, so both always agree.
 */
import { formatMoney } from '../../billing/money.ts';
import type { Deps } from '../../deps.ts';
import { timeRangeOf } from '../admin/usage-export.ts';
import { listView } from '../admin/views.ts';

export async function earningsView(
  deps: Deps,
  providerId: string,
  query: { from?: string | undefined; to?: string | undefined },
) {
  const range = timeRangeOf(query, deps.clock.nowMs());
  const [rows, paidMicro, balance] = await Promise.all([
    deps.ledger.earnings(providerId, range),
    deps.ledger.paidOut(providerId, range),
    deps.ledger.providerBalance(providerId),
  ]);
  const totalMicro = rows.reduce((sum, row) => sum + row.earnedMicro, 0n);
  return listView(
    rows.map((row) => ({
      object: 'earnings',
      backend_id: row.backendId,
      model: row.model,
      requests: row.requests,
      input_tokens: row.inputTokens,
      output_tokens: row.outputTokens,
      earned: formatMoney(row.earnedMicro),
    })),
    {
      provider_id: providerId,
      total_earned: formatMoney(totalMicro),
      total_paid: formatMoney(paidMicro),
      unpaid: formatMoney(balance.unpaidMicro),
      currency: deps.config.currency,
    },
  );
}
