/**
 * How numbers read in the bench's markdown: whole numbers with thousands separators, ratios with
 * a ×, memory in MB (10^6 bytes), and "n/a" for anything not measured (NaN), never a fake zero.
 */

export function formatInteger(value: number): string {
  return Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : 'n/a';
}

export function formatRatio(value: number, reference: number): string {
  if (!Number.isFinite(value) || !Number.isFinite(reference) || reference <= 0) {
    return 'n/a';
  }
  const ratio = value / reference;
  return `${ratio >= 10 ? ratio.toFixed(1) : ratio.toFixed(2)}×`;
}

/** A value with its ratio to the floor in brackets: `12,345 (0.85×)`. */
export function formatWithRatio(value: number, floorValue: number): string {
  const text = formatInteger(value);
  return text === 'n/a' ? text : `${text} (${formatRatio(value, floorValue)})`;
}

export const bytesPerMegabyte = 1_000_000;

export function formatMegabytes(bytes: number): string {
  return Number.isFinite(bytes) ? `${(bytes / bytesPerMegabyte).toFixed(1)} MB` : 'n/a';
}
