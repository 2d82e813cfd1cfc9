/**
 * The cross-cycle scheduler: one per deployment (the holder of the job lease, like the sweeper),
 * with all its state in the store, so another gateway (or this one restarted) carries on where
 * it stopped. Each tick it moves every open batch one step (validate its file; settle lines a
 * dead gateway left running; expire it at its deadline; end a cancel; write its files once its
 * lines are done), then sends pending lines where batch work may go now: only into room that
 * interactive requests leave free, in off-peak windows or the cheapest region, and never into
 * the capacity queue (line-placement.ts). When a line ends, the freed room is offered again at
 * once rather than at the next tick.
 */
import type { PooledBackend } from '../../backends/backend-pool.ts';
import type { BatchLineRecord, BatchRecord, LineResult } from '../../db/batch-store.ts';
import type { ClientIdentity, Deps } from '../../deps.ts';
import { isModelInScope } from '../inference/select-candidates.ts';
import { createBatchEndpointRules } from './batch-endpoints.ts';
import { readBatchInput } from './batch-input.ts';
import { type LineRunOutcome, lineRequestId, runBatchLine } from './batch-line-run.ts';
import { writeResultFiles } from './batch-result-files.ts';
import {
  latestStartMs,
  nextLineMsMean,
  type Placement,
  placeLines,
  type RegionOffer,
} from './line-placement.ts';

export type BatchScheduler = {
  /** One pass over the open batches, then lines sent into the room there is. */
  tick(): Promise<void>;
  /** Resolves once no line this gateway sent is still running and no pass is under way. */
  idle(): Promise<void>;
  /** Sends no more lines; those running end as they would. */
  stop(): void;
  /** Lines this gateway is running now. */
  readonly runningCount: number;
};

/** Open batches one pass looks at; the soonest to expire come first. */
const batchesPerPassMax = 256;

const listPriceBps = 10_000;

function errorResult(code: string, message: string): LineResult {
  return { response: null, error: { code, message } };
}

export function createBatchScheduler(deps: Deps): BatchScheduler {
  const rules = createBatchEndpointRules(deps.config.limits);
  const { limits } = deps.config;
  const running = new Map<string, Promise<void>>();
  const neverAborted = new AbortController().signal;
  let stopped = false;
  let passes: Promise<void> = Promise.resolve();
  /** A line's mean run time here, measured as lines end: how early a backlog must start. */
  let lineMsMean = limits.batchLineSecondsEstimate * 1000;

  /** One pass at a time: a pass counts the room the previous one took. */
  function serially(pass: () => Promise<void>): Promise<void> {
    const next = passes.then(pass);
    passes = next.catch((error: unknown) => {
      deps.logger.log('error', 'batch_pass_failed', {
        message: error instanceof Error ? error.message : String(error),
      });
    });
    return next;
  }

  async function clientOf(batch: BatchRecord): Promise<ClientIdentity | undefined> {
    const [key, tenant] = await Promise.all([
      deps.catalog.getApiKey(batch.keyId),
      deps.catalog.getTenant(batch.tenantId),
    ]);
    return key?.status === 'active' && tenant !== undefined ? { key, tenant } : undefined;
  }

  async function move(
    batch: BatchRecord,
    from: BatchRecord['status'],
    to: BatchRecord['status'],
    changes: Parameters<Deps['batches']['transition']>[2]['changes'] = {},
  ) {
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
    const errors =
      unlisted === 0
        ? input.errors
        : [
            ...input.errors,
            {
              code: 'more_errors',
              message: `${unlisted} more lines have errors.`,
              param: null,
              line: null,
            },
          ];
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
      await deps.batches.endLine(
        batch.id,
        line.lineIndex,
        {
          status: 'failed',
          result: errorResult(
            'batch_line_interrupted',
            'The gateway running this line stopped before its answer was stored; it was not run again.',
          ),
          inputTokens: charged ? usage.inputTokens : null,
          outputTokens: charged ? usage.outputTokens : null,
          cost: charged ? usage.costMicro : null,
        },
        nowMs,
      );
    }
  }

  /** Writes the files and ends the batch once none of its lines runs any more. */
  async function finish(
    batch: BatchRecord,
    from: BatchRecord['status'],
    to: BatchRecord['status'],
  ) {
    if ((await deps.batches.runningCount(batch.id)) > 0) {
      return;
    }
    const files = await writeResultFiles(deps, batch);
    await move(batch, from, to, files);
  }

  async function advance(batch: BatchRecord): Promise<void> {
    const nowMs = deps.clock.nowMs();
    switch (batch.status) {
      case 'validating':
        await validate(batch);
        return;
      case 'cancelling':
        await deps.batches.failPendingLines(
          batch.id,
          errorResult('batch_cancelled', 'The batch was cancelled before this line ran.'),
          nowMs,
        );
        await finish(batch, 'cancelling', 'cancelled');
        return;
      case 'finalizing':
        await finish(batch, 'finalizing', 'completed');
        return;
      case 'in_progress':
        await endOrphans(batch);
        if (nowMs >= batch.expiresAtMs) {
          await deps.batches.failPendingLines(
            batch.id,
            errorResult('batch_expired', 'The batch expired before this line could run.'),
            nowMs,
          );
          await finish(batch, 'in_progress', 'expired');
          return;
        }
        if (
          (await deps.batches.pendingLines(batch.id, -1, 1)).length === 0 &&
          (await deps.batches.runningCount(batch.id)) === 0 &&
          (await move(batch, 'in_progress', 'finalizing'))
        ) {
          await finish(batch, 'finalizing', 'completed');
        }
        return;
      default:
        return;
    }
  }

  /** What each allowed region offers the model's lines now. */
  async function offersFor(
    allowed: readonly PooledBackend[],
    model: string,
    nowMs: number,
  ): Promise<RegionOffer[]> {
    const roomByRegion = new Map<string, number>();
    for (const backend of allowed) {
      const room = deps.pool.isRoutable(backend, nowMs)
        ? deps.pool.spareRoom(backend, nowMs, limits.batchInteractiveReserveBps)
        : 0;
      const region = backend.record.region;
      roomByRegion.set(region, (roomByRegion.get(region) ?? 0) + room);
    }
    const offers: RegionOffer[] = [];
    for (const [region, spareRoom] of roomByRegion) {
      const price = await deps.catalogCache.pinnedPrice(model, region, nowMs);
      if (price === undefined) {
        continue;
      }
      offers.push({
        region,
        spareRoom,
        unitPriceMicro:
          ((price.inputPerMillion + price.outputPerMillion) * BigInt(price.multiplierBps)) /
          BigInt(listPriceBps),
        offpeakNow: price.multiplierBps < listPriceBps,
        nextOffpeakAtMs: await deps.catalogCache.nextOffpeakAtMs(model, region, nowMs),
      });
    }
    return offers;
  }

  type ModelPlan = { placement: Placement; roomLeft: Map<string, number> };

  async function planFor(
    batch: BatchRecord,
    client: ClientIdentity,
    model: string,
  ): Promise<ModelPlan> {
    const nowMs = deps.clock.nowMs();
    const waiting: ModelPlan = {
      placement: { kind: 'wait', untilMs: undefined },
      roomLeft: new Map(),
    };
    if (!isModelInScope(client, model) || !deps.pool.knowsModel(model)) {
      return waiting;
    }
    const allowedRegions = client.tenant.allowedRegions;
    const allowed = deps.pool
      .serving(model)
      .filter(
        (backend) => allowedRegions === null || allowedRegions.includes(backend.record.region),
      );
    const offers = await offersFor(allowed, model, nowMs);
    const latestMs = latestStartMs(batch.expiresAtMs, {
      linesLeft: batch.requestTotal - batch.requestCompleted - batch.requestFailed,
      lineMsMean,
      linesAtOnce: limits.batchLinesInFlightMax,
      runwayMinMs: limits.batchDeadlineRunwayS * 1000,
    });
    const placement = placeLines(offers, nowMs, latestMs);
    return {
      placement,
      roomLeft: new Map(offers.map((offer) => [offer.region, offer.spareRoom])),
    };
  }

  function regionWithRoom(plan: ModelPlan): string | undefined {
    if (plan.placement.kind !== 'run') {
      return undefined;
    }
    return plan.placement.regions.find((region) => (plan.roomLeft.get(region) ?? 0) > 0);
  }

  function backendsWithRoomIn(region: string) {
    return (allowed: readonly PooledBackend[]) => {
      const nowMs = deps.clock.nowMs();
      return allowed.filter(
        (backend) =>
          backend.record.region === region &&
          deps.pool.isRoutable(backend, nowMs) &&
          deps.pool.spareRoom(backend, nowMs, limits.batchInteractiveReserveBps) > 0,
      );
    };
  }

  async function recordOutcome(batch: BatchRecord, line: BatchLineRecord, outcome: LineRunOutcome) {
    if (outcome.kind === 'requeued') {
      await deps.batches.unclaimLine(batch.id, line.lineIndex);
      return;
    }
    const endedAtMs = deps.clock.nowMs();
    lineMsMean = nextLineMsMean(lineMsMean, endedAtMs - (line.startedAtMs ?? endedAtMs));
    await deps.batches.endLine(batch.id, line.lineIndex, outcome.ending, endedAtMs);
    if (outcome.quotaRefused) {
      // The tenant cannot pay: the batch takes no more lines, and says why for each.
      await deps.batches.failPendingLines(
        batch.id,
        errorResult('insufficient_quota', 'The tenant ran out of money before this line ran.'),
        deps.clock.nowMs(),
      );
    }
  }

  function launch(
    batch: BatchRecord,
    line: BatchLineRecord,
    client: ClientIdentity,
    region: string,
  ) {
    const key = `${batch.id}:${line.lineIndex}`;
    const run = runBatchLine({
      deps,
      rule: rules[batch.endpoint],
      batch,
      line,
      client,
      preferBackends: backendsWithRoomIn(region),
      signal: neverAborted,
    })
      .then((outcome) => recordOutcome(batch, line, outcome))
      .catch((error: unknown) => {
        deps.logger.log('error', 'batch_line_record_failed', {
          batchId: batch.id,
          customId: line.customId,
          message: error instanceof Error ? error.message : String(error),
        });
      })
      .finally(() => {
        running.delete(key);
        if (!stopped) {
          void serially(dispatch);
        }
      });
    running.set(key, run);
  }

  /** Sends the pending lines of one batch that may run now; returns how many it sent. */
  async function dispatchBatch(batch: BatchRecord, budget: number): Promise<number> {
    const client = await clientOf(batch);
    if (client === undefined) {
      await deps.batches.failPendingLines(
        batch.id,
        errorResult('invalid_api_key', "The batch's API key was revoked before this line ran."),
        deps.clock.nowMs(),
      );
      return 0;
    }
    const plans = new Map<string, ModelPlan>();
    let sent = 0;
    for (const line of await deps.batches.pendingLines(batch.id, -1, budget * linesReadPerSlot)) {
      if (sent >= budget) {
        break;
      }
      const plan = plans.get(line.model) ?? (await planFor(batch, client, line.model));
      plans.set(line.model, plan);
      const region = regionWithRoom(plan);
      if (region === undefined) {
        continue;
      }
      const claimedAtMs = deps.clock.nowMs();
      if (!(await deps.batches.claimLine(batch.id, line.lineIndex, deps.instanceId, claimedAtMs))) {
        continue;
      }
      plan.roomLeft.set(region, (plan.roomLeft.get(region) ?? 0) - 1);
      launch(batch, { ...line, status: 'running', startedAtMs: claimedAtMs }, client, region);
      sent += 1;
    }
    return sent;
  }

  async function dispatch(): Promise<void> {
    if (stopped) {
      return;
    }
    const nowMs = deps.clock.nowMs();
    const open = await deps.batches.batchesInStatus(['in_progress'], batchesPerPassMax);
    let budget = limits.batchLinesInFlightMax - running.size;
    for (const batch of open) {
      if (budget <= 0) {
        return;
      }
      if (nowMs < batch.expiresAtMs) {
        budget -= await dispatchBatch(batch, budget);
      }
    }
  }

  async function pass(): Promise<void> {
    if (stopped || !(await deps.jobLease.acquire())) {
      return;
    }
    const open = await deps.batches.batchesInStatus(
      ['validating', 'in_progress', 'finalizing', 'cancelling'],
      batchesPerPassMax,
    );
    for (const batch of open) {
      await advance(batch);
    }
    await dispatch();
  }

  return {
    tick: () => serially(pass),
    async idle() {
      for (;;) {
        await passes;
        if (running.size === 0) {
          return;
        }
        await Promise.all(running.values());
      }
    },
    stop() {
      stopped = true;
    },
    get runningCount() {
      return running.size;
    },
  };
}

/**
 * Pending lines read per line that may be sent: lines of a model that must wait are skipped, so
 * a few more are read than can run, bounded.
 */
const linesReadPerSlot = 4;
