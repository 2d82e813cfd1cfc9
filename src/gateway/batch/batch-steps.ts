/**
 * One step of an open batch, as the scheduler's pass takes it: validate its file and start it
 * (or fail it with OpenAI's `errors`); end as interrupted the lines a stopped gateway left
 * running, charged what the ledger recorded; expire it at its deadline; end a cancel; and once
 * none of its lines runs any more, write its files and end it. Every move is guarded by the
 * status it leaves, so two gateways taking the same step change nothing twice.
 */
import type { BatchRecord, BatchStatus, BatchTransition } from '../../db/batch-store.ts';
import type { ClientIdentity, Deps } from '../../deps.ts';
import { isModelInScope } from '../inference/select-candidates.ts';
import type { BatchEndpoint, BatchEndpointRule } from './batch-endpoints.ts';
import { readBatchInput } from './batch-input.ts';
import { lineRequestId } from './batch-line-run.ts';
import { writeResultFiles } from './batch-result-files.ts';
import { lineErrors } from './line-errors.ts';

export type BatchSteps = {
  /** The key and tenant a batch runs as; undefined once its key is revoked. */
  clientOf(batch: BatchRecord): Promise<ClientIdentity | undefined>;
  advance(batch: BatchRecord): Promise<void>;
};

export function createBatchSteps(
  deps: Deps,
  rules: Record<BatchEndpoint, BatchEndpointRule>,
): BatchSteps {
  const { limits } = deps.config;

  async function clientOf(batch: BatchRecord): Promise<ClientIdentity | undefined> {
    const [key, tenant] = await Promise.all([
      deps.catalog.getApiKey(batch.keyId),
      deps.catalog.getTenant(batch.tenantId),
    ]);
    return key?.status === 'active' && tenant !== undefined ? { key, tenant } : undefined;
  }

  async function move(
    batch: BatchRecord,
    from: BatchStatus,
    to: BatchStatus,
    changes: BatchTransition['changes'] = {},
  ): Promise<boolean> {
    const moved = await deps.batches.transition(batch.id, [from], {
      to,
      atMs: deps.clock.nowMs(),
      changes,
    });
    if (moved) {
      deps.logger.log('info', 'batch_status', { batchId: batch.id, from, to });
    }
    return moved;
  }

  async function validate(batch: BatchRecord): Promise<void> {
    const client = await clientOf(batch);
    const content = await deps.files.content(batch.tenantId, batch.inputFileId);
    if (client === undefined || content === undefined) {
      const error =
        client === undefined
          ? { code: 'invalid_api_key', message: "The batch's API key was revoked." }
          : {
              code: 'file_not_found',
              message: `The input file '${batch.inputFileId}' was deleted.`,
            };
      await move(batch, 'validating', 'failed', {
        errors: [{ ...error, param: null, line: null }],
      });
      return;
    }
    const input = readBatchInput(content, {
      endpoint: batch.endpoint,
      rule: rules[batch.endpoint],
      limits,
      modelAvailable: (model) => isModelInScope(client, model) && deps.pool.knowsModel(model),
    });
    if (input.ok) {
      if (await deps.batches.startBatch(batch.id, input.lines, deps.clock.nowMs())) {
        deps.logger.log('info', 'batch_status', {
          batchId: batch.id,
          from: 'validating',
          to: 'in_progress',
        });
      }
      return;
    }
    const unlisted = input.errorCount - input.errors.length;
    const more = { code: 'more_errors', message: `${unlisted} more lines have errors.` };
    const errors =
      unlisted === 0 ? input.errors : [...input.errors, { ...more, param: null, line: null }];
    await move(batch, 'validating', 'failed', { errors, requestTotal: input.errorCount });
  }

  /** Lines a gateway that stopped left running: ended as interrupted, with what the ledger charged. */
  async function endOrphans(batch: BatchRecord): Promise<void> {
    const nowMs = deps.clock.nowMs();
    const orphans = await deps.batches.orphanedLines(batch.id, {
      instanceId: deps.instanceId,
      ownerSilentBeforeMs: deps.jobLease.soleProcess ? nowMs : nowMs - limits.ownerSilentMs,
    });
    for (const line of orphans) {
      const usage = await deps.ledger.usageOfRequest(lineRequestId(batch.id, line.customId));
      const charged = usage !== undefined && usage.outcome !== 'rejected';
      const ending = {
        status: 'failed' as const,
        result: lineErrors.interrupted,
        inputTokens: charged ? usage.inputTokens : null,
        outputTokens: charged ? usage.outputTokens : null,
        cost: charged ? usage.costMicro : null,
      };
      await deps.batches.endLine(batch.id, line.lineIndex, ending, nowMs);
    }
  }

  /** Writes the files and ends the batch once none of its lines runs any more. */
  async function finish(batch: BatchRecord, from: BatchStatus, to: BatchStatus): Promise<void> {
    if ((await deps.batches.runningCount(batch.id)) > 0) {
      return;
    }
    await move(batch, from, to, await writeResultFiles(deps, batch));
  }

  /** Ends the lines not yet run with one error, then the batch once its running lines end. */
  async function endPending(
    batch: BatchRecord,
    error: keyof typeof lineErrors,
    to: BatchStatus,
  ): Promise<void> {
    await deps.batches.failPendingLines(batch.id, lineErrors[error], deps.clock.nowMs());
    await finish(batch, batch.status, to);
  }

  async function advanceInProgress(batch: BatchRecord): Promise<void> {
    await endOrphans(batch);
    if (deps.clock.nowMs() >= batch.expiresAtMs) {
      await endPending(batch, 'expired', 'expired');
      return;
    }
    const done =
      (await deps.batches.pendingLines(batch.id, -1, 1)).length === 0 &&
      (await deps.batches.runningCount(batch.id)) === 0;
    if (done && (await move(batch, 'in_progress', 'finalizing'))) {
      await finish(batch, 'finalizing', 'completed');
    }
  }

  return {
    clientOf,
    async advance(batch) {
      switch (batch.status) {
        case 'validating':
          return validate(batch);
        case 'cancelling':
          return endPending(batch, 'cancelled', 'cancelled');
        case 'finalizing':
          return finish(batch, 'finalizing', 'completed');
        case 'in_progress':
          return advanceInProgress(batch);
        default:
          return;
      }
    },
  };
}
