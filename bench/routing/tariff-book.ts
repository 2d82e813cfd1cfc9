/**
 * Each region's price at a moment of the compressed day, read through the production off-peak
 * functions (`multiplierAt`, `nextOffpeakAtMs`) and costed with `tokenCost`. Windows start and
 * end on whole minutes, so prices are read at the start of the wall-clock minute and kept for
 * it: the functions format a date per call, which would otherwise cost more than the simulation.
 */
import { basisPointsWhole, tokenCost } from '../../src/billing/cost.ts';
import { multiplierAt, nextOffpeakAtMs } from '../../src/billing/offpeak.ts';
import type { RegionTariff } from './batch-scenarios.ts';

export type RegionPrice = {
  multiplierBps: number;
  /** Input and output per million together, multiplier applied: what `placeLines` compares. */
  unitPriceMicro: bigint;
  nextOffpeakAtMs: number | undefined;
};

const minuteMs = 60_000;
export const listMultiplierBps = Number(basisPointsWhole);

export class TariffBook {
  readonly #tariffs: ReadonlyMap<string, RegionTariff>;
  readonly #prices = new Map<string, RegionPrice>();

  constructor(tariffs: readonly RegionTariff[]) {
    this.#tariffs = new Map(tariffs.map((tariff) => [tariff.region, tariff]));
  }

  priceAt(region: string, clockMs: number): RegionPrice | undefined {
    const tariff = this.#tariffs.get(region);
    if (tariff === undefined) {
      return undefined;
    }
    const minuteStartMs = clockMs - (clockMs % minuteMs);
    const key = `${region}@${minuteStartMs}`;
    const known = this.#prices.get(key);
    if (known !== undefined) {
      return known;
    }
    const multiplierBps = multiplierAt(tariff, minuteStartMs);
    const price = {
      multiplierBps,
      unitPriceMicro:
        ((tariff.inputPerMillionMicro + tariff.outputPerMillionMicro) * BigInt(multiplierBps)) /
        basisPointsWhole,
      nextOffpeakAtMs: nextOffpeakAtMs(tariff, minuteStartMs),
    };
    this.#prices.set(key, price);
    return price;
  }

  /** What a line's tokens cost in a region at a multiplier, as the ledger would charge it. */
  costMicro(
    region: string,
    tokens: { promptTokens: number; outputTokens: number },
    multiplierBps: number,
  ): bigint {
    const tariff = this.#tariffs.get(region);
    if (tariff === undefined) {
      throw new Error(`no tariff for ${region}`);
    }
    return tokenCost(
      { inputTokens: tokens.promptTokens, cachedInputTokens: 0, outputTokens: tokens.outputTokens },
      {
        priceId: `price_${region}`,
        inputPerMillion: tariff.inputPerMillionMicro,
        cachedInputPerMillion: tariff.inputPerMillionMicro,
        outputPerMillion: tariff.outputPerMillionMicro,
        multiplierBps,
      },
    );
  }
}
