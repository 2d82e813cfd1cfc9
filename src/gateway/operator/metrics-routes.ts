/**
 * GET /metrics: the Prometheus exposition of the Metrics port, without credentials like /healthz
 * (it carries ids, counts and money totals, never a tenant's name or a secret).
 */
import type { Hono } from 'hono';
import type { HonoEnv } from '../../deps.ts';
import { type RouteDoc, routeDocsFor } from '../openapi/route-doc.ts';

export function registerMetricsRoutes(app: Hono<HonoEnv>): void {
  app.get('/metrics', async (c) => {
    const exposition = await c.get('deps').metrics.render();
    return c.body(exposition.body, 200, { 'content-type': exposition.contentType });
  });
}

export function metricsRouteDocs(): RouteDoc[] {
  return [
    routeDocsFor('none')('get', '/metrics', 'Prometheus metrics', { successTypes: ['text/plain'] }),
  ];
}
