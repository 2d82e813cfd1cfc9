/**
 * The prices of the storage and transport meters: rows are never changed, a newer row for the
 * same meter and regions replaces an older one. '' as a region means any: a transport price for
 * a region pair overrides the one from (or to) a region, which overrides the default.
 */

/** What the lookups read of a stored meter price (the catalog's record has more). */
export type BookedMeterPrice = {
  meter: string;
  fromRegion: string;
  toRegion: string;
  priceMicro: bigint;
  createdAtMs: number;
};

/** The newest price of every meter and region pair, from rows oldest first. */
export function currentMeterPrices<Price extends BookedMeterPrice>(
  rows: readonly Price[],
): Price[] {
  const current = new Map<string, Price>();
  for (const row of rows) {
    current.set(`${row.meter}\u0000${row.fromRegion}\u0000${row.toRegion}`, row);
  }
  return [...current.values()];
}

function find(
  current: readonly BookedMeterPrice[],
  meter: string,
  fromRegion: string,
  toRegion: string,
): bigint | undefined {
  return current.find(
    (price) =>
      price.meter === meter && price.fromRegion === fromRegion && price.toRegion === toRegion,
  )?.priceMicro;
}

/** Micro-units per GB carried from `fromRegion` to `toRegion`; undefined when none is set. */
export function transportPriceMicro(
  current: readonly BookedMeterPrice[],
  fromRegion: string,
  toRegion: string,
): bigint | undefined {
  return (
    find(current, 'transport_gb', fromRegion, toRegion) ??
    find(current, 'transport_gb', fromRegion, '') ??
    find(current, 'transport_gb', '', toRegion) ??
    find(current, 'transport_gb', '', '')
  );
}

/** Micro-units per GB-hour stored; undefined when none is set (storage is then free). */
export function storagePriceMicro(current: readonly BookedMeterPrice[]): bigint | undefined {
  return find(current, 'storage_gb_hour', '', '');
}
