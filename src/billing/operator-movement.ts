/**
 * What payouts and adjustments share: a movement the operator makes by hand is keyed by its
 * reference, so the same reference again is the same movement when its amount agrees and a
 * conflict when it does not (the operator reused a reference by mistake; nothing moves).
 */
import { LedgerConflictError } from './ledger.ts';
import type { LedgerUnit, OperatorTransaction } from './ledger-unit.ts';

/**
 * The movement already recorded under `idempotencyKey`, if any; throws LedgerConflictError when
 * it moved another amount. `described` words an amount as the error names it.
 */
export function earlierMovement(
  unit: LedgerUnit,
  idempotencyKey: string,
  movement: { reference: string; amountMicro: bigint; noun: string },
  described: (amountMicro: bigint) => string,
): OperatorTransaction | undefined {
  const existing = unit.operatorTransaction(idempotencyKey);
  if (existing !== undefined && existing.amountMicro !== movement.amountMicro) {
    throw referenceReused(movement, described(existing.amountMicro));
  }
  return existing;
}

/** The refusal of a reference already used for `noun` of another amount (worded `earlier`). */
export function referenceReused(
  movement: { reference: string; noun: string },
  earlier: string,
): LedgerConflictError {
  return new LedgerConflictError(
    `reference '${movement.reference}' was used for ${movement.noun} of ${earlier}`,
  );
}
