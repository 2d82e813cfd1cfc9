/**
 * The AuditLog over PostgreSQL (drizzle pg-core): inserts and newest-first pages. Migration 0001
 * of drizzle-postgres/ refuses any change to a stored event, as the SQLite triggers do.
 */
import { desc } from 'drizzle-orm';
import { auditFilter } from './audit-filter.ts';
import type { AuditEvent, AuditLog } from './audit-log.ts';
import type { PostgresDatabase } from './postgres-catalog.ts';
import { auditEvents } from './postgres-schema.ts';

export function createPostgresAuditLog(database: PostgresDatabase): AuditLog {
  const toEvent = (row: typeof auditEvents.$inferSelect): AuditEvent => ({
    ...row,
    before: row.before ?? null,
    after: row.after ?? null,
  });
  return {
    append: async (event) => {
      const [row] = await database.insert(auditEvents).values(event).returning();
      if (!row) {
        throw new Error('an audit event insert returned no row');
      }
      return toEvent(row);
    },
    list: async (query) => {
      const rows = await database
        .select()
        .from(auditEvents)
        .where(auditFilter(auditEvents, query))
        .orderBy(desc(auditEvents.id))
        .limit(query.limit);
      return rows.map(toEvent);
    },
  };
}
