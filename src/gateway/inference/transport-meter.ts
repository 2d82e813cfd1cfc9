/**
 * The transport meter of an inference (API.md "The bank's three meters"): a request served by a
 * backend outside the tenant's home region is charged `transport_gb` on the bytes carried, at the
 * price of the region pair (home to serving) as it stood at admission. A tenant without a home
 * region, or served at home, is charged none. The reservation holds the request's bytes and the
 * most the answer may carry (the output cap at a bytes-per-token bound, plus an envelope); the
 * settlement charges the bytes actually relayed.
 */
import type { ChunkSource } from '../../backends/upstream/chunk-source.ts';
import type { TransportCharge } from '../../billing/ledger.ts';
import { type BookedMeterPrice, transportPriceMicro } from '../../billing/meter-prices.ts';
import type { Limits } from '../../config.ts';

/** The transport charge of bytes carried for a tenant of `homeRegion` served in `servedRegion`. */
export function transportCharge(
  meterPrices: readonly BookedMeterPrice[],
  homeRegion: string | null,
  servedRegion: string,
  bytes: number,
): TransportCharge | undefined {
  if (homeRegion === null || homeRegion === servedRegion) {
    return undefined;
  }
  const pricePerGbMicro = transportPriceMicro(meterPrices, homeRegion, servedRegion);
  return pricePerGbMicro === undefined ? undefined : { bytes, pricePerGbMicro };
}

/** The most bytes an answer of `outputTokensMax` tokens is reserved for. */
export function responseBytesBound(limits: Limits, outputTokensMax: number): number {
  return (
    limits.transportResponseOverheadBytes + outputTokensMax * limits.transportResponseBytesPerToken
  );
}

/** A chunk source that counts the bytes it hands on: what a relayed stream carried. */
export function countingChunks(source: ChunkSource): ChunkSource & { bytes(): number } {
  let bytes = 0;
  return {
    next: async () => {
      const chunk = await source.next();
      bytes += chunk?.byteLength ?? 0;
      return chunk;
    },
    cancel: () => source.cancel(),
    bytes: () => bytes,
  };
}
