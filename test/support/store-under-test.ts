/**
 * The two stores a store port's conformance suite runs on: a fresh, migrated SQLite in memory,
 * and a fresh, migrated PostgreSQL database of the suite's private cluster (dropped after the
 * file). Each gives its ports over the opened store; a suite picks the ones it tests.
 */

import { afterAll, inject } from 'vitest';
import { limitsSchema } from '../../src/config.ts';
import type { BatchStore } from '../../src/db/batch-store.ts';
import type { Catalog } from '../../src/db/catalog.ts';
import type { FileStore } from '../../src/db/file-store.ts';
import type { LeaseStore } from '../../src/db/lease-store.ts';
import { synchronousSqlite } from '../../src/db/portable-sqlite.ts';
import { createPostgresBatchStore } from '../../src/db/postgres-batch-store.ts';
import { createPostgresCatalog } from '../../src/db/postgres-catalog.ts';
import { createPostgresLeaseStore } from '../../src/db/postgres-lease-store.ts';
import { gatewayInstances as postgresInstances } from '../../src/db/postgres-schema.ts';
import { gatewayInstances as sqliteInstances } from '../../src/db/schema.ts';
import { createSqliteBatchStore } from '../../src/db/sqlite-batch-store.ts';
import { createSqliteCatalog } from '../../src/db/sqlite-catalog.ts';
import { createSqliteLeaseStore } from '../../src/db/sqlite-lease-store.ts';
import {
  migratePostgres,
  openPostgres,
} from '../../src/runtime/node/postgres/postgres-database.ts';
import { createPostgresFileStore } from '../../src/runtime/node/postgres/postgres-file-store.ts';
import { migrateSqlite, openSqlite } from '../../src/runtime/node/sqlite/sqlite-database.ts';
import { createSqliteFileStore } from '../../src/runtime/node/sqlite/sqlite-file-store.ts';
import { createTestDatabase, type TestDatabase } from './postgres-service.ts';

export const defaultLimits = limitsSchema.parse({});

export type OpenedStore = {
  catalog: Catalog;
  files: FileStore;
  batches: BatchStore;
  leases: LeaseStore;
  /** Records a gateway's heartbeat, as the ledger does. */
  heartbeat(instanceId: string, atMs: number): Promise<void>;
  close(): Promise<void>;
};

export type StoreUnderTest = {
  name: 'SQLite' | 'PostgreSQL';
  /** A fresh, empty, migrated store. */
  open(): Promise<OpenedStore>;
};

export const sqliteStore: StoreUnderTest = {
  name: 'SQLite',
  async open() {
    const opened = openSqlite(':memory:');
    migrateSqlite(opened);
    return {
      catalog: createSqliteCatalog(synchronousSqlite(opened.database)),
      files: createSqliteFileStore(opened),
      batches: createSqliteBatchStore(opened.database),
      leases: createSqliteLeaseStore(opened.database),
      heartbeat: async (id, atMs) => {
        opened.database
          .insert(sqliteInstances)
          .values({ id, startedAtMs: atMs, heartbeatAtMs: atMs })
          .onConflictDoUpdate({ target: sqliteInstances.id, set: { heartbeatAtMs: atMs } })
          .run();
      },
      close: async () => opened.close(),
    };
  },
};

/** Call at the top level of a suite file: the databases it opens are dropped after it. */
export function postgresStore(): StoreUnderTest {
  const databases: TestDatabase[] = [];
  afterAll(async () => {
    for (const database of databases) {
      await database.drop();
    }
  });
  return {
    name: 'PostgreSQL',
    async open() {
      const database = await createTestDatabase(inject('postgresAdminUrl'));
      databases.push(database);
      await migratePostgres(database.url, defaultLimits);
      // Several connections, so concurrent calls really run at once.
      const opened = openPostgres(database.url, { ...defaultLimits, postgresConnectionsMax: 8 });
      return {
        catalog: createPostgresCatalog(opened.database),
        files: createPostgresFileStore(opened),
        batches: createPostgresBatchStore(opened.database),
        leases: createPostgresLeaseStore(opened.database),
        heartbeat: async (id, atMs) => {
          await opened.database
            .insert(postgresInstances)
            .values({ id, startedAtMs: atMs, heartbeatAtMs: atMs })
            .onConflictDoUpdate({ target: postgresInstances.id, set: { heartbeatAtMs: atMs } });
        },
        close: () => opened.close(),
      };
    },
  };
}
