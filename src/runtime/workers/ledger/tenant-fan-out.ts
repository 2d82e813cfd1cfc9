/**
 * Asks every tenant's Durable Object for its part of an answer that spans tenants (a provider's
 * earnings and balance, a program's statement, what a payout may take from each): the tenants
 * are paged from the catalog in id order and visited `concurrency` at a time (config
 * `tenantFanOutMax`), so a deployment of many tenants is never asked all at once.
 */
import type { Catalog, TenantRecord } from '../../../db/catalog.ts';
import { mapBounded } from '../../../platform/map-bounded.ts';

/** Tenants read from the catalog per page. */
const tenantPageSize = 100;

/** The catalog's tenants in id order, a page at a time. */
export async function* tenantPages(
  catalog: Pick<Catalog, 'listTenants'>,
): AsyncGenerator<TenantRecord[]> {
  let after: string | undefined;
  for (;;) {
    const page = await catalog.listTenants({ limit: tenantPageSize, after });
    yield page;
    const last = page.at(-1);
    if (!last || page.length < tenantPageSize) {
      return;
    }
    after = last.id;
  }
}

/** Visits every tenant and answers the visits' results in tenant id order. */
export type TenantFanOut = <Result>(
  visit: (tenantId: string) => Promise<Result>,
) => Promise<Result[]>;

export function tenantFanOut(
  catalog: Pick<Catalog, 'listTenants'>,
  concurrency: number,
): TenantFanOut {
  return async (visit) => {
    const results = [];
    for await (const page of tenantPages(catalog)) {
      results.push(...(await mapBounded(page, concurrency, (tenant) => visit(tenant.id))));
    }
    return results;
  };
}
