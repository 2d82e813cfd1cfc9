/**
 * The WHERE clause of an audit log page, for either store's audit_events table: drizzle builds
 * the same conditions over the SQLite and the PostgreSQL columns.
 */
import { type AnyColumn, and, eq, lt, type SQL } from 'drizzle-orm';
import type { AuditQuery } from './audit-log.ts';

type AuditColumns = { id: AnyColumn; entityId: AnyColumn; tenantId: AnyColumn; action: AnyColumn };

export function auditFilter(columns: AuditColumns, query: AuditQuery): SQL | undefined {
  const { beforeId, entityId, tenantId, action } = query;
  return and(
    beforeId === undefined ? undefined : lt(columns.id, beforeId),
    entityId === undefined ? undefined : eq(columns.entityId, entityId),
    tenantId === undefined ? undefined : eq(columns.tenantId, tenantId),
    action === undefined ? undefined : eq(columns.action, action),
  );
}
