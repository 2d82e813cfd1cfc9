/**
 * How a Ledger call crosses from a Worker to a tenant's Durable Object and back. RPC carries
 * bigint and plain records as they are, but an error arrives as a bare Error, and the gateway
 * tells a refused payout (BalanceTooLowError, with what was available) from a reused reference
 * (LedgerConflictError) by class. So the object answers every call with an envelope, and the
 * caller's Ledger (ledgerOverRpc) rebuilds the error the store threw.
 */
import { BalanceTooLowError, type Ledger, LedgerConflictError } from '../../../billing/ledger.ts';
import { InsufficientFundsError } from '../../../billing/ledger-accounts.ts';

/** Every method of the Ledger port, each listed once (the type holds the list complete). */
const ledgerMethodSet = {
  reserve: true,
  checkpoint: true,
  settle: true,
  release: true,
  recordRejected: true,
  recordVerification: true,
  topUp: true,
  grantCoupon: true,
  voidCoupon: true,
  expireCoupons: true,
  chargeStorage: true,
  chargeLease: true,
  endLease: true,
  sweep: true,
  heartbeat: true,
  tenantMoney: true,
  coupon: true,
  usage: true,
  usageOfRequest: true,
  entries: true,
  earnings: true,
  leaseEarnings: true,
  programStatement: true,
  programSummary: true,
  programs: true,
  check: true,
  payout: true,
  payouts: true,
  providerBalance: true,
  paidOut: true,
  adjust: true,
  adjustments: true,
  transactionPayers: true,
} as const satisfies Record<keyof Ledger, true>;

export type LedgerMethod = keyof Ledger;
export const ledgerMethods = Object.keys(ledgerMethodSet) as LedgerMethod[];

/**
 * The calls the gateway Worker makes through the object's `watched`, which then watches what the
 * call left: a hold or a grant for its alarm to end, usage records to copy to D1
 * (tenant-ledger-object.ts). The conformance suites make every call plainly, on their own times.
 */
export const watchedMethods = [
  'reserve',
  'grantCoupon',
  'settle',
  'release',
  'recordRejected',
  'chargeStorage',
  'chargeLease',
  'endLease',
] as const satisfies readonly LedgerMethod[];
export type WatchedMethod = (typeof watchedMethods)[number];

export function isWatchedMethod(name: string): name is WatchedMethod {
  return (watchedMethods as readonly string[]).includes(name);
}

export function isLedgerMethod(name: string): name is LedgerMethod {
  return Object.hasOwn(ledgerMethodSet, name);
}

type RefusalName = 'BalanceTooLowError' | 'LedgerConflictError' | 'InsufficientFundsError';

export type LedgerAnswer =
  | { ok: true; value: unknown }
  | { ok: false; name: RefusalName; message: string; availableMicro: bigint | null };

/** Runs one ledger call; a refusal of the store becomes an answer, anything else is thrown. */
export async function answerLedgerCall<Method extends LedgerMethod>(
  ledger: Pick<Ledger, Method>,
  method: Method,
  parameters: readonly unknown[],
): Promise<LedgerAnswer> {
  const run = ledger[method] as unknown as (...values: readonly unknown[]) => Promise<unknown>;
  try {
    return { ok: true, value: await run(...parameters) };
  } catch (error) {
    if (error instanceof BalanceTooLowError) {
      const { message, availableMicro } = error;
      return { ok: false, name: 'BalanceTooLowError', message, availableMicro };
    }
    if (error instanceof LedgerConflictError || error instanceof InsufficientFundsError) {
      return {
        ok: false,
        name: error.name as RefusalName,
        message: error.message,
        availableMicro: null,
      };
    }
    throw error;
  }
}

function refusalOf(answer: Extract<LedgerAnswer, { ok: false }>): Error {
  switch (answer.name) {
    case 'BalanceTooLowError':
      return new BalanceTooLowError(answer.message, answer.availableMicro ?? 0n);
    case 'LedgerConflictError':
      return new LedgerConflictError(answer.message);
    case 'InsufficientFundsError':
      return new InsufficientFundsError(answer.message);
  }
}

/** Sends one call to the object that owns it. */
export type LedgerCaller = (
  method: LedgerMethod,
  parameters: readonly unknown[],
) => Promise<LedgerAnswer>;

/** A Ledger whose every call is answered by `call`, errors rebuilt as the store threw them. */
export function ledgerOverRpc(call: LedgerCaller): Ledger {
  const ledger: Partial<Record<LedgerMethod, (...values: unknown[]) => Promise<unknown>>> = {};
  for (const method of ledgerMethods) {
    ledger[method] = async (...parameters) => {
      const answer = await call(method, parameters);
      if (!answer.ok) {
        throw refusalOf(answer);
      }
      return answer.value;
    };
  }
  return ledger as Ledger;
}
