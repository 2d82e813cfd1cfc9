/**
 * The storage tick command of the ledger's property suite: a tick of stored bytes charged to
 * storage coupons and the wallet, or recorded as arrears.
 */
import { expect } from 'vitest';
import { type ChargedLine, holdPlan } from '../coupon-spending.ts';
import { expectAgreement } from '../expect-agreement.ts';
import { tenantIds } from '../fixed-world.ts';
import {
  couponNamed,
  credit,
  type LedgerCommand,
  type Model,
  pick,
  type World,
  walletAccount,
} from '../reference-model.ts';

/** The storage tick's length in the sequences: short, so ticks of one tenant follow one another. */
const storageTickMs = 1_000;

/**
 * Charges one storage tick (the tick now falls in) for bytes the tenant holds: paid in full by
 * its storage coupons (in spending order, each up to its coverage) and the wallet, straight to
 * revenue, or not at all and recorded as arrears since the first unpaid tick of an unbroken run.
 * A second charge of the same tick changes nothing.
 */
export class StorageTick implements LedgerCommand {
  constructor(
    readonly tenant: number,
    readonly bytes: number,
    readonly pricePerGbHourMicro: bigint,
  ) {}

  check(): boolean {
    return true;
  }

  async run(model: Model, world: World): Promise<void> {
    const tenantId = pick(tenantIds, this.tenant);
    const tickStartMs = Math.floor(model.nowMs / storageTickMs) * storageTickMs;
    const input = {
      tenantId,
      tickStartMs,
      tickMs: storageTickMs,
      bytes: this.bytes,
      pricePerGbHourMicro: this.pricePerGbHourMicro,
      region: '',
      atMs: model.nowMs,
    };
    const key = `${tenantId}:${tickStartMs}`;
    const recorded = model.storageTicks.get(key);
    const result = await world.ledger.chargeStorage(input);
    if (recorded) {
      expect(result).toMatchObject({ ...recorded, duplicate: true });
      await expectAgreement(model, world);
      return;
    }
    const byteSeconds = (BigInt(this.bytes) * BigInt(storageTickMs)) / 1_000n;
    const perGbHour = 1_000_000_000n * 3_600n;
    const costMicro = (byteSeconds * this.pricePerGbHourMicro + perGbHour - 1n) / perGbHour;
    const line: ChargedLine = { kind: 'storage', model: '', region: '', admittedAtMs: model.nowMs };
    const plan = holdPlan(model, tenantId, line, costMicro);
    const paid = plan.shortfallMicro === 0n;
    if (paid) {
      for (const take of plan.couponHolds) {
        const coupon = couponNamed(model, take.couponId ?? '');
        coupon.balanceMicro -= take.heldMicro;
        coupon.usedMicro += take.heldMicro;
      }
      credit(model, walletAccount(tenantId), -plan.walletMicro);
      credit(model, 'revenue', costMicro);
    }
    const before = model.storageTicks.get(`${tenantId}:${tickStartMs - storageTickMs}`);
    const arrearsSinceMs = paid ? null : (before?.arrearsSinceMs ?? tickStartMs);
    model.storageTicks.set(key, { paid, costMicro, arrearsSinceMs });
    expect(result).toMatchObject({ paid, costMicro, arrearsSinceMs, duplicate: false });
    expect(result.paidBy.reduce((sum, payer) => sum + payer.amountMicro, 0n)).toBe(
      paid ? costMicro : 0n,
    );
    expect(
      result.paidBy.every((payer) => payer.kind === 'storage' || payer.kind === 'wallet'),
    ).toBe(true);
    await expectAgreement(model, world);
  }

  toString(): string {
    return `storageTick(tenant ${this.tenant}, ${this.bytes} bytes at ${this.pricePerGbHourMicro}/GB-hour)`;
  }
}
