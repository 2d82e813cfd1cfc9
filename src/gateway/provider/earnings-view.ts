/**
 * What a provider earned in a time range, per backend and model and per card-hour lease closed
 * in it (`leases`), with the total, what it was
 * paid out in that range, and what it is owed now (everything earned less everything paid): one
 * read shared by the provider's own `GET /provider/v1/earnings` and the operator's
 * `GET /admin/v1/providers/{id}/earnings`, so both always agree.
 */
import { formatMoney } from '../../billing/money.ts';
import type { Deps } from '../../deps.ts';
import { toRfc3339 } from '../../platform/clock.ts';
import { timeRangeOf } from '../admin/usage-export.ts';
import { listView } from '../admin/views.ts';

export async function earningsView(
  deps: Deps,
  providerId: string,
  query: { from?: string | undefined; to?: string | undefined },
) {
  const range = timeRangeOf(query, deps.clock.nowMs());
  const [rows, leases, paidMicro, balance] = await Promise.all([
    deps.ledger.earnings(providerId, range),
    deps.ledger.leaseEarnings(providerId, range),
    deps.ledger.paidOut(providerId, range),
    deps.ledger.providerBalance(providerId),
  ]);
  const totalMicro = [...rows, ...leases].reduce((sum, row) => sum + row.earnedMicro, 0n);
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
      leases: leases.map((lease) => ({
        object: 'lease_earnings',
        lease_id: lease.leaseId,
        closed_at: toRfc3339(lease.closedAtMs),
        earned: formatMoney(lease.earnedMicro),
      })),
      total_earned: formatMoney(totalMicro),
      total_paid: formatMoney(paidMicro),
      unpaid: formatMoney(balance.unpaidMicro),
      currency: deps.config.currency,
    },
  );
}
