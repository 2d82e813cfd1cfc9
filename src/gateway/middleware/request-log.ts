/**
 * One JSON log line and one metrics count per HTTP request. Handlers fill in what they learn on
 * the way (who asked, which served model, which backend) on the request's `requestLog`; this
 * writes it out once the answer is known. Only ids and bounded names are logged, never a header,
 * a body or a credential; the path is cut short so a hostile one cannot flood the log.
 */
import type { MiddlewareHandler } from 'hono';
import type { HonoEnv, RequestLog } from '../../deps.ts';

const pathLengthMax = 200;

export function newRequestLog(): RequestLog {
  return { actor: undefined, tenantId: undefined, model: undefined, backendId: undefined };
}

/** Probes and scrapes that answered, every few seconds all day long. */
const quietPaths = new Set(['/healthz', '/metrics']);

/** A bug is an error; a refusal for capacity or an upstream failure is a warning. */
function levelOf(status: number, path: string): 'debug' | 'info' | 'warn' | 'error' {
  if (status === 500) {
    return 'error';
  }
  if (status >= 500) {
    return 'warn';
  }
  return quietPaths.has(path) && status < 300 ? 'debug' : 'info';
}

export const logRequests: MiddlewareHandler<HonoEnv> = async function logRequests(c, next) {
  const deps = c.get('deps');
  const requestLog = newRequestLog();
  c.set('requestLog', requestLog);
  const startedAtMs = deps.clock.nowMs();
  await next();
  const status = c.res.status;
  deps.metrics.countRequest(requestLog.model ?? 'none', status);
  deps.logger.log(levelOf(status, c.req.path), 'http_request', {
    request_id: c.get('requestId'),
    method: c.req.method.slice(0, 16),
    path: c.req.path.slice(0, pathLengthMax),
    status,
    duration_ms: deps.clock.nowMs() - startedAtMs,
    actor: requestLog.actor,
    tenant_id: requestLog.tenantId,
    model: requestLog.model,
    backend_id: requestLog.backendId,
  });
};
