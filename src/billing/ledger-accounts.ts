/**
 * The ledger's accounts, as every store names them (DESIGN.md §4): one wallet per tenant, one
 * account per coupon grant, and the shared accounts money moves through. Tenant-facing accounts
 * are guarded: no transfer may take them below zero, holds included.
 */

export type AccountKind =
  | 'wallet'
  | 'coupon'
  | 'holds'
  | 'revenue'
  | 'provider_payable'
  | 'subsidy_receivable'
  | 'cash'
  | 'write_off'
  | 'breakage';

/** Tenant-facing accounts: they hold the tenant's money and may never be overdrawn. */
export const guardedAccountKinds: ReadonlySet<AccountKind> = new Set(['wallet', 'coupon']);

export const accountIds = {
  wallet: (tenantId: string) => `wallet:${tenantId}`,
  coupon: (couponId: string) => `coupon:${couponId}`,
  providerPayable: (providerId: string) => `provider_payable:${providerId}`,
  subsidyReceivable: (program: string) => `subsidy_receivable:${program}`,
  holds: 'holds',
  revenue: 'revenue',
  cash: 'cash',
  writeOff: 'write_off',
  breakage: 'breakage',
} as const;

/** The shared accounts every store creates when it opens. */
export const systemAccounts: readonly (readonly [string, AccountKind])[] = [
  [accountIds.holds, 'holds'],
  [accountIds.revenue, 'revenue'],
  [accountIds.cash, 'cash'],
  [accountIds.writeOff, 'write_off'],
  [accountIds.breakage, 'breakage'],
];

const couponPrefix = 'coupon:';

/** The grant an account belongs to, when it is a coupon account. */
export function couponIdOfAccount(accountId: string): string | undefined {
  return accountId.startsWith(couponPrefix) ? accountId.slice(couponPrefix.length) : undefined;
}

/** A guarded account asked to pay more than it has: the operation must not happen. */
export class InsufficientFundsError extends Error {
  override name = 'InsufficientFundsError';
}
