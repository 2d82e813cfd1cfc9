/**
 * The AuditLog port: an append-only record of every admin and provider write, read back by
 * GET /admin/v1/audit. There is no way to change or remove an event through it, and the SQLite
 * store refuses UPDATE and DELETE on the table as well. Stores implement it beside the Catalog.
 */

export type AuditEventInput = {
  atMs: number;
  actor: string;
  action: string;
  entityType: string;
  entityId: string | null;
  tenantId: string | null;
  requestId: string;
  /** The entity's API view before the write, secrets removed; null when it did not exist. */
  before: unknown;
  /** The entity's API view after the write, secrets removed; null when it is gone. */
  after: unknown;
};

export type AuditEvent = AuditEventInput & { id: number };

export type AuditQuery = {
  /** Newest first, starting below this id (the `next_cursor` of the previous page). */
  beforeId: number | undefined;
  limit: number;
  entityId: string | undefined;
  tenantId: string | undefined;
  action: string | undefined;
};

export type AuditLog = {
  append(event: AuditEventInput): Promise<AuditEvent>;
  list(query: AuditQuery): Promise<AuditEvent[]>;
};
