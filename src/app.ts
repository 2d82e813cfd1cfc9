/**
 * createApp(deps): the whole gateway as one runtime-neutral Hono app. The order here is the order
 * every request goes through: context and request id, the request log, the door a shutdown
 * closes, credentials per API surface, the audit of admin and provider writes, routes, and one
 * error handler that turns every failure into OpenAI's error envelope.
 */
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { UpstreamError } from './backends/upstream/upstream.ts';
import { BalanceTooLowError, LedgerConflictError } from './billing/ledger.ts';
import type { Deps, HonoEnv } from './deps.ts';
import { GatewayError, toErrorResponse } from './errors.ts';
import { registerAccountKeyRoutes } from './gateway/account/account-key-routes.ts';
import { registerAccountRoutes } from './gateway/account/account-routes.ts';
import { registerAdminAuditRoutes } from './gateway/admin/audit-routes.ts';
import { auditWrites } from './gateway/admin/audit-writes.ts';
import { registerAdminCatalogRoutes } from './gateway/admin/catalog-routes.ts';
import { registerAdminCredentialRoutes } from './gateway/admin/credential-routes.ts';
import { registerMeterRoutes } from './gateway/admin/meter-routes.ts';
import { registerAdminMoneyRoutes } from './gateway/admin/money-routes.ts';
import { registerAdminPayoutRoutes } from './gateway/admin/payout-routes.ts';
import { registerAdminProgramRoutes } from './gateway/admin/program-routes.ts';
import { registerAdminTenantRoutes } from './gateway/admin/tenant-routes.ts';
import { registerBatchRoutes } from './gateway/batch/batch-routes.ts';
import { registerFileRoutes } from './gateway/batch/file-routes.ts';
import { registerConsoleRoutes } from './gateway/console/console-routes.ts';
import { registerInferenceRoutes } from './gateway/inference/inference-routes.ts';
import { registerModelRoutes } from './gateway/inference/model-routes.ts';
import { registerResponsesRoutes } from './gateway/inference/responses-routes.ts';
import { registerLeaseRoutes } from './gateway/leases/lease-routes.ts';
import { requireAdmin, requireClient, requireProvider } from './gateway/middleware/authenticate.ts';
import { refuseWhileStopping } from './gateway/middleware/refuse-while-stopping.ts';
import { provideContext } from './gateway/middleware/request-id.ts';
import { logRequests } from './gateway/middleware/request-log.ts';
import { registerOpenApiRoutes } from './gateway/openapi/openapi-routes.ts';
import { registerHealthRoutes } from './gateway/operator/health-routes.ts';
import { registerMetricsRoutes } from './gateway/operator/metrics-routes.ts';
import { registerProviderRoutes } from './gateway/provider/provider-routes.ts';

export function createApp(deps: Deps): Hono<HonoEnv> {
  const app = new Hono<HonoEnv>();
  app.use(provideContext(deps));
  app.use(logRequests);
  app.use(refuseWhileStopping);
  app.use('/admin/v1/*', requireAdmin);
  app.use('/admin/v1/*', auditWrites);
  // Credentials before the audit: its reads of the entity must never run for a stranger.
  app.use('/provider/v1/*', requireProvider);
  app.use('/provider/v1/*', auditWrites);
  // A tenant's own key writes are audited like the operator's (the pattern also matches the list).
  app.use('/v1/account/keys/*', requireClient);
  app.use('/v1/account/keys/*', auditWrites);

  registerHealthRoutes(app);
  registerConsoleRoutes(app);
  registerMetricsRoutes(app);
  registerOpenApiRoutes(app, deps);
  registerModelRoutes(app);
  registerInferenceRoutes(app, deps.config.limits);
  registerResponsesRoutes(app);
  registerAccountRoutes(app);
  registerAccountKeyRoutes(app, deps);
  registerFileRoutes(app);
  registerBatchRoutes(app);
  registerAdminTenantRoutes(app, deps);
  registerAdminCatalogRoutes(app, deps);
  registerMeterRoutes(app, deps);
  registerAdminCredentialRoutes(app, deps);
  registerAdminMoneyRoutes(app, deps);
  registerAdminPayoutRoutes(app, deps);
  registerAdminProgramRoutes(app, deps);
  registerProviderRoutes(app, deps);
  registerLeaseRoutes(app, deps);
  registerAdminAuditRoutes(app, deps);

  app.notFound((c) =>
    toErrorResponse(
      new GatewayError(
        'not_found',
        `No route for ${c.req.method} ${new URL(c.req.url).pathname.slice(0, 200)}.`,
      ),
      c.get('requestId'),
    ),
  );
  app.onError((error, c) => toErrorResponse(toGatewayError(error, deps), c.get('requestId')));
  return app;
}

/** Ours as they are; the upstream's as 502; Hono's by status; anything else is a bug: 500. */
function toGatewayError(error: unknown, deps: Deps): GatewayError {
  if (error instanceof GatewayError) {
    return error;
  }
  if (error instanceof LedgerConflictError) {
    return new GatewayError('conflict', error.message, { param: 'reference' });
  }
  if (error instanceof BalanceTooLowError) {
    return new GatewayError('conflict', `${error.message}; nothing moved.`, { param: 'amount' });
  }
  if (error instanceof UpstreamError) {
    return new GatewayError('upstream_error', `The backend failed: ${error.kind}`);
  }
  if (error instanceof HTTPException && error.status < 500) {
    return new GatewayError('invalid_request', error.message || 'Bad request.');
  }
  deps.logger.log('error', 'unhandled_error', {
    message: error instanceof Error ? error.message : String(error),
    stack: error instanceof Error ? error.stack : undefined,
  });
  return new GatewayError('internal_error', 'The gateway failed unexpectedly; this is a bug.');
}
