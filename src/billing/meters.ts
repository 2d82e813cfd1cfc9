/**
 * The bank's meters (API.md "The bank's three meters"): every charge is a list of lines, one per
 * meter, and each meter is paid by coupons of one kind first (compute for tokens and card-hours,
 * storage, transport), then the wallet. A line counts its units in the meter's base unit (a token,
 * a byte, a byte-second, an accelerator-second) so no unit is ever fractional, and is priced per
 * the meter's price unit (1M tokens, a GB, a GB-hour, a card-hour): cost =
 * `ceil(units × price × multiplier / (base units per price unit × 10,000))`, rounded once per line.
 */
import { assert } from '../assert.ts';
import { type BilledTokens, basisPointsWhole, type PinnedPrice } from './cost.ts';
import { formatMoney } from './money.ts';
import type { ChargeLine, CouponKind } from './waterfall.ts';

export const meters = [
  'input',
  'cached_input',
  'output',
  'card_hour',
  'storage_gb_hour',
  'transport_gb',
] as const;
export type Meter = (typeof meters)[number];

/** The coupon kind that pays each meter's lines. */
export const kindOfMeter: Readonly<Record<Meter, CouponKind>> = {
  input: 'compute',
  cached_input: 'compute',
  output: 'compute',
  card_hour: 'compute',
  storage_gb_hour: 'storage',
  transport_gb: 'transport',
};

const bytesPerGb = 1_000_000_000n;
const secondsPerHour = 3_600n;

/** Base units in one price unit: tokens per 1M, bytes per GB, byte-seconds per GB-hour, … */
export const baseUnitsPerPriceUnit: Readonly<Record<Meter, bigint>> = {
  input: 1_000_000n,
  cached_input: 1_000_000n,
  output: 1_000_000n,
  card_hour: secondsPerHour,
  storage_gb_hour: bytesPerGb * secondsPerHour,
  transport_gb: bytesPerGb,
};

/** Base units in one shown unit (a token, a GB, a GB-hour, a card-hour). */
const baseUnitsPerShownUnit: Readonly<Record<Meter, bigint>> = {
  input: 1n,
  cached_input: 1n,
  output: 1n,
  card_hour: secondsPerHour,
  storage_gb_hour: bytesPerGb * secondsPerHour,
  transport_gb: bytesPerGb,
};

/** One line of a charge. */
export type MeterLine = {
  meter: Meter;
  /** In the meter's base unit. */
  units: bigint;
  /** Micro-units per price unit, as pinned. */
  priceMicro: bigint;
  /** 10,000 = the list price; an off-peak window sets its own (token meters only). */
  multiplierBps: number;
  costMicro: bigint;
};

/** Prices a line: one rounding up per line, so the bias is under one micro-unit. */
export function meterLine(
  meter: Meter,
  units: bigint,
  priceMicro: bigint,
  multiplierBps = Number(basisPointsWhole),
): MeterLine {
  assert(units >= 0n, 'units are not negative');
  assert(priceMicro >= 0n, 'a price is not negative');
  assert(Number.isSafeInteger(multiplierBps) && multiplierBps >= 0, 'multiplier must be >= 0');
  const numerator = units * priceMicro * BigInt(multiplierBps);
  const denominator = baseUnitsPerPriceUnit[meter] * basisPointsWhole;
  return {
    meter,
    units,
    priceMicro,
    multiplierBps,
    costMicro: (numerator + denominator - 1n) / denominator,
  };
}

/** The token lines of an inference: uncached input, cached input and output, each its price. */
export function tokenLines(tokens: BilledTokens, price: PinnedPrice): MeterLine[] {
  assert(tokens.cachedInputTokens <= tokens.inputTokens, 'cached input is part of input');
  const multiplier = price.multiplierBps;
  return [
    meterLine(
      'input',
      BigInt(tokens.inputTokens - tokens.cachedInputTokens),
      price.inputPerMillion,
      multiplier,
    ),
    meterLine(
      'cached_input',
      BigInt(tokens.cachedInputTokens),
      price.cachedInputPerMillion,
      multiplier,
    ),
    meterLine('output', BigInt(tokens.outputTokens), price.outputPerMillion, multiplier),
  ];
}

/** The transport line of bytes carried between regions, at the region pair's price per GB. */
export function transportLine(transport: { bytes: number; pricePerGbMicro: bigint }): MeterLine {
  assert(Number.isSafeInteger(transport.bytes) && transport.bytes >= 0, 'bytes are counted');
  return meterLine('transport_gb', BigInt(transport.bytes), transport.pricePerGbMicro);
}

export function linesCost(lines: readonly MeterLine[]): bigint {
  return lines.reduce((sum, line) => sum + line.costMicro, 0n);
}

/** The order the kinds are paid in: compute first, as a token charge always was. */
const kindOrder: readonly CouponKind[] = ['compute', 'transport', 'storage'];

/**
 * The waterfall's lines of a charge: one per coupon kind it has, of the sum of that kind's meter
 * lines (so a compute charge is paid as one line, with coverage judged on its whole cost).
 */
export function chargeLinesOf(
  lines: readonly MeterLine[],
  scope: Omit<ChargeLine, 'kind' | 'costMicro'>,
): ChargeLine[] {
  return kindOrder.flatMap((kind) => {
    const ofKind = lines.filter((line) => kindOfMeter[line.meter] === kind);
    return ofKind.length === 0 ? [] : [{ ...scope, kind, costMicro: linesCost(ofKind) }];
  });
}

/** A line as usage records store it and the API shows it: decimal strings. */
export type StoredMeterLine = { meter: Meter; units: string; price: string; cost: string };

/** Shown units, exact for tokens, to nine decimals (rounded down) for GB meters. */
function shownUnits(meter: Meter, units: bigint): string {
  const perShown = baseUnitsPerShownUnit[meter];
  if (perShown === 1n) {
    return units.toString();
  }
  const nanos = (units * 1_000_000_000n) / perShown;
  const whole = nanos / 1_000_000_000n;
  const fraction = (nanos % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  return fraction === '' ? whole.toString() : `${whole}.${fraction}`;
}

export function toStoredLines(lines: readonly MeterLine[]): StoredMeterLine[] {
  return lines.map((line) => ({
    meter: line.meter,
    units: shownUnits(line.meter, line.units),
    price: formatMoney(line.priceMicro),
    cost: formatMoney(line.costMicro),
  }));
}

/** `input=0.000002;output=0.000012`: the x-tokenbank-cost-lines header, one entry per meter. */
export function costLinesHeader(lines: readonly StoredMeterLine[]): string {
  return lines.map((line) => `${line.meter}=${line.cost}`).join(';');
}
