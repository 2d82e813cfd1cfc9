/**
 * What the end of an inference request tells the operator, once its money is settled or
 * released: one JSON log line (request id, tenant, key, model, backend, outcome, tokens, cost and
 * who paid), the token, money and latency metrics, and the key's token reservation corrected to
 * what was used.
 */
import type { PooledBackend } from '../../backends/backend-pool.ts';
import type { FinalUsage, SettleResult, UsageOutcome } from '../../billing/ledger.ts';
import { formatMoney } from '../../billing/money.ts';
import type { Deps } from '../../deps.ts';
import type { Admission } from './admission.ts';

export type RequestEnding = {
  outcome: UsageOutcome;
  backend: PooledBackend | undefined;
  /** Absent when the request was released: nothing was billed. */
  usage: FinalUsage | undefined;
  settled: SettleResult | undefined;
};

export async function recordSettlement(
  deps: Deps,
  admission: Admission,
  ending: RequestEnding,
): Promise<void> {
  const { usage, settled } = ending;
  const model = admission.model;
  const durationMs = deps.clock.nowMs() - admission.admittedAtMs;
  if (settled?.duplicate !== true) {
    deps.metrics.observeRequestDurationMs(model, ending.outcome, durationMs);
    if (usage) {
      deps.metrics.countTokens(model, 'input', usage.inputTokens - usage.cachedInputTokens);
      deps.metrics.countTokens(model, 'cached_input', usage.cachedInputTokens);
      deps.metrics.countTokens(model, 'output', usage.outputTokens);
    }
    for (const paid of settled?.paidBy ?? []) {
      deps.metrics.countMoney(paid.source, paid.amountMicro);
    }
  }
  deps.logger.log('info', 'request_settled', {
    request_id: admission.requestId,
    tenant_id: admission.client.tenant.id,
    key_id: admission.client.key.id,
    model,
    backend_id: ending.backend?.record.id,
    region: ending.backend?.record.region,
    outcome: ending.outcome,
    input_tokens: usage?.inputTokens,
    output_tokens: usage?.outputTokens,
    usage_source: usage?.source,
    cost: formatMoney(settled?.costMicro ?? 0n),
    paid_by: settled?.paidBy
      .map((paid) => `${paid.source}:${paid.id ?? ''}:${formatMoney(paid.amountMicro)}`)
      .join(';'),
    duration_ms: durationMs,
    duplicate: settled?.duplicate,
  });
  await admission.rate.settle(usage ? usage.inputTokens + usage.outputTokens : 0);
}
