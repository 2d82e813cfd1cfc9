/**
 * The command table of `tokenbank admin`: resource name to its actions. Adding a resource is one
 * more entry here and one module of AdminResource values.
 */
import type { AdminResource } from './admin-action.ts';
import {
  backendResource,
  priceResource,
  providerResource,
  tokenResource,
} from './catalog-resources.ts';
import { adjustResource, couponResource, topUpResource } from './money-resources.ts';
import { auditResource, ledgerResource, usageResource } from './report-resources.ts';
import { programResource, statementResource } from './statement-resources.ts';
import { keyResource, tenantResource } from './tenant-resources.ts';

export const adminResources: Readonly<Record<string, AdminResource>> = {
  tenants: tenantResource,
  keys: keyResource,
  topup: topUpResource,
  adjust: adjustResource,
  coupons: couponResource,
  usage: usageResource,
  ledger: ledgerResource,
  statement: statementResource,
  programs: programResource,
  providers: providerResource,
  prices: priceResource,
  backends: backendResource,
  audit: auditResource,
  tokens: tokenResource,
};
