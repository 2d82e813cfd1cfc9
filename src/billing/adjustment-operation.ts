/**
 * An adjustment, as every store runs it inside one LedgerUnit: the operator credits a tenant's
 * wallet (a refund, a goodwill credit: revenue gives back what it earned) or debits it (a charge
 * the platform earns), with a reason, as one balanced transaction under the idempotency key
 * `adjust:{tenant}:{reference}`. The same reference again with the same signed amount is the
 * same adjustment; with another amount it is refused (LedgerConflictError). A debit never takes
 * the wallet's available balance (holds included) below zero (BalanceTooLowError).
 */
import { assert } from '../assert.ts';
import {
  type AdjustmentInput,
  type AdjustmentRecord,
  type AdjustmentResult,
  BalanceTooLowError,
} from './ledger.ts';
import { accountIds } from './ledger-accounts.ts';
import type { LedgerUnit, OperatorTransaction } from './ledger-unit.ts';
import { formatMoney } from './money.ts';
import { earlierMovement } from './operator-movement.ts';

export function adjustmentKey(tenantId: string, reference: string): string {
  return `adjust:${tenantId}:${reference}`;
}

function signedMoney(amountMicro: bigint): string {
  return amountMicro < 0n ? formatMoney(amountMicro) : `+${formatMoney(amountMicro)}`;
}

function recordOf(tenantId: string, recorded: OperatorTransaction): AdjustmentRecord {
  return {
    transactionId: recorded.id,
    tenantId,
    amountMicro: recorded.amountMicro,
    reason: recorded.memo ?? '',
    reference: recorded.reference ?? '',
    createdAtMs: recorded.createdAtMs,
  };
}

export function adjustmentOperation(unit: LedgerUnit, input: AdjustmentInput): AdjustmentResult {
  assert(input.amountMicro !== 0n, 'an adjustment moves money');
  const idempotencyKey = adjustmentKey(input.tenantId, input.reference);
  const existing = earlierMovement(
    unit,
    idempotencyKey,
    { reference: input.reference, amountMicro: input.amountMicro, noun: 'an adjustment' },
    signedMoney,
  );
  if (existing) {
    return {
      adjustment: recordOf(input.tenantId, existing),
      walletBalanceMicro: unit.walletAvailableMicro(input.tenantId),
      duplicate: true,
    };
  }
  const wallet = accountIds.wallet(input.tenantId);
  const availableMicro = unit.walletAvailableMicro(input.tenantId);
  if (-input.amountMicro > availableMicro) {
    throw new BalanceTooLowError(
      `a debit of ${formatMoney(-input.amountMicro)} is more than the wallet's available ${formatMoney(availableMicro)}`,
      availableMicro,
    );
  }
  const transactionId = unit.insertTransaction({
    idempotencyKey,
    kind: 'adjustment',
    tenantId: input.tenantId,
    requestId: null,
    reference: input.reference,
    amountMicro: input.amountMicro,
    atMs: input.atMs,
    memo: input.reason,
  });
  if (input.amountMicro > 0n) {
    unit.post(transactionId, accountIds.revenue, wallet, input.amountMicro, input.atMs);
  } else {
    unit.post(transactionId, wallet, accountIds.revenue, -input.amountMicro, input.atMs);
  }
  return {
    adjustment: {
      transactionId,
      tenantId: input.tenantId,
      amountMicro: input.amountMicro,
      reason: input.reason,
      reference: input.reference,
      createdAtMs: input.atMs,
    },
    walletBalanceMicro: unit.walletAvailableMicro(input.tenantId),
    duplicate: false,
  };
}
