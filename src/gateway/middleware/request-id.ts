/**
 * Gives every request an id (`req_...`) before anything else runs, and puts it on every response,
 * errors included, so an operator can find a request from what a client saw.
 */
import type { MiddlewareHandler } from 'hono';
import type { Deps, HonoEnv } from '../../deps.ts';
import { newId } from '../../platform/identifiers.ts';

export function provideContext(deps: Deps): MiddlewareHandler<HonoEnv> {
  return async function provideContextMiddleware(c, next) {
    const requestId = newId('req');
    c.set('deps', deps);
    c.set('requestId', requestId);
    await next();
    c.res.headers.set('x-request-id', requestId);
  };
}
