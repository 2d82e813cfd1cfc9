/**
 * The output and error files of an ended batch, in OpenAI's line format: `{id, custom_id,
 * response, error}`, one per line, in input order. Lines that answered 2xx go to the output file;
 * every other line (an error answer, or one that never ran) to the error file. Built from the
 * stored line results, so building them again after a crash gives the same files.
 */
import { joinParts } from '../../backends/upstream/upstream.ts';
import type { BatchRecord } from '../../db/batch-store.ts';
import type { Deps } from '../../deps.ts';

/** Lines read from the store per page while the files are built. */
const linesPerPage = 1_000;

export type ResultFiles = { outputFileId: string | null; errorFileId: string | null };

function fileLine(
  batch: BatchRecord,
  line: { lineIndex: number; customId: string; result: unknown },
) {
  const result = (line.result ?? { response: null, error: null }) as {
    response: unknown;
    error: unknown;
  };
  return `${JSON.stringify({
    id: `batch_req_${batch.id.slice('batch_'.length)}_${line.lineIndex}`,
    custom_id: line.customId,
    response: result.response,
    error: result.error,
  })}\n`;
}

export async function writeResultFiles(deps: Deps, batch: BatchRecord): Promise<ResultFiles> {
  const encoder = new TextEncoder();
  const output: Uint8Array[] = [];
  const errors: Uint8Array[] = [];
  let afterIndex = -1;
  for (;;) {
    const page = await deps.batches.endedLines(batch.id, afterIndex, linesPerPage);
    for (const line of page) {
      (line.status === 'succeeded' ? output : errors).push(encoder.encode(fileLine(batch, line)));
    }
    const last = page.at(-1);
    if (last === undefined || page.length < linesPerPage) {
      break;
    }
    afterIndex = last.lineIndex;
  }
  const atMs = deps.clock.nowMs();
  const create = async (chunks: Uint8Array[], suffix: string) =>
    chunks.length === 0
      ? null
      : (
          await deps.files.create({
            tenantId: batch.tenantId,
            filename: `${batch.id}_${suffix}.jsonl`,
            purpose: 'batch_output',
            content: joinParts(
              chunks,
              chunks.reduce((total, chunk) => total + chunk.byteLength, 0),
            ),
            atMs,
          })
        ).id;
  return {
    outputFileId: await create(output, 'output'),
    errorFileId: await create(errors, 'error'),
  };
}
