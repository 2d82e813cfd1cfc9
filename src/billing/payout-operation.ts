/**
 * A payout, as every store runs it inside one LedgerUnit: money the platform owes a provider
 * (`provider_payable:{provider}`) leaves for its bank (`cash`), as one balanced transaction under
 * the idempotency key `payout:{provider}:{reference}`. The same reference again with the same
 * amount is the same payout (nothing moves); with another amount it is refused
 * (LedgerConflictError). A payout never exceeds what the provider is owed (BalanceTooLowError),
 * so the payable account never goes below zero.
 */
import { assert } from '../assert.ts';
import {
  BalanceTooLowError,
  type PayoutInput,
  type PayoutRecord,
  type PayoutResult,
} from './ledger.ts';
import { accountIds } from './ledger-accounts.ts';
import type { LedgerUnit, OperatorTransaction } from './ledger-unit.ts';
import { formatMoney } from './money.ts';
import { earlierMovement } from './operator-movement.ts';

export function payoutKey(providerId: string, reference: string): string {
  return `payout:${providerId}:${reference}`;
}

/** The refusal of a payout above what the provider is owed: nothing moves. */
export function payoutBeyondOwed(amountMicro: bigint, unpaidMicro: bigint): BalanceTooLowError {
  return new BalanceTooLowError(
    `a payout of ${formatMoney(amountMicro)} is more than the ${formatMoney(unpaidMicro)} the provider is owed`,
    unpaidMicro,
  );
}

function recordOf(providerId: string, recorded: OperatorTransaction): PayoutRecord {
  return {
    transactionId: recorded.id,
    providerId,
    amountMicro: recorded.amountMicro,
    reference: recorded.reference ?? '',
    note: recorded.memo,
    createdAtMs: recorded.createdAtMs,
  };
}

export function payoutOperation(unit: LedgerUnit, input: PayoutInput): PayoutResult {
  assert(input.amountMicro > 0n, 'a payout moves money');
  const idempotencyKey = payoutKey(input.providerId, input.reference);
  const existing = earlierMovement(
    unit,
    idempotencyKey,
    { reference: input.reference, amountMicro: input.amountMicro, noun: 'a payout' },
    formatMoney,
  );
  if (existing) {
    return {
      payout: recordOf(input.providerId, existing),
      unpaidMicro: unit.payableMicro(input.providerId),
      duplicate: true,
    };
  }
  const unpaidMicro = unit.payableMicro(input.providerId);
  if (input.amountMicro > unpaidMicro) {
    throw payoutBeyondOwed(input.amountMicro, unpaidMicro);
  }
  const transactionId = unit.insertTransaction({
    idempotencyKey,
    kind: 'payout',
    tenantId: null,
    requestId: null,
    reference: input.reference,
    amountMicro: input.amountMicro,
    atMs: input.atMs,
    providerId: input.providerId,
    ...(input.note === null ? {} : { memo: input.note }),
  });
  unit.post(
    transactionId,
    accountIds.providerPayable(input.providerId),
    accountIds.cash,
    input.amountMicro,
    input.atMs,
  );
  return {
    payout: {
      transactionId,
      providerId: input.providerId,
      amountMicro: input.amountMicro,
      reference: input.reference,
      note: input.note,
      createdAtMs: input.atMs,
    },
    unpaidMicro: unpaidMicro - input.amountMicro,
    duplicate: false,
  };
}
