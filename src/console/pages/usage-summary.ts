/**
 * Spend and tokens per day, by model and by region, summed in the browser from the tenant's own
 * usage records (GET /v1/account/usage). Days are the user's local days; money is summed in
 * micro-units (bigint), never as floating point.
 */

import { toMicro } from '../decimal-money.ts';
import type { ChartSeries } from './bar-chart.ts';

export type UsageLike = {
  created_at: string;
  model: string;
  region: string | null;
  input_tokens: number | null;
  output_tokens: number | null;
  cost: string;
};

export type UsageSummary = {
  days: string[];
  spendByModel: ChartSeries[];
  spendByRegion: ChartSeries[];
  tokensByModel: ChartSeries[];
};

/** The local day of a time, as YYYY-MM-DD. */
export function localDay(date: Date): string {
  const month = String(date.getMonth() + 1).padStart(2, '0');
  const day = String(date.getDate()).padStart(2, '0');
  return `${date.getFullYear()}-${month}-${day}`;
}

/** The `count` local days ending with the day of `now`, oldest first. */
export function lastDays(now: Date, count: number): string[] {
  return Array.from({ length: count }, (_, index) => {
    const date = new Date(now.getFullYear(), now.getMonth(), now.getDate() - (count - 1 - index));
    return localDay(date);
  });
}

function seriesOf(
  days: readonly string[],
  records: readonly UsageLike[],
  nameOf: (record: UsageLike) => string,
  amountOf: (record: UsageLike) => bigint,
): ChartSeries[] {
  const dayIndex = new Map(days.map((day, index) => [day, index]));
  const byName = new Map<string, bigint[]>();
  for (const record of records) {
    const index = dayIndex.get(localDay(new Date(record.created_at)));
    if (index === undefined) {
      continue;
    }
    const name = nameOf(record);
    const values = byName.get(name) ?? days.map(() => 0n);
    values[index] = (values[index] ?? 0n) + amountOf(record);
    byName.set(name, values);
  }
  return [...byName.entries()]
    .sort(([left], [right]) => left.localeCompare(right))
    .map(([name, values]) => ({ name, values }));
}

const tokensOf = (record: UsageLike) =>
  BigInt((record.input_tokens ?? 0) + (record.output_tokens ?? 0));

export function summarizeUsage(
  records: readonly UsageLike[],
  days: readonly string[],
  regionUnknown: string,
): UsageSummary {
  const cost = (record: UsageLike) => toMicro(record.cost);
  return {
    days: [...days],
    spendByModel: seriesOf(days, records, (record) => record.model, cost),
    spendByRegion: seriesOf(days, records, (record) => record.region ?? regionUnknown, cost),
    tokensByModel: seriesOf(days, records, (record) => record.model, tokensOf),
  };
}
