/**
 * GET /admin/v1/audit: the audit log, newest first, in pages (`?limit`, and `?before` set to the
 * previous page's `next_cursor`), optionally for one entity, tenant or action.
 */
import type { Hono } from 'hono';
import { z } from 'zod';
import type { AuditEvent } from '../../db/audit-log.ts';
import type { Deps, HonoEnv } from '../../deps.ts';
import { GatewayError } from '../../errors.ts';
import { toRfc3339 } from '../../platform/clock.ts';
import { listPageOf } from '../middleware/list-page.ts';
import { queryInteger } from '../middleware/query-fields.ts';
import { type RouteDoc, routeDocsFor } from '../openapi/route-doc.ts';
import { listView } from './views.ts';

function auditEventView(event: AuditEvent) {
  return {
    id: event.id,
    object: 'audit_event',
    created_at: toRfc3339(event.atMs),
    actor: event.actor,
    action: event.action,
    entity_type: event.entityType,
    entity_id: event.entityId,
    tenant_id: event.tenantId,
    request_id: event.requestId,
    before: event.before,
    after: event.after,
  };
}

function cursorOf(text: string | undefined): number | undefined {
  if (text === undefined || text === '') {
    return undefined;
  }
  const cursor = Number(text);
  if (!Number.isSafeInteger(cursor) || cursor < 1) {
    throw new GatewayError('invalid_request', 'before must be an audit event id.', {
      param: 'before',
    });
  }
  return cursor;
}

/** A filter value, bounded like the ids and names it is compared with. */
function filterOf(text: string | undefined, param: string): string | undefined {
  if (text === undefined || text === '') {
    return undefined;
  }
  if (text.length > 256) {
    throw new GatewayError('invalid_request', `${param} is at most 256 characters.`, { param });
  }
  return text;
}

export function registerAdminAuditRoutes(app: Hono<HonoEnv>, deps: Deps): void {
  app.get('/admin/v1/audit', async (c) => {
    const query = c.req.query();
    const { limit } = listPageOf(deps.config.limits, query);
    const events = await deps.audit.list({
      beforeId: cursorOf(query.before),
      limit: limit + 1,
      entityId: filterOf(query.entity_id, 'entity_id'),
      tenantId: filterOf(query.tenant_id, 'tenant_id'),
      action: filterOf(query.action, 'action'),
    });
    const shown = events.slice(0, limit);
    const hasMore = events.length > limit;
    return c.json(
      listView(shown.map(auditEventView), {
        has_more: hasMore,
        next_cursor: hasMore ? String(shown.at(-1)?.id ?? '') : null,
      }),
    );
  });
}

/** A filter is compared with ids and names: at most 256 characters (filterOf). */
const auditFilterQuery = z.string().max(256).optional();

const auditQuery = z.object({
  limit: queryInteger.optional(),
  before: queryInteger.optional(),
  entity_id: auditFilterQuery,
  tenant_id: auditFilterQuery,
  action: auditFilterQuery,
});

export function adminAuditRouteDocs(): RouteDoc[] {
  return [
    routeDocsFor('admin')('get', '/admin/v1/audit', 'The audit log, newest first, paged', {
      query: auditQuery,
    }),
  ];
}
