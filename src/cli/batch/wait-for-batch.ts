/**
 * `--wait`: polls a batch until it ends (completed, failed, expired, cancelled), showing its
 * progress on stderr, then prints its final state. The wait is bounded by a number of polls
 * (the timeout over the interval), after which the command stops and the batch runs on. A poll
 * that fails for a reason that may pass (the network, a 5xx while the gateway restarts, a 429)
 * is tried again a few times in a row before the command gives up: a day-long wait should survive
 * a blip, not a gateway that stays away.
 */
import type { ApiFailure } from '../admin/api-client.ts';
import { escapeControlCharacters } from '../admin/render-table.ts';
import { describeFailure } from '../admin/run-api-command.ts';
import type { WaitOptions } from './batch-commands.ts';
import { batchExitCodes, exitCodeOf, isFinished } from './batch-object.ts';
import { createProgressReporter } from './batch-progress.ts';
import {
  type BatchAnswer,
  type BatchSession,
  fetchBatch,
  messagePrefix,
  printBatch,
  reportFailure,
} from './batch-session.ts';

export const consecutiveFailuresMax = 5;

export type WaitOutcome =
  | { kind: 'finished'; answer: BatchAnswer }
  | { kind: 'timed-out'; answer: BatchAnswer }
  | { kind: 'failed'; failure: ApiFailure };

/** Waits, then prints the final state (or why it stopped) and returns the exit status. */
export async function waitAndReport(
  session: BatchSession,
  first: BatchAnswer,
  options: WaitOptions,
): Promise<number> {
  const outcome = await waitForBatch(session, first, options);
  if (outcome.kind === 'failed') {
    return reportFailure(session, outcome.failure);
  }
  printBatch(session, outcome.answer);
  if (outcome.kind === 'timed-out') {
    const id = escapeControlCharacters(outcome.answer.batch.id);
    session.io.writeError(
      `${messagePrefix}: stopped waiting after ${options.timeoutMs / 1000} s; the batch runs on: tokenbank batch status ${id} --wait\n`,
    );
    return batchExitCodes.unfinished;
  }
  return exitCodeOf(outcome.answer.batch);
}

export async function waitForBatch(
  session: BatchSession,
  first: BatchAnswer,
  options: WaitOptions,
): Promise<WaitOutcome> {
  const { io } = session;
  const reporter = createProgressReporter(io.writeError, io.errorIsTerminal);
  const pollCountMax = Math.ceil(options.timeoutMs / options.intervalMs);
  let answer = first;
  let failuresInRow = 0;
  reporter.show(answer.batch);
  try {
    for (let poll = 1; !isFinished(answer.batch); poll += 1) {
      if (poll > pollCountMax) {
        return { kind: 'timed-out', answer };
      }
      await io.wait(options.intervalMs);
      const result = await fetchBatch(session, answer.batch.id);
      if (result.ok) {
        answer = result.answer;
        failuresInRow = 0;
        reporter.show(answer.batch);
        continue;
      }
      failuresInRow += 1;
      if (!mayPass(result) || failuresInRow > consecutiveFailuresMax) {
        return { kind: 'failed', failure: result };
      }
      reporter.note(
        `${describeFailure(result, messagePrefix)} (poll failed ${failuresInRow} of ${consecutiveFailuresMax} times in a row; trying again)`,
      );
    }
    return { kind: 'finished', answer };
  } finally {
    reporter.finish();
  }
}

/** Failures worth another poll; a 4xx (the batch or the key is gone) will not change. */
function mayPass(failure: ApiFailure): boolean {
  return failure.kind === 'network' || failure.status === 429 || failure.status >= 500;
}
