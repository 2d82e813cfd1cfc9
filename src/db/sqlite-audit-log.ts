/**
 * The AuditLog over the synchronous drizzle SQLite database: inserts and newest-first pages, with
 * the table's triggers (migration 0002) refusing any change to a stored event.
 */
import { and, desc, eq, lt } from 'drizzle-orm';
import type { AuditEvent, AuditLog } from './audit-log.ts';
import { auditEvents } from './schema.ts';
import type { SqliteDatabase } from './sqlite-catalog.ts';

export function createSqliteAuditLog(database: SqliteDatabase): AuditLog {
  return {
    append: async (event) => {
      const row = database.insert(auditEvents).values(event).returning().get();
      return { ...row, before: row.before ?? null, after: row.after ?? null };
    },
    list: async ({ beforeId, limit, entityId, tenantId, action }) => {
      const rows = database
        .select()
        .from(auditEvents)
        .where(
          and(
            beforeId === undefined ? undefined : lt(auditEvents.id, beforeId),
            entityId === undefined ? undefined : eq(auditEvents.entityId, entityId),
            tenantId === undefined ? undefined : eq(auditEvents.tenantId, tenantId),
            action === undefined ? undefined : eq(auditEvents.action, action),
          ),
        )
        .orderBy(desc(auditEvents.id))
        .limit(limit)
        .all();
      return rows.map(
        (row): AuditEvent => ({ ...row, before: row.before ?? null, after: row.after ?? null }),
      );
    },
  };
}
