/**
 * Runs one batch line through the same inference path as an interactive request, under the
 * request id `{batch id}:{custom_id}`, and says how it ended: with its answer (a 2xx succeeds, any
 * other status fails with the answer kept), or back to pending when it never reached the ledger
 * for want of room or rate (it runs on a later tick). A line that reached the ledger is never run
 * again: its request id is reserved and settled at most once.
 */
import type { PooledBackend } from '../../backends/backend-pool.ts';
import type { BatchLineRecord, BatchRecord, LineEnding } from '../../db/batch-store.ts';
import type { ClientIdentity, Deps } from '../../deps.ts';
import { type ErrorCode, GatewayError, toErrorBody } from '../../errors.ts';
import type { InferenceCall, InferenceSettlement } from '../inference/inference-routes.ts';
import type { BatchEndpointRule } from './batch-endpoints.ts';

export type LineRunOutcome =
  | { kind: 'ended'; ending: LineEnding; quotaRefused: boolean }
  /** It never held money: it waits for a later tick. */
  | { kind: 'requeued' };

export type LineRun = {
  deps: Deps;
  rule: BatchEndpointRule;
  batch: BatchRecord;
  line: BatchLineRecord;
  client: ClientIdentity;
  /** The backends the line may go to now: those with spare room in the regions chosen. */
  preferBackends: (allowed: readonly PooledBackend[]) => readonly PooledBackend[];
  signal: AbortSignal;
};

/** Refusals that come before any money is held and pass: the line runs again later. */
const passingRefusals: ReadonlySet<ErrorCode> = new Set(['no_capacity', 'rate_limit_exceeded']);

export function lineRequestId(batchId: string, customId: string): string {
  return `${batchId}:${customId}`;
}

function parsedBody(text: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
      return parsed as Record<string, unknown>;
    }
  } catch {
    // Not JSON: kept as text below.
  }
  return { text };
}

function ended(
  statusCode: number,
  requestId: string,
  body: Record<string, unknown>,
  settlement: InferenceSettlement | undefined,
): LineEnding {
  return {
    status: statusCode >= 200 && statusCode < 300 ? 'succeeded' : 'failed',
    result: { response: { status_code: statusCode, request_id: requestId, body }, error: null },
    inputTokens: settlement?.usage.inputTokens ?? null,
    outputTokens: settlement?.usage.outputTokens ?? null,
    cost: settlement?.costMicro ?? null,
  };
}

export async function runBatchLine(run: LineRun): Promise<LineRunOutcome> {
  const { deps, batch, line } = run;
  const requestId = lineRequestId(batch.id, line.customId);
  let admitted = false;
  let settlement: InferenceSettlement | undefined;
  const call: InferenceCall = {
    deps,
    client: run.client,
    requestId,
    requestLog: {
      actor: `key:${batch.keyId}`,
      tenantId: batch.tenantId,
      model: undefined,
      backendId: undefined,
    },
    clientSignal: run.signal,
    waitsForCapacity: false,
    preferBackends: run.preferBackends,
    onAdmitted: () => {
      admitted = true;
    },
    onSettled: (settled) => {
      settlement = settled;
    },
  };
  try {
    const response = await run.rule.answer(call, line.body);
    const body = parsedBody(await response.text());
    return {
      kind: 'ended',
      ending: ended(response.status, requestId, body, settlement),
      quotaRefused: false,
    };
  } catch (error) {
    if (!(error instanceof GatewayError)) {
      deps.logger.log('error', 'batch_line_failed', {
        batchId: batch.id,
        customId: line.customId,
        message: error instanceof Error ? error.message : String(error),
      });
      const internal = new GatewayError('internal_error', 'The gateway failed to run this line.');
      return {
        kind: 'ended',
        ending: ended(500, requestId, toErrorBody(internal), settlement),
        quotaRefused: false,
      };
    }
    if (!admitted && passingRefusals.has(error.code)) {
      return { kind: 'requeued' };
    }
    return {
      kind: 'ended',
      ending: ended(error.status, requestId, toErrorBody(error), settlement),
      quotaRefused: error.code === 'insufficient_quota',
    };
  }
}
