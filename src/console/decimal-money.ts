/**
 * Money in the browser as the API sends it: decimal strings ("12.50", up to 6 decimals). Sums
 * (spend per day, earnings per day) are added as integer micro-units in bigint and written back
 * as decimal strings; a JS number never carries money, so nothing is rounded on the way.
 */

const microPerUnit = 1_000_000n;
const decimalPattern = /^(-?)(\d+)(?:\.(\d{1,6}))?$/;

/** Micro-units of a decimal string; throws on anything the API would not have sent. */
export function toMicro(text: string): bigint {
  const match = decimalPattern.exec(text);
  if (match === null) {
    throw new Error(`not a decimal amount: ${text}`);
  }
  const [, sign, whole = '0', fraction = ''] = match;
  const micro = BigInt(whole) * microPerUnit + BigInt(fraction.padEnd(6, '0'));
  return sign === '-' ? -micro : micro;
}

/** A decimal string of micro-units, with at least two decimals as the API writes money. */
export function fromMicro(micro: bigint): string {
  const negative = micro < 0n;
  const magnitude = negative ? -micro : micro;
  const whole = magnitude / microPerUnit;
  const fraction = (magnitude % microPerUnit)
    .toString()
    .padStart(6, '0')
    .replace(/0{1,4}$/, '');
  return `${negative ? '-' : ''}${whole}.${fraction.padEnd(2, '0')}`;
}

export function addMoney(left: string, right: string): string {
  return fromMicro(toMicro(left) + toMicro(right));
}

export function subtractMoney(left: string, right: string): string {
  return fromMicro(toMicro(left) - toMicro(right));
}
