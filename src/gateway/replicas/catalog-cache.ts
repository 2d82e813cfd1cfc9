/**
 * The CatalogCache port (deps.ts) in memory: the catalog reads on the hot path (price versions, model output caps) served from memory. This
 * process reloads at once after its own admin writes; changes made through another process are
 * seen within the refresh interval. Price versions are immutable, so a cached one is never wrong,
 * only possibly not yet the newest.
 */
import type { PinnedPrice } from '../../billing/cost.ts';
import { currentMeterPrices } from '../../billing/meter-prices.ts';
import { multiplierAt, nextOffpeakAtMs } from '../../billing/offpeak.ts';
import { currentPrices, priceFor } from '../../billing/price-book.ts';
import type { Catalog, MeterPriceRecord, ModelRecord, PriceRecord } from '../../db/catalog.ts';
import type { CatalogCache } from '../../deps.ts';
import type { Clock } from '../../platform/clock.ts';

export class MemoryCatalogCache implements CatalogCache {
  readonly #catalog: Catalog;
  readonly #clock: Clock;
  readonly #refreshIntervalMs: number;
  #prices: PriceRecord[] = [];
  #meterPrices: MeterPriceRecord[] = [];
  #models = new Map<string, ModelRecord>();
  #loadedAtMs = Number.NEGATIVE_INFINITY;

  constructor(options: { catalog: Catalog; clock: Clock; refreshIntervalMs: number }) {
    this.#catalog = options.catalog;
    this.#clock = options.clock;
    this.#refreshIntervalMs = options.refreshIntervalMs;
  }

  async reload(): Promise<void> {
    const [prices, models, meterPrices] = await Promise.all([
      this.#catalog.listPrices(),
      this.#catalog.listModels(),
      this.#catalog.listMeterPrices(),
    ]);
    this.#prices = prices;
    this.#meterPrices = currentMeterPrices(meterPrices);
    this.#models = new Map(models.map((model) => [model.id, model]));
    this.#loadedAtMs = this.#clock.nowMs();
  }

  async #fresh(): Promise<void> {
    if (this.#clock.nowMs() - this.#loadedAtMs >= this.#refreshIntervalMs) {
      await this.reload();
    }
  }

  /** The price of a model in a region as it stood at `atMs`, with the multiplier then. */
  async pinnedPrice(model: string, region: string, atMs: number): Promise<PinnedPrice | undefined> {
    await this.#fresh();
    const price = priceFor(currentPrices(this.#prices, atMs), model, region);
    if (!price) {
      return undefined;
    }
    return {
      priceId: price.id,
      inputPerMillion: price.inputPerMillion,
      cachedInputPerMillion: price.cachedInputPerMillion,
      outputPerMillion: price.outputPerMillion,
      multiplierBps: multiplierAt(price, atMs),
    };
  }

  /** When the off-peak window of the price in force at `atMs` next begins (`atMs` inside it). */
  async nextOffpeakAtMs(model: string, region: string, atMs: number): Promise<number | undefined> {
    await this.#fresh();
    const price = priceFor(currentPrices(this.#prices, atMs), model, region);
    return price && nextOffpeakAtMs(price, atMs);
  }

  /** The storage and transport prices now, newest of each meter and region pair. */
  async meterPrices(): Promise<readonly MeterPriceRecord[]> {
    await this.#fresh();
    return this.#meterPrices;
  }

  /** The output cap a request without max_tokens is reserved for. */
  async outputTokensDefault(model: string, deploymentDefault: number): Promise<number> {
    await this.#fresh();
    return this.#models.get(model)?.outputTokensDefault ?? deploymentDefault;
  }
}
