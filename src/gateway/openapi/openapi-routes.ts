/**
 * GET /openapi.json: the OpenAPI document of this gateway, without credentials (it describes the
 * API, holds no data), built once per app from the route docs and the deployment's limits, which
 * bound the lists and token counts its schemas show.
 */
import type { Hono } from 'hono';
import type { Deps, HonoEnv } from '../../deps.ts';
import { gatewayRouteDocs } from './gateway-route-docs.ts';
import { openApiDocument } from './openapi-document.ts';

export function registerOpenApiRoutes(app: Hono<HonoEnv>, deps: Deps): void {
  let document: ReturnType<typeof openApiDocument> | undefined;
  app.get('/openapi.json', (c) => {
    document ??= openApiDocument(gatewayRouteDocs(deps.config.limits));
    return c.json(document);
  });
}
