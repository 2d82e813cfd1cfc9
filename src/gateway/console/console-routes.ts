/**
 * GET /console (the web console's shell), GET /console/assets/{name} (its built client, through
 * the ConsoleAssets port) and GET / (a pointer to the console). No credentials here: the shell
 * and the client are public; what they show is read from the API with the user's credential.
 */
import type { Context, Hono } from 'hono';
import type { HonoEnv } from '../../deps.ts';
import { GatewayError } from '../../errors.ts';
import { type RouteDoc, routeDocsFor } from '../openapi/route-doc.ts';
import { consoleAssetContentType } from './console-assets.ts';
import { consoleContentSecurityPolicy, consoleMissingPage, consolePage } from './console-page.ts';

/** The built client changes only with the package: a browser may keep it for an hour. */
const assetCacheControl = 'public, max-age=3600';

function securityHeaders(c: Context<HonoEnv>): void {
  c.header('content-security-policy', consoleContentSecurityPolicy);
  c.header('x-content-type-options', 'nosniff');
  c.header('referrer-policy', 'no-referrer');
}

export function registerConsoleRoutes(app: Hono<HonoEnv>): void {
  app.get('/', (c) => c.redirect('/console', 302));

  app.get('/console', async (c) => {
    securityHeaders(c);
    c.header('cache-control', 'no-store');
    const script = await c.get('deps').consoleAssets.read('console.js');
    return script === undefined ? c.html(consoleMissingPage(), 503) : c.html(consolePage());
  });

  app.get('/console/assets/:name', async (c) => {
    const name = c.req.param('name');
    const contentType = consoleAssetContentType(name);
    const asset =
      contentType === undefined ? undefined : await c.get('deps').consoleAssets.read(name);
    if (contentType === undefined || asset === undefined) {
      throw new GatewayError('not_found', `No console asset named ${name.slice(0, 100)}.`);
    }
    securityHeaders(c);
    c.header('content-type', contentType);
    c.header('cache-control', assetCacheControl);
    return c.body(asset.body.slice().buffer);
  });
}

export function consoleRouteDocs(): RouteDoc[] {
  const route = routeDocsFor('none');
  return [
    route('get', '/', 'Redirects to the web console', { successTypes: ['text/html'] }),
    route('get', '/console', "The web console's page", { successTypes: ['text/html'] }),
    route('get', '/console/assets/:name', "The web console's built script and style", {
      successTypes: ['text/javascript', 'text/css'],
    }),
  ];
}
