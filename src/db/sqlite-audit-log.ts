/**
 * The AuditLog over a drizzle SQLite database (better-sqlite3 on Node, D1 on Workers:
 * portable-sqlite.ts): inserts and newest-first pages, with the table's triggers (migration 0002)
 * refusing any change to a stored event.
 */
import { desc } from 'drizzle-orm';
import { auditFilter } from './audit-filter.ts';
import type { AuditEvent, AuditLog } from './audit-log.ts';
import type { PortableSqliteDatabase } from './portable-sqlite.ts';
import { auditEvents } from './schema.ts';

export function createSqliteAuditLog(database: PortableSqliteDatabase): AuditLog {
  return {
    append: async (event) => {
      const row = await database.insert(auditEvents).values(event).returning().get();
      return { ...row, before: row.before ?? null, after: row.after ?? null };
    },
    list: async (query) => {
      const rows = await database
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
