/**
 * Money as integer micro-units (1e-6 of the deployment currency) in `bigint`. JSON carries money as
 * decimal strings; these two functions are the only way in and out, so no amount ever passes
 * through a float.
 */

export const microUnitsPerUnit = 1_000_000n;

const decimalPattern = /^(\d{1,10})(?:\.(\d{1,6}))?$/;

/**
 * The largest amount accepted from outside: 9,007,199,254.740991. SQLite drivers read INTEGER
 * through a JS number unless asked otherwise, and the money column checks the value is still
 * exact; a bound here keeps every single amount readable, with room for sums far above it.
 */
export const moneyMicroMax = BigInt(Number.MAX_SAFE_INTEGER);

export type MoneyParseResult = { ok: true; micro: bigint } | { ok: false; message: string };

/** "12.5" -> 12_500_000n. Negative amounts, exponents and more than 6 decimals are refused. */
export function parseMoney(text: string): MoneyParseResult {
  const match = decimalPattern.exec(text);
  if (!match) {
    return {
      ok: false,
      message: `"${text.slice(0, 40)}" is not a decimal amount like "12.50" (at most 6 decimals)`,
    };
  }
  const whole = BigInt(match[1] ?? '0');
  const fraction = BigInt((match[2] ?? '').padEnd(6, '0'));
  const micro = whole * microUnitsPerUnit + fraction;
  if (micro > moneyMicroMax) {
    return {
      ok: false,
      message: `"${text}" is above the largest amount, ${formatMoney(moneyMicroMax)}`,
    };
  }
  return { ok: true, micro };
}

const zeroCharCode = 48;

/** 12_500_000n -> "12.50": at least two decimals, more only when they carry value. */
export function formatMoney(micro: bigint): string {
  const sign = micro < 0n ? '-' : '';
  const magnitude = micro < 0n ? -micro : micro;
  const whole = magnitude / microUnitsPerUnit;
  // Every answer formats several amounts: trailing zeros go by a scan, not a regular expression.
  const fraction = (magnitude % microUnitsPerUnit).toString().padStart(6, '0');
  let length = fraction.length;
  while (length > 2 && fraction.charCodeAt(length - 1) === zeroCharCode) {
    length -= 1;
  }
  return `${sign}${whole}.${fraction.slice(0, length)}`;
}
