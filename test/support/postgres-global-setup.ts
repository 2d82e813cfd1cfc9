/**
 * Vitest global setup of the integration project: one PostgreSQL server for the whole run
 * (postgres-service.ts), its admin URL handed to the suites as `inject('postgresAdminUrl')`.
 * Each suite creates and drops its own database on it.
 */
import type { TestProject } from 'vitest/node';
import { startPostgresService } from './postgres-service.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    postgresAdminUrl: string;
  }
}

export async function setup(project: TestProject): Promise<() => Promise<void>> {
  const service = await startPostgresService();
  project.provide('postgresAdminUrl', service.adminUrl);
  return () => service.stop();
}
