/**
 * `tokenbank batch submit FILE`: uploads the file of requests (multipart `file` + `purpose=batch`)
 * and creates a batch on it. The file is checked first (it exists, is a readable regular file,
 * is not empty) so that a typo costs no upload; it is sent from disk as it is read, never held
 * in memory whole. When the batch cannot be created, the file just uploaded is deleted again, so
 * a failed submit leaves nothing behind to be charged for storage.
 */
import { constants, openAsBlob } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { pathSegment } from '../admin/admin-action.ts';
import type { ApiFailure } from '../admin/api-client.ts';
import { escapeControlCharacters } from '../admin/render-table.ts';
import type { BatchCommand } from './batch-commands.ts';
import { batchExitCodes, fileObjectSchema } from './batch-object.ts';
import {
  type BatchSession,
  fileTransferTimeoutMs,
  messagePrefix,
  notA,
  printBatch,
  reportFailure,
  requestBatch,
} from './batch-session.ts';
import { waitAndReport } from './wait-for-batch.ts';

type InputFile = { ok: true; blob: Blob; name: string } | { ok: false; message: string };

export async function submitBatch(
  session: BatchSession,
  command: Extract<BatchCommand, { kind: 'submit' }>,
): Promise<number> {
  const { io } = session;
  const input = await openInputFile(command.file);
  if (!input.ok) {
    io.writeError(`${messagePrefix}: ${input.message}\n`);
    return batchExitCodes.usage;
  }
  const uploaded = await upload(session, input);
  if (!uploaded.ok) {
    return reportFailure(session, uploaded);
  }
  const { fileId } = uploaded;
  const created = await requestBatch(session, {
    method: 'POST',
    path: '/v1/batches',
    body: {
      input_file_id: fileId,
      endpoint: command.endpoint,
      completion_window: command.completionWindow,
      metadata: command.metadata,
    },
  });
  if (!created.ok) {
    const exitCode = reportFailure(session, created);
    await deleteUpload(session, fileId);
    return exitCode;
  }
  const batchId = escapeControlCharacters(created.answer.batch.id);
  if (command.wait !== undefined) {
    if (!session.json) {
      // With --json the final batch object is the output, and it carries the id.
      io.writeOutput(`${batchId}\n`);
    }
    return waitAndReport(session, created.answer, command.wait);
  }
  if (session.json) {
    printBatch(session, created.answer);
  } else {
    io.writeOutput(`${batchId}\n`);
    io.writeError(`follow it with: tokenbank batch status ${batchId} --wait\n`);
  }
  return batchExitCodes.done;
}

/** Why a path cannot be sent, in the words a user needs: missing, a folder, unreadable, empty. */
export async function openInputFile(path: string): Promise<InputFile> {
  try {
    const details = await stat(path);
    if (!details.isFile()) {
      return { ok: false, message: `${path} is not a file (a directory or a device?)` };
    }
    if (details.size === 0) {
      return { ok: false, message: `${path} is empty: a batch file has one request per line` };
    }
    await access(path, constants.R_OK);
    return {
      ok: true,
      blob: await openAsBlob(path, { type: 'application/jsonl' }),
      name: basename(path),
    };
  } catch (error) {
    return { ok: false, message: `cannot read ${path}: ${fileErrorText(error)}` };
  }
}

function fileErrorText(error: unknown): string {
  const code =
    typeof error === 'object' && error !== null && 'code' in error ? error.code : undefined;
  if (code === 'ENOENT') {
    return 'no such file';
  }
  if (code === 'EACCES' || code === 'EPERM') {
    return 'permission denied';
  }
  return error instanceof Error ? error.message : String(error);
}

async function upload(
  session: BatchSession,
  input: { blob: Blob; name: string },
): Promise<{ ok: true; fileId: string } | ApiFailure> {
  const form = new FormData();
  form.append('purpose', 'batch');
  form.append('file', input.blob, input.name);
  const response = await session.client.send({
    method: 'POST',
    path: '/v1/files',
    form,
    timeoutMs: fileTransferTimeoutMs,
  });
  if (!response.ok) {
    return response;
  }
  const file = fileObjectSchema.safeParse(response.body);
  if (!file.success) {
    return notA('file object', response.status);
  }
  const size = file.data.bytes === undefined ? '' : ` (${file.data.bytes} bytes)`;
  const shownId = escapeControlCharacters(file.data.id);
  session.io.writeError(`uploaded ${escapeControlCharacters(input.name)} as ${shownId}${size}\n`);
  return { ok: true, fileId: file.data.id };
}

async function deleteUpload(session: BatchSession, fileId: string): Promise<void> {
  const response = await session.client.send({
    method: 'DELETE',
    path: `/v1/files/${pathSegment(fileId)}`,
  });
  const shownId = escapeControlCharacters(fileId);
  session.io.writeError(
    response.ok
      ? `the uploaded file ${shownId} was deleted again\n`
      : `the uploaded file ${shownId} could not be deleted (DELETE /v1/files/${shownId} removes it)\n`,
  );
}
