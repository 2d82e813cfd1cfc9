import { describe, expect, it } from 'vitest';
import type { Catalog, PageRequest, TenantRecord } from '../../../db/catalog.ts';
import { tenantFanOut } from './tenant-fan-out.ts';

/** A catalog of `count` tenants that pages like the store, counting the pages read. */
function catalogOf(count: number) {
  const ids = Array.from({ length: count }, (_, index) => `ten_${String(index).padStart(4, '0')}`);
  const pages: PageRequest[] = [];
  const catalog: Pick<Catalog, 'listTenants'> = {
    async listTenants(page) {
      pages.push(page);
      return ids
        .filter((id) => page.after === undefined || id > page.after)
        .slice(0, page.limit)
        .map((id) => ({ id }) as TenantRecord);
    },
  };
  return { catalog, ids, pages };
}

describe('tenantFanOut', () => {
  it('visits every tenant of every page, a bounded number at once, answering in id order', async () => {
    const { catalog, ids, pages } = catalogOf(250);
    let inFlight = 0;
    let inFlightMax = 0;
    const answers = await tenantFanOut(
      catalog,
      3,
    )(async (tenantId) => {
      inFlight += 1;
      inFlightMax = Math.max(inFlightMax, inFlight);
      await Promise.resolve();
      inFlight -= 1;
      return `${tenantId}!`;
    });
    expect(answers).toEqual(ids.map((id) => `${id}!`));
    expect(inFlightMax).toBe(3);
    expect(pages.map((page) => page.after)).toEqual([undefined, 'ten_0099', 'ten_0199']);
  });

  it('answers nothing for a catalog without tenants', async () => {
    const { catalog } = catalogOf(0);
    expect(await tenantFanOut(catalog, 2)(async () => 1)).toEqual([]);
  });
});
