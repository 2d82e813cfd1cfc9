/**
 * Every route the gateway registers, as its router documents it: the source of /openapi.json.
 * The OpenAPI test holds this list and the app's registered routes to each other both ways.
 */
import type { Limits } from '../../config.ts';
import { accountKeyRouteDocs } from '../account/account-key-routes.ts';
import { accountRouteDocs } from '../account/account-routes.ts';
import { adminAuditRouteDocs } from '../admin/audit-routes.ts';
import { adminCatalogRouteDocs } from '../admin/catalog-routes.ts';
import { adminCredentialRouteDocs } from '../admin/credential-routes.ts';
import { meterRouteDocs } from '../admin/meter-routes.ts';
import { adminMoneyRouteDocs } from '../admin/money-routes.ts';
import { adminPayoutRouteDocs } from '../admin/payout-routes.ts';
import { adminProgramRouteDocs } from '../admin/program-routes.ts';
import { adminTenantRouteDocs } from '../admin/tenant-routes.ts';
import { batchRouteDocs } from '../batch/batch-routes.ts';
import { fileRouteDocs } from '../batch/file-routes.ts';
import { consoleRouteDocs } from '../console/console-routes.ts';
import { inferenceRouteDocs } from '../inference/inference-routes.ts';
import { modelRouteDocs } from '../inference/model-routes.ts';
import { responsesRouteDocs } from '../inference/responses-routes.ts';
import { leaseRouteDocs } from '../leases/lease-routes.ts';
import { healthRouteDocs } from '../operator/health-routes.ts';
import { metricsRouteDocs } from '../operator/metrics-routes.ts';
import { providerRouteDocs } from '../provider/provider-routes.ts';
import { type RouteDoc, routeDocsFor } from './route-doc.ts';

export function gatewayRouteDocs(limits: Limits): RouteDoc[] {
  return [
    ...healthRouteDocs(),
    ...metricsRouteDocs(),
    // openapi-routes.ts: the document describes itself.
    routeDocsFor('none')('get', '/openapi.json', 'This OpenAPI 3.1 document'),
    ...modelRouteDocs(),
    ...inferenceRouteDocs(limits),
    ...responsesRouteDocs(limits),
    ...accountRouteDocs(),
    ...accountKeyRouteDocs(limits),
    ...meterRouteDocs(),
    ...fileRouteDocs(),
    ...batchRouteDocs(),
    ...leaseRouteDocs(),
    ...adminTenantRouteDocs(limits),
    ...adminCatalogRouteDocs(),
    ...adminCredentialRouteDocs(),
    ...adminMoneyRouteDocs(limits),
    ...adminPayoutRouteDocs(),
    ...adminProgramRouteDocs(),
    ...adminAuditRouteDocs(),
    ...providerRouteDocs(limits),
    ...consoleRouteDocs(),
  ];
}
