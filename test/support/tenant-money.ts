/**
 * Reading a tenant's money and usage back through the admin API, for the integration suites that
 * check bills: the tenant as the API shows it, its money (wallet plus coupons) in micro-units, its
 * usage records by request id, and a bounded poll until its holds are settled (a stream settles
 * just after its last byte, so a test waits by watching, never by sleeping a fixed time).
 */
import { expectOk, type HttpCaller } from './demo-pool.ts';
import { micro, sum } from './money-reading.ts';

export type TenantMoneyView = {
  balance: string;
  holds: string;
  coupons: { id: string; remaining: string; held: string }[];
};

export type UsageRecordView = {
  request_id: string;
  outcome: string;
  backend_id: string | null;
  usage_source: string | null;
  input_tokens: number | null;
  output_tokens: number | null;
  cost: string;
  paid_by: { source: 'coupon' | 'wallet' | 'write_off'; id: string | null; amount: string }[];
};

export type TenantReader = {
  view(): Promise<TenantMoneyView>;
  usageById(): Promise<Map<string, UsageRecordView>>;
  /** Polls until no money is held, within `timeoutMs`; fails with the last view otherwise. */
  settled(timeoutMs?: number): Promise<TenantMoneyView>;
};

/** Wallet balance plus what the coupons have left, in micro-units. */
export function moneyOf(view: TenantMoneyView): bigint {
  return micro(view.balance) + sum(view.coupons.map((coupon) => micro(coupon.remaining)));
}

/** `call` is read on every use, so a suite that restarts its gateway can swap it. */
export function tenantReader(
  call: () => HttpCaller,
  adminToken: string,
  tenantId: string,
): TenantReader {
  const view = async () =>
    (await expectOk(
      call(),
      'GET',
      `/admin/v1/tenants/${tenantId}`,
      adminToken,
    )) as unknown as TenantMoneyView;
  return {
    view,
    async usageById() {
      // Every page: a busy suite writes more records than one page holds.
      const usage: UsageRecordView[] = [];
      let after: string | undefined;
      do {
        const query = after === undefined ? '' : `?after=${encodeURIComponent(after)}`;
        const page = await expectOk(
          call(),
          'GET',
          `/admin/v1/tenants/${tenantId}/usage${query}`,
          adminToken,
        );
        usage.push(...(page.data as UsageRecordView[]));
        after = page.has_more === true ? String(page.next_cursor) : undefined;
      } while (after !== undefined);
      return new Map(usage.map((record) => [record.request_id, record]));
    },
    async settled(timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const current = await view();
        if (current.holds === '0.00') {
          return current;
        }
        if (Date.now() > deadline) {
          throw new Error(`holds never cleared: ${JSON.stringify(current)}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
  };
}
