/**
 * The arithmetic of a card-hour lease, pure so every store and job agrees: its charge line (the
 * accelerators its backends bring × its hours, at the card-hour price), and at its end what each
 * backend delivered and what goes back. A backend delivers every hour of the term it began
 * serving before the lease ended (early, or at its term) and before it was found failed: the hour
 * it fails in counts as served, each whole hour after it is refunded. So an early end refunds the
 * unused whole hours, and a lease ended before its start refunds everything.
 */
import type { DeliveredValue } from './lease-operation.ts';
import { type MeterLine, meterLine } from './meters.ts';

export const hourMs = 3_600_000;

export type LeasedBackend = {
  backendId: string;
  providerId: string;
  accelerators: number;
  failedAtMs: number | null;
};

export type LeaseTerm = {
  startsAtMs: number;
  hours: number;
  cardHourMicro: bigint;
  backends: readonly LeasedBackend[];
};

export function leaseAccelerators(backends: readonly LeasedBackend[]): number {
  return backends.reduce((sum, backend) => sum + backend.accelerators, 0);
}

/** The whole term's line: accelerator-seconds at the price per accelerator-hour. */
export function leaseLine(term: LeaseTerm): MeterLine {
  const acceleratorSeconds = BigInt(leaseAccelerators(term.backends)) * BigInt(term.hours) * 3_600n;
  return meterLine('card_hour', acceleratorSeconds, term.cardHourMicro);
}

/** Hours of the term the backend served, when the lease ended at `endMs`. */
export function deliveredHours(term: LeaseTerm, backend: LeasedBackend, endMs: number): number {
  const servedUntilMs = Math.min(endMs, backend.failedAtMs ?? endMs);
  if (servedUntilMs <= term.startsAtMs) {
    return 0;
  }
  return Math.min(term.hours, Math.ceil((servedUntilMs - term.startsAtMs) / hourMs));
}

export type LeaseOutcome = { refundMicro: bigint; delivered: DeliveredValue[] };

/** What each provider's backends delivered and what is refunded; together they are the cost. */
export function leaseOutcome(term: LeaseTerm, endMs: number): LeaseOutcome {
  const byProvider = new Map<string, bigint>();
  let refundMicro = 0n;
  for (const backend of term.backends) {
    const served = deliveredHours(term, backend, endMs);
    const perHourMicro = BigInt(backend.accelerators) * term.cardHourMicro;
    byProvider.set(
      backend.providerId,
      (byProvider.get(backend.providerId) ?? 0n) + BigInt(served) * perHourMicro,
    );
    refundMicro += BigInt(term.hours - served) * perHourMicro;
  }
  const delivered = [...byProvider].map(([providerId, valueMicro]) => ({ providerId, valueMicro }));
  return { refundMicro, delivered };
}
