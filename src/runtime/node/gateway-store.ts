/**
 * The gateway's store, whichever it is: TOKENBANK_DB selects the embedded SQLite file (a path or
 * `sqlite:PATH`) or a shared PostgreSQL (`postgres://...`). Both implement the same ports
 * (Catalog, Ledger, AuditLog, FileStore, the holds gauge, the JobLease), so everything above this
 * module is
 * the same code for one process or many replicas. Opening also migrates.
 */

import type { Ledger } from '../../billing/ledger.ts';
import { type Config, type StoreKind, storeKindOf } from '../../config.ts';
import type { AuditLog } from '../../db/audit-log.ts';
import type { BatchStore } from '../../db/batch-store.ts';
import type { Catalog } from '../../db/catalog.ts';
import type { FileStore } from '../../db/file-store.ts';
import type { LeaseStore } from '../../db/lease-store.ts';
import type { JobLease } from '../../platform/job-lease.ts';
import type { Logger } from '../../platform/logger.ts';
import type { OpenedPostgres } from './postgres/postgres-database.ts';
import { openPostgresGatewayStore } from './postgres/postgres-gateway-store.ts';
import type { HoldsPending } from './prometheus-metrics.ts';
import type { OpenedSqlite } from './sqlite/sqlite-database.ts';
import { openSqliteGatewayStore } from './sqlite/sqlite-gateway-store.ts';

type StorePorts = {
  kind: StoreKind;
  /** How logs and messages name the store: a PostgreSQL URL without its password. */
  label: string;
  catalog: Catalog;
  ledger: Ledger;
  audit: AuditLog;
  batches: BatchStore;
  /** The Files API's files, bytes included (in the store's `files` table for now). */
  files: FileStore;
  leases: LeaseStore;
  /** Reservations still holding money, for the `tokenbank_holds_pending` gauges. */
  holdsPending: () => HoldsPending | Promise<HoldsPending>;
  /** Elects the replica that runs the jobs that must run once (sweeper, coupon expiry). */
  jobLease: JobLease;
  close(): Promise<void>;
};

export type GatewayStore =
  | (StorePorts & { kind: 'sqlite'; opened: OpenedSqlite })
  | (StorePorts & { kind: 'postgres'; opened: OpenedPostgres });

/** Opens and migrates the store TOKENBANK_DB names. */
export async function openGatewayStore(config: Config, logger: Logger): Promise<GatewayStore> {
  return storeKindOf(config.database) === 'postgres'
    ? openPostgresGatewayStore(config, logger)
    : openSqliteGatewayStore(config);
}
