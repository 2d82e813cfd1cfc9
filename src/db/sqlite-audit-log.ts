/**
 * The AuditLog over the synchronous drizzle SQLite database: inserts and newest-first pages, with
 * the table's triggers (migration 0002) refusing any change to a stored event.
 */
import { desc } from 'drizzle-orm';
import { auditFilter } from './audit-filter.ts';
import type { AuditEvent, AuditLog } from './audit-log.ts';
import { auditEvents } from './schema.ts';
import type { SqliteDatabase } from './sqlite-catalog.ts';

export function createSqliteAuditLog(database: SqliteDatabase): AuditLog {
  return {
    append: async (event) => {
      const row = database.insert(auditEvents).values(event).returning().get();
      return { ...row, before: row.before ?? null, after: row.after ?? null };
    },
    list: async (query) => {
      const rows = database
        .select()
        .from(auditEvents)
        .where(auditFilter(auditEvents, query))
        .orderBy(desc(auditEvents.id))
        .limit(query.limit)
        .all();
      return rows.map(
        (row): AuditEvent => ({ ...row, before: row.before ?? null, after: row.after ?? null }),
      );
    },
  };
}
