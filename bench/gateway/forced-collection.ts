/**
 * The bench's side of forced-collection-preload.mjs: asks one tokenbank process for a full
 * garbage collection (SIGUSR2) and reads the heap used right after it from the report file the
 * preload writes. A figure after a forced collection is what the process keeps; /metrics' heap
 * used also counts garbage V8 has not collected yet.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const forcedCollectionPreloadPath = fileURLToPath(
  new URL('./forced-collection-preload.mjs', import.meta.url),
);
/** A heap snapshot of a few hundred MB takes seconds; a collection alone, milliseconds. */
const collectionTimeoutMs = 120_000;
const pollIntervalMs = 20;

type CollectionReport = { collectionCount: number; heapUsedBytes: number };

function readReport(reportPath: string): CollectionReport {
  try {
    return JSON.parse(readFileSync(reportPath, 'utf8')) as CollectionReport;
  } catch {
    return { collectionCount: 0, heapUsedBytes: Number.NaN };
  }
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Heap used by the process after a full collection; NaN if it did not answer in time. */
export async function heapUsedAfterCollection(pid: number, reportPath: string): Promise<number> {
  const previousCount = readReport(reportPath).collectionCount;
  process.kill(pid, 'SIGUSR2');
  const deadlineMs = Date.now() + collectionTimeoutMs;
  while (Date.now() < deadlineMs) {
    const report = readReport(reportPath);
    if (report.collectionCount > previousCount) {
      return report.heapUsedBytes;
    }
    await pause(pollIntervalMs);
  }
  return Number.NaN;
}
