/**
 * What every `tokenbank batch` command works with: the client (with the API key), the process
 * around it (passed in so tests run commands without one), and the shared steps: read a batch
 * answer, print a batch or a failure.
 */

import { pathSegment } from '../admin/admin-action.ts';
import type { ApiClient, ApiFailure, ApiRequest, ApiResponse } from '../admin/api-client.ts';
import {
  type CommandIo,
  describeFailure,
  exitCodes,
  withNewline,
} from '../admin/run-api-command.ts';
import { type Batch, batchSchema } from './batch-object.ts';
import { renderBatchSummary } from './render-batch.ts';

export type BatchCommandIo = CommandIo & {
  /** Whether stderr is a terminal: the progress bar is redrawn there, logged line by line elsewhere. */
  errorIsTerminal: boolean;
  /** Waits between polls; tests pass one that returns at once. */
  wait(milliseconds: number): Promise<void>;
};

export type BatchSession = { client: ApiClient; io: BatchCommandIo; json: boolean };

/** A batch and the answer's text, printed verbatim with --json. */
export type BatchAnswer = { batch: Batch; text: string };

export type BatchResult = { ok: true; answer: BatchAnswer } | ApiFailure;

export const messagePrefix = 'tokenbank batch';

/** An upload or a download moves a whole file (up to 100 MB in): longer than any API call. */
export const fileTransferTimeoutMs = 30 * 60 * 1000;

export function batchPath(batchId: string): string {
  return `/v1/batches/${pathSegment(batchId)}`;
}

export async function requestBatch(
  session: BatchSession,
  request: ApiRequest,
): Promise<BatchResult> {
  return toBatchResult(await session.client.send(request));
}

export function fetchBatch(session: BatchSession, batchId: string): Promise<BatchResult> {
  return requestBatch(session, { method: 'GET', path: batchPath(batchId) });
}

/** A success that is not a batch object means the URL is not a gateway with batches. */
export function toBatchResult(response: ApiResponse): BatchResult {
  if (!response.ok) {
    return response;
  }
  const parsed = batchSchema.safeParse(response.body);
  return parsed.success
    ? { ok: true, answer: { batch: parsed.data, text: response.text } }
    : notA('batch object', response.status);
}

export function notA(what: string, status: number): ApiFailure {
  return {
    ok: false,
    kind: 'http',
    status,
    code: 'unexpected_answer',
    message: `the answer is not a ${what}; does the URL point at a tokenbank gateway with batches?`,
  };
}

export function printBatch(session: BatchSession, answer: BatchAnswer): void {
  session.io.writeOutput(
    session.json ? withNewline(answer.text) : renderBatchSummary(answer.batch),
  );
}

export function reportFailure(session: BatchSession, failure: ApiFailure): number {
  session.io.writeError(`${describeFailure(failure, messagePrefix)}\n`);
  return exitCodes.requestFailed;
}
