import { describe, expect, it } from 'vitest';
import { BalanceTooLowError, type Ledger, LedgerConflictError } from '../../../billing/ledger.ts';
import { InsufficientFundsError } from '../../../billing/ledger-accounts.ts';
import { answerLedgerCall, isLedgerMethod, ledgerOverRpc } from './ledger-rpc.ts';

/** A ledger whose payout refuses with `error`: only the method under test is called. */
function refusingLedger(error: Error): Ledger {
  return {
    payout: async () => {
      throw error;
    },
  } as unknown as Ledger;
}

const payout = {
  providerId: 'provider-1',
  amountMicro: 5n,
  reference: 'bank-1',
  note: null,
  atMs: 0,
};

function remoteRefusing(error: Error): Ledger {
  return ledgerOverRpc((method, parameters) =>
    answerLedgerCall(refusingLedger(error), method, parameters),
  );
}

describe('ledger calls over RPC', () => {
  it('rebuilds each refusal of the store as the class the gateway tells apart', async () => {
    const refusals = [
      new BalanceTooLowError('owed 3', 3n),
      new LedgerConflictError('reference reused'),
      new InsufficientFundsError('wallet:t cannot pay 5'),
    ];
    for (const refusal of refusals) {
      const thrown = await remoteRefusing(refusal)
        .payout(payout)
        .catch((error: unknown) => error);
      expect(thrown).toBeInstanceOf(refusal.constructor);
      expect((thrown as Error).message).toBe(refusal.message);
    }
    const tooLow = await remoteRefusing(new BalanceTooLowError('owed 3', 3n))
      .payout(payout)
      .catch((error: unknown) => error);
    expect((tooLow as BalanceTooLowError).availableMicro).toBe(3n);
  });

  it('lets any other failure through as it is, not as an answer', async () => {
    const bug = new TypeError('a bug');
    await expect(answerLedgerCall(refusingLedger(bug), 'payout', [payout])).rejects.toBe(bug);
  });

  it('knows the methods of the port and nothing else', () => {
    expect(isLedgerMethod('reserve')).toBe(true);
    expect(isLedgerMethod('constructor')).toBe(false);
    expect(isLedgerMethod('toString')).toBe(false);
  });
});
