/**
 * billing/ and db/ may not import each other (biome.json), so the meters and coupon kinds are
 * written in both: the ledger's arithmetic in billing/, the columns' accepted values in db/. This
 * suite is what keeps the two lists one list.
 */
import { describe, expect, it } from 'vitest';
import { meters } from '../src/billing/meters.ts';
import { couponKinds } from '../src/billing/waterfall.ts';
import { meterNames, couponKinds as storedCouponKinds } from '../src/db/enums.ts';

describe('enumerations written in both billing/ and db/', () => {
  it('names the same meters in the same order', () => {
    expect([...meterNames]).toEqual([...meters]);
  });

  it('names the same coupon kinds in the same order', () => {
    expect([...storedCouponKinds]).toEqual([...couponKinds]);
  });
});
