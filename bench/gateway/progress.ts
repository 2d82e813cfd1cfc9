/**
 * Progress lines on stderr while the bench runs, each stamped with the seconds since it began, so
 * stdout carries nothing but the report.
 */

export const benchStartedAtMs = Date.now();

export function progress(line: string): void {
  const seconds = ((Date.now() - benchStartedAtMs) / 1000).toFixed(1).padStart(6);
  process.stderr.write(`[${seconds} s] ${line}\n`);
}
