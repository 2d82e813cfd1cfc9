/**
 * The ledger check's rules for storage ticks (storage-operation.ts), as every store runs them:
 * each tick is one transaction keyed by its tenant and tick start, so a tenant is charged at most
 * once a tick; a paid tick (`storage`) moves exactly its cost, posted at once, from the tenant's
 * own storage coupons (each within its coverage) and wallet straight to revenue, with no provider
 * share; an unpaid tick (`storage_unpaid`) moves nothing and names the start of its arrears, no
 * later than itself. The rows are read as checked-transactions.ts describes.
 */
import {
  type CheckedTransaction,
  checkedTransactions,
  movedMicro,
  paymentMisdirection,
} from './checked-transactions.ts';
import { storageReference } from './storage-operation.ts';

/** The tick a key charges, when it is the storage key of the transaction's own tenant. */
function tickOf(transaction: CheckedTransaction): number | undefined {
  const tickStartMs = Number(transaction.key.slice(transaction.key.lastIndexOf(':') + 1));
  return Number.isSafeInteger(tickStartMs) &&
    storageReference(transaction.tenantId, tickStartMs) === transaction.key
    ? tickStartMs
    : undefined;
}

function paidTickProblems(transaction: CheckedTransaction): string[] {
  const moved = movedMicro(transaction.transfers);
  const misdirected = transaction.transfers.flatMap((transfer) => {
    const why = paymentMisdirection(transaction, transfer, 'storage');
    return why === undefined ? [] : [`storage tick ${transaction.key}: ${why}`];
  });
  return moved === transaction.amountMicro
    ? misdirected
    : [
        ...misdirected,
        `storage tick ${transaction.key}: moved ${moved} for a cost of ${transaction.amountMicro}`,
      ];
}

function unpaidTickProblems(transaction: CheckedTransaction, tickStartMs: number): string[] {
  const problems =
    transaction.transfers.length === 0
      ? []
      : [`storage tick ${transaction.key} went unpaid but moved money`];
  const arrearsSinceMs = Number(transaction.reference);
  if (
    transaction.reference === null ||
    !Number.isSafeInteger(arrearsSinceMs) ||
    arrearsSinceMs > tickStartMs
  ) {
    problems.push(
      `storage tick ${transaction.key}: arrears since ${transaction.reference}, not a start at or before the tick`,
    );
  }
  return problems;
}

export function storageChargeProblems(rows: readonly Record<string, unknown>[]): string[] {
  return checkedTransactions(rows).flatMap((transaction) => {
    const tickStartMs = tickOf(transaction);
    if (tickStartMs === undefined) {
      return [
        `transaction ${transaction.key}: a ${transaction.kind} not keyed by its tenant ${transaction.tenantId} and a tick`,
      ];
    }
    return transaction.kind === 'storage_unpaid'
      ? unpaidTickProblems(transaction, tickStartMs)
      : paidTickProblems(transaction);
  });
}
