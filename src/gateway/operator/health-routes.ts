/** GET /healthz: no credentials; 200 when the store answers, 503 when it does not. */
import type { Hono } from 'hono';
import type { HonoEnv } from '../../deps.ts';
import { type RouteDoc, routeDocsFor } from '../openapi/route-doc.ts';

export function registerHealthRoutes(app: Hono<HonoEnv>): void {
  app.get('/healthz', async (c) => {
    try {
      await c.get('deps').catalog.ping();
      return c.json({ status: 'ok' });
    } catch {
      return c.json({ status: 'store_unavailable' }, 503);
    }
  });
}

export function healthRouteDocs(): RouteDoc[] {
  return [routeDocsFor('none')('get', '/healthz', 'Whether the gateway and its store answer')];
}
