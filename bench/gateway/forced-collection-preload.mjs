/**
 * Preloaded into tokenbank by the bench only (`node --expose-gc --import` this file), never by
 * the gateway itself: on SIGUSR2 it runs a full garbage collection and writes the heap used right
 * after it to the file named by TOKENBANK_BENCH_COLLECTION_REPORT, so the memory part can tell
 * memory the gateway keeps from garbage V8 has not collected yet. With
 * TOKENBANK_BENCH_HEAP_SNAPSHOT_DIR set it also writes a heap snapshot after each collection,
 * for diffing rounds in Chrome's memory tool when looking for what keeps memory.
 */
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeHeapSnapshot } from 'node:v8';

const reportPath = process.env.TOKENBANK_BENCH_COLLECTION_REPORT;
const snapshotDirectory = process.env.TOKENBANK_BENCH_HEAP_SNAPSHOT_DIR;
let collectionCount = 0;

function collectAndReport() {
  // Two passes: the first may run finalizers and weak callbacks that free more on the second.
  globalThis.gc();
  globalThis.gc();
  collectionCount += 1;
  const heapUsedBytes = process.memoryUsage().heapUsed;
  if (snapshotDirectory !== undefined && snapshotDirectory !== '') {
    writeHeapSnapshot(join(snapshotDirectory, `collection-${collectionCount}.heapsnapshot`));
  }
  if (reportPath !== undefined && reportPath !== '') {
    // Written aside and renamed, so a reader never sees half a report.
    const temporaryPath = `${reportPath}.tmp`;
    writeFileSync(temporaryPath, JSON.stringify({ collectionCount, heapUsedBytes }));
    renameSync(temporaryPath, reportPath);
  }
}

if (typeof globalThis.gc === 'function') {
  process.on('SIGUSR2', collectAndReport);
}
