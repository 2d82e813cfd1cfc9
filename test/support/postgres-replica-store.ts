/**
 * A PostgreSQL store for the multi-replica suites: a fresh database on the test server
 * (postgres-service.ts), handed to each replica as its `--db`, dropped on close. It has the shape
 * of replica-store.ts's ReplicaStore, so a suite switches stores by which one it opens.
 */
import { inject } from 'vitest';
import { createTestDatabase } from './postgres-service.ts';
import type { ReplicaStore } from './replica-store.ts';

export async function openPostgresReplicaStore(): Promise<ReplicaStore> {
  const database = await createTestDatabase(inject('postgresAdminUrl'));
  return { database: database.url, close: () => database.drop() };
}
