/**
 * Moves SQLite's WAL checkpoints off the request path. Left to itself, the writing connection
 * checkpoints inside whichever commit crosses the WAL size threshold: that commit then copies
 * every page back into the database file and syncs it, which measured at about three quarters of
 * all commit time in the ledger benchmark. Here a worker thread with its own connection runs a
 * PASSIVE checkpoint on a timer: it never blocks the writer, and uses the second core. The
 * writer's own auto-checkpoint stays as a safety net at a larger threshold, so the WAL stays
 * bounded even if the worker stops.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import { assert } from '../../../assert.ts';

export type WalCheckpointerOptions = {
  /** Time between two checkpoints. */
  intervalMs: number;
  /** WAL pages after which the writing connection checkpoints by itself (the safety net). */
  writerAutocheckpointPages: number;
};

export type CheckpointStatistics = {
  checkpoints: number;
  /** Frames in the WAL and frames copied back, as of the last checkpoint. */
  walFrames: number;
  checkpointedFrames: number;
  failures: number;
};

export type WalCheckpointer = {
  statistics(): CheckpointStatistics;
  stop(): Promise<void>;
};

// Plain CommonJS, evaluated in the worker: it must not depend on how the parent loads TypeScript.
const workerSource = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driverPath);
const connection = new Database(workerData.path);
const checkpoint = () => {
  try {
    const [result] = connection.pragma('wal_checkpoint(PASSIVE)');
    parentPort.postMessage({ ok: true, walFrames: result.log, checkpointedFrames: result.checkpointed });
  } catch (error) {
    parentPort.postMessage({ ok: false, error: String(error) });
  }
};
const timer = setInterval(checkpoint, workerData.intervalMs);
parentPort.on('message', () => {
  clearInterval(timer);
  connection.close();
  parentPort.close();
});
`;

type WorkerReport =
  | { ok: true; walFrames: number; checkpointedFrames: number }
  | { ok: false; error: string };

export function startWalCheckpointer(
  connection: Database.Database,
  options: WalCheckpointerOptions,
  onFailure: (message: string) => void,
): WalCheckpointer {
  assert(options.intervalMs > 0, 'a checkpoint interval is positive');
  assert(!connection.memory, 'an in-memory database has no WAL to checkpoint');
  connection.pragma(`wal_autocheckpoint = ${Math.trunc(options.writerAutocheckpointPages)}`);
  const driverPath = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(workerSource, {
    eval: true,
    workerData: { driverPath, path: connection.name, intervalMs: options.intervalMs },
  });
  worker.unref();
  const statistics: CheckpointStatistics = {
    checkpoints: 0,
    walFrames: 0,
    checkpointedFrames: 0,
    failures: 0,
  };
  worker.on('message', (report: WorkerReport) => {
    if (report.ok) {
      statistics.checkpoints += 1;
      statistics.walFrames = report.walFrames;
      statistics.checkpointedFrames = report.checkpointedFrames;
      return;
    }
    statistics.failures += 1;
    onFailure(report.error);
  });
  worker.on('error', (error) => {
    statistics.failures += 1;
    onFailure(String(error));
  });
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  return {
    statistics: () => ({ ...statistics }),
    stop: async () => {
      // Unreferenced, the worker would let the process exit before it closed its connection.
      worker.ref();
      worker.postMessage('stop');
      await exited;
    },
  };
}
