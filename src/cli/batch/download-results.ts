/**
 * `tokenbank batch results ID`: downloads the batch's output file and its error file
 * (`GET /v1/files/{id}/content`) to the files given, or to stdout (output first). Bytes are
 * written as they arrive; a file is written under a temporary name and renamed when complete, so
 * an interrupted download never leaves a truncated file under the name asked for (nor destroys
 * what was there). A batch without results yet gets a message saying what it is doing instead.
 */
import { open, rename, rm } from 'node:fs/promises';
import { pathSegment } from '../admin/admin-action.ts';
import type { ApiRequest, ChunkWriter, DownloadResult } from '../admin/api-client.ts';
import { escapeControlCharacters } from '../admin/render-table.ts';
import type { BatchCommand } from './batch-commands.ts';
import { type Batch, batchExitCodes, exitCodeOf, isFinished } from './batch-object.ts';
import {
  type BatchSession,
  fetchBatch,
  fileTransferTimeoutMs,
  messagePrefix,
  reportFailure,
} from './batch-session.ts';
import { countsText } from './render-batch.ts';

type Part = { name: 'output' | 'errors'; fileId: string; path: string | undefined };

type Written = Part & { bytes: number };

export async function downloadResults(
  session: BatchSession,
  command: Extract<BatchCommand, { kind: 'results' }>,
): Promise<number> {
  const fetched = await fetchBatch(session, command.batchId);
  if (!fetched.ok) {
    return reportFailure(session, fetched);
  }
  const { batch } = fetched.answer;
  const parts = partsOf(batch, command.outputPath, command.errorsPath);
  if (parts.length === 0) {
    return reportNoResults(session, batch);
  }
  const written: Written[] = [];
  for (const part of parts) {
    const result = await downloadPart(session, part);
    if (!result.ok) {
      return result.exitCode;
    }
    written.push({ ...part, bytes: result.bytes });
  }
  reportWritten(session, batch, written);
  return exitCodeOf(batch);
}

function partsOf(batch: Batch, outputPath: string | undefined, errorsPath: string | undefined) {
  const parts: Part[] = [];
  if (typeof batch.output_file_id === 'string') {
    parts.push({ name: 'output', fileId: batch.output_file_id, path: outputPath });
  }
  if (typeof batch.error_file_id === 'string') {
    parts.push({ name: 'errors', fileId: batch.error_file_id, path: errorsPath });
  }
  return parts;
}

/** Still running (exit 4), ended without results (exit 3), or completed with nothing to fetch. */
function reportNoResults(session: BatchSession, batch: Batch): number {
  const id = escapeControlCharacters(batch.id);
  const status = escapeControlCharacters(batch.status);
  if (!isFinished(batch)) {
    const counts = countsText(batch.request_counts);
    session.io.writeError(
      `${messagePrefix}: batch ${id} has no results yet: it is ${status}${counts === undefined ? '' : ` (${counts})`}. Wait for it with: tokenbank batch status ${id} --wait\n`,
    );
    return batchExitCodes.unfinished;
  }
  session.io.writeError(
    `${messagePrefix}: batch ${id} ended ${status} without an output or error file; see tokenbank batch status ${id}\n`,
  );
  return exitCodeOf(batch);
}

type PartResult = { ok: true; bytes: number } | { ok: false; exitCode: number };

async function downloadPart(session: BatchSession, part: Part): Promise<PartResult> {
  const request: ApiRequest = {
    method: 'GET',
    path: `/v1/files/${pathSegment(part.fileId)}/content`,
    timeoutMs: fileTransferTimeoutMs,
  };
  if (part.path !== undefined) {
    return downloadToFile(session, request, part.path);
  }
  const result = await downloadToOutput(session, request);
  return result.ok ? result : { ok: false, exitCode: reportFailure(session, result) };
}

/** Stdout takes text: the bytes are decoded as one UTF-8 stream, whatever the chunk boundaries. */
async function downloadToOutput(
  session: BatchSession,
  request: ApiRequest,
): Promise<DownloadResult> {
  const decoder = new TextDecoder();
  const result = await session.client.download(request, async (chunk) => {
    session.io.writeOutput(decoder.decode(chunk, { stream: true }));
  });
  const rest = decoder.decode();
  if (rest !== '') {
    session.io.writeOutput(rest);
  }
  return result;
}

async function downloadToFile(
  session: BatchSession,
  request: ApiRequest,
  path: string,
): Promise<PartResult> {
  const partialPath = `${path}.part`;
  let result: DownloadResult;
  try {
    const handle = await open(partialPath, 'w');
    try {
      const write: ChunkWriter = async (chunk) => {
        await handle.write(chunk);
      };
      result = await session.client.download(request, write);
    } finally {
      await handle.close();
    }
    if (result.ok) {
      await rename(partialPath, path);
    }
  } catch (error) {
    await rm(partialPath, { force: true });
    const reason = error instanceof Error ? error.message : String(error);
    session.io.writeError(`${messagePrefix}: cannot write ${path}: ${reason}\n`);
    return { ok: false, exitCode: batchExitCodes.requestFailed };
  }
  if (!result.ok) {
    await rm(partialPath, { force: true });
    return { ok: false, exitCode: reportFailure(session, result) };
  }
  return result;
}

/** Where each part went: a line each on stderr, or with --json one object on stdout. */
function reportWritten(session: BatchSession, batch: Batch, written: readonly Written[]): void {
  if (session.json) {
    const entry = (name: Part['name']) => {
      const part = written.find((each) => each.name === name);
      return part === undefined
        ? null
        : { file_id: part.fileId, path: part.path, bytes: part.bytes };
    };
    const summary = {
      batch_id: batch.id,
      status: batch.status,
      output: entry('output'),
      errors: entry('errors'),
    };
    session.io.writeOutput(`${JSON.stringify(summary)}\n`);
    return;
  }
  for (const part of written) {
    const where = part.path ?? 'stdout';
    session.io.writeError(
      `${part.name}: ${escapeControlCharacters(part.fileId)}, ${part.bytes} bytes -> ${where}\n`,
    );
  }
}
