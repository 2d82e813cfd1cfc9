/**
 * Gateway replicas of the multi-replica suites on one shared store (postgres-replica-store.ts
 * opens it): the first replica starts alone so that it migrates the store, the rest together.
 */
import { type GatewayProcess, startGatewayProcess } from './spawn-gateway.ts';

export type ReplicaStore = {
  /** What each replica gets as `--db`. */
  database: string;
  close(): Promise<void>;
};

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
