/**
 * The store that the gateway replicas of the multi-replica suites share, chosen in this one place.
 * For now one SQLite file: the ledger's guarded conditional updates and IMMEDIATE transactions
 * make sharing it between processes safe. Switching the suites to PostgreSQL is a change here
 * only (a test database's URL as `database`, dropped on close).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { type GatewayProcess, startGatewayProcess } from './spawn-gateway.ts';

export type ReplicaStore = {
  /** What each replica gets as `--db`. */
  database: string;
  close(): Promise<void>;
};

export async function openReplicaStore(): Promise<ReplicaStore> {
  const database = join(mkdtempSync(join(tmpdir(), 'tokenbank-replicas-')), 'gateway.db');
  return {
    database,
    async close() {
      rmSync(dirname(database), { recursive: true, force: true });
    },
  };
}

/**
 * `count` gateway processes on one store. The first starts alone, so that it migrates the store
 * before the others open it; the rest start together.
 */
export async function startReplicas(
  count: number,
  store: ReplicaStore,
  options: { adminToken: string; environment: Record<string, string> },
): Promise<GatewayProcess[]> {
  const start = () =>
    startGatewayProcess({
      adminToken: options.adminToken,
      databasePath: store.database,
      environment: options.environment,
    });
  const first = await start();
  const rest = await Promise.all(Array.from({ length: count - 1 }, start));
  return [first, ...rest];
}
