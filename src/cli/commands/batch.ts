/**
 * `tokenbank batch`: the Files and Batch APIs from the terminal, with a tenant's API key
 * (--key or TOKENBANK_API_KEY; never printed). Submit a file of requests, follow a batch with a
 * progress bar, fetch its results, list and cancel batches. The command table is
 * `cli/batch/batch-commands.ts`; the connection, HTTP client and rendering are the admin CLI's.
 * Exit status: 0 done, 1 a request failed, 2 usage error, 3 the batch failed, expired or was
 * cancelled, 4 it has not finished (no results yet, or --wait gave up).
 */
import { setTimeout as delay } from 'node:timers/promises';
import { createApiClient } from '../admin/api-client.ts';
import { resolveConnection } from '../admin/api-connection.ts';
import { batchFamily } from '../admin/command-family.ts';
import { processIo, withNewline } from '../admin/run-api-command.ts';
import type { BatchCommand } from '../batch/batch-commands.ts';
import { batchExitCodes, batchListSchema, exitCodeOf } from '../batch/batch-object.ts';
import {
  type BatchCommandIo,
  type BatchSession,
  batchPath,
  fetchBatch,
  messagePrefix,
  notA,
  printBatch,
  reportFailure,
  requestBatch,
} from '../batch/batch-session.ts';
import { downloadResults } from '../batch/download-results.ts';
import { parseBatchArguments } from '../batch/parse-batch-arguments.ts';
import { renderBatchList } from '../batch/render-batch.ts';
import { submitBatch } from '../batch/submit-batch.ts';
import { waitAndReport } from '../batch/wait-for-batch.ts';

/** Every call but a file transfer is a quick read or write. */
const requestTimeoutMs = 30_000;

export type { BatchCommandIo };

export const processBatchIo: BatchCommandIo = {
  ...processIo,
  errorIsTerminal: process.stderr.isTTY === true,
  wait: (milliseconds) => delay(milliseconds),
};

export function runBatchCommand(argv: string[]): Promise<number> {
  return runBatch(argv, processBatchIo);
}

export async function runBatch(argv: readonly string[], io: BatchCommandIo): Promise<number> {
  const parsed = parseBatchArguments(argv);
  if (parsed.kind === 'help') {
    io.writeOutput(parsed.text);
    return batchExitCodes.done;
  }
  if (parsed.kind === 'usage-error') {
    io.writeError(`${messagePrefix}: ${parsed.message}\n\n${parsed.help}`);
    return batchExitCodes.usage;
  }
  const resolved = resolveConnection(parsed.global, io.environment, batchFamily.credential);
  if (!resolved.ok) {
    io.writeError(
      `${messagePrefix}: ${resolved.message}\nRun '${parsed.helpCommand}' for usage.\n`,
    );
    return batchExitCodes.usage;
  }
  const client = createApiClient({
    ...resolved.connection,
    timeoutMs: requestTimeoutMs,
    fetch: io.fetch,
  });
  return runCommand({ client, io, json: parsed.global.json }, parsed.command);
}

function runCommand(session: BatchSession, command: BatchCommand): Promise<number> {
  switch (command.kind) {
    case 'submit':
      return submitBatch(session, command);
    case 'status':
      return showStatus(session, command);
    case 'results':
      return downloadResults(session, command);
    case 'list':
      return listBatches(session, command.limit, command.after);
    case 'cancel':
      return cancelBatch(session, command.batchId);
  }
}

async function showStatus(
  session: BatchSession,
  command: Extract<BatchCommand, { kind: 'status' }>,
): Promise<number> {
  const fetched = await fetchBatch(session, command.batchId);
  if (!fetched.ok) {
    return reportFailure(session, fetched);
  }
  if (command.wait !== undefined) {
    return waitAndReport(session, fetched.answer, command.wait);
  }
  printBatch(session, fetched.answer);
  return exitCodeOf(fetched.answer.batch);
}

async function listBatches(
  session: BatchSession,
  limit: number | undefined,
  after: string | undefined,
): Promise<number> {
  const response = await session.client.send({
    method: 'GET',
    path: '/v1/batches',
    query: { limit: limit === undefined ? undefined : String(limit), after },
  });
  if (!response.ok) {
    return reportFailure(session, response);
  }
  const list = batchListSchema.safeParse(response.body);
  if (!list.success) {
    return reportFailure(session, notA('list of batches', response.status));
  }
  session.io.writeOutput(session.json ? withNewline(response.text) : renderBatchList(list.data));
  return batchExitCodes.done;
}

/** Cancelling is asynchronous: the answer is usually `cancelling`, and that is success. */
async function cancelBatch(session: BatchSession, batchId: string): Promise<number> {
  const cancelled = await requestBatch(session, {
    method: 'POST',
    path: `${batchPath(batchId)}/cancel`,
  });
  if (!cancelled.ok) {
    return reportFailure(session, cancelled);
  }
  printBatch(session, cancelled.answer);
  return batchExitCodes.done;
}
