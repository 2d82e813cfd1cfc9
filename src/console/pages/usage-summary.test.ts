import { describe, expect, it } from 'vitest';
import { lastDays, localDay, summarizeUsage } from './usage-summary.ts';

function at(day: string, hour: number): string {
  const [year, month, date] = day.split('-').map(Number);
  return new Date(year ?? 0, (month ?? 1) - 1, date ?? 1, hour).toISOString();
}

describe('usage per day in the console', () => {
  it('lists the last local days, oldest first', () => {
    const days = lastDays(new Date(2026, 2, 2, 10), 3);
    expect(days).toEqual(['2026-02-28', '2026-03-01', '2026-03-02']);
    expect(localDay(new Date(2026, 0, 5, 23, 59))).toBe('2026-01-05');
  });

  it('sums spend exactly and tokens per model and region, skipping days outside the window', () => {
    const days = ['2026-03-01', '2026-03-02'];
    const records = [
      {
        created_at: at('2026-03-01', 9),
        model: 'b',
        region: 'cn-east',
        input_tokens: 10,
        output_tokens: 5,
        cost: '0.1',
      },
      {
        created_at: at('2026-03-01', 23),
        model: 'b',
        region: 'cn-east',
        input_tokens: 1,
        output_tokens: null,
        cost: '0.2',
      },
      {
        created_at: at('2026-03-02', 1),
        model: 'a',
        region: null,
        input_tokens: null,
        output_tokens: 7,
        cost: '0.000001',
      },
      {
        created_at: at('2026-02-27', 1),
        model: 'a',
        region: null,
        input_tokens: 100,
        output_tokens: 100,
        cost: '9',
      },
    ];
    const summary = summarizeUsage(records, days, 'unknown');
    expect(summary.spendByModel).toEqual([
      { name: 'a', values: [0n, 1n] },
      { name: 'b', values: [300_000n, 0n] },
    ]);
    expect(summary.spendByRegion.map((series) => series.name)).toEqual(['cn-east', 'unknown']);
    expect(summary.tokensByModel).toEqual([
      { name: 'a', values: [0n, 7n] },
      { name: 'b', values: [16n, 0n] },
    ]);
  });
});
