/**
 * The shared services a `--store postgres` run needs: the PostgreSQL of
 * TOKENBANK_BENCH_POSTGRES_URL (or a private cluster started here, from the installed PostgreSQL
 * binaries, the way the test suites start theirs) with a fresh database, and a private Redis for
 * the replicas' shared state. A SQLite run needs neither.
 */
import { createTestDatabase, startPostgresService } from '../../test/support/postgres-service.ts';
import { startRedisServer } from '../../test/support/redis-server-process.ts';
import { progress } from './progress.ts';

export type BenchServices = {
  postgresUrl: string | undefined;
  redisUrl: string | undefined;
  stop(): Promise<void>;
};

export async function startBenchServices(store: 'sqlite' | 'postgres'): Promise<BenchServices> {
  if (store === 'sqlite') {
    return { postgresUrl: undefined, redisUrl: undefined, stop: async () => undefined };
  }
  const configured = process.env.TOKENBANK_BENCH_POSTGRES_URL;
  if (configured !== undefined && configured !== '') {
    progress('services: PostgreSQL of TOKENBANK_BENCH_POSTGRES_URL, a private Redis');
    const redis = await startRedisServer();
    return { postgresUrl: configured, redisUrl: redis.url, stop: () => redis.stop() };
  }
  progress('services: starting a private PostgreSQL cluster and Redis');
  const postgres = await startPostgresService();
  const database = await createTestDatabase(postgres.adminUrl);
  const redis = await startRedisServer();
  return {
    postgresUrl: database.url,
    redisUrl: redis.url,
    stop: async () => {
      await redis.stop();
      await database.drop();
      await postgres.stop();
    },
  };
}
