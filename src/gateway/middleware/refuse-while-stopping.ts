/**
 * Once a graceful shutdown has begun, every new request (also on a kept-alive connection that the
 * listener no longer guards) is refused with 503 no_capacity and `connection: close`, so clients
 * and load balancers move on to another instance while the requests already in flight finish.
 */
import type { MiddlewareHandler } from 'hono';
import type { HonoEnv } from '../../deps.ts';
import { GatewayError, toErrorResponse } from '../../errors.ts';

export const refuseWhileStopping: MiddlewareHandler<HonoEnv> = async function refuseWhileStopping(
  c,
  next,
) {
  const deps = c.get('deps');
  if (!deps.gate.stopping) {
    await next();
    return;
  }
  deps.metrics.countLimited('shutting_down');
  const response = toErrorResponse(
    new GatewayError('no_capacity', 'The gateway is shutting down; retry on another instance.', {
      retryAfterS: 1,
    }),
    c.get('requestId'),
  );
  response.headers.set('connection', 'close');
  return response;
};
