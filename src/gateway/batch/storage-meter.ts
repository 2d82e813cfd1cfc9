/**
 * The storage meter (API.md "The bank's three meters"): the bytes a tenant's files hold are
 * charged once per storage tick (TOKENBANK_STORAGE_TICK_S) in GB-hours, by the elected gateway,
 * each tick one idempotent ledger charge per tenant (billing/storage-operation.ts): the tick just
 * ended is charged for the bytes held when it is charged, of the files that existed before it
 * ended (a tick is charged whole once a file existed during it). A tenant who cannot pay a tick is not
 * charged (no balance goes below zero); its files are kept for a grace period (limits.storageGraceS,
 * counted from the start of its first unpaid tick) and deleted after it, with an audit event
 * saying so. An upload is refused unless the tenant can pay for everything it would then hold
 * over limits.storageUploadCoverS (a day).
 */
import { storagePriceMicro } from '../../billing/meter-prices.ts';
import { formatMoney } from '../../billing/money.ts';
import { storageLine } from '../../billing/storage-operation.ts';
import { allocateLine } from '../../billing/waterfall.ts';
import type { Deps } from '../../deps.ts';
import { GatewayError } from '../../errors.ts';

/** Charges the tick that just ended, for every tenant holding files; how many were charged. */
export async function chargeStorageTick(deps: Deps): Promise<number> {
  const price = storagePriceMicro(await deps.catalogCache.meterPrices());
  if (price === undefined || price === 0n) {
    return 0;
  }
  const nowMs = deps.clock.nowMs();
  const tickMs = deps.config.storageTickS * 1_000;
  const tickStartMs = Math.floor(nowMs / tickMs) * tickMs - tickMs;
  let charged = 0;
  // A file uploaded after the tick ended is not charged for it; one uploaded during it is.
  for (const { tenantId, bytes } of await deps.files.bytesByTenant(tickStartMs + tickMs)) {
    const tenant = await deps.catalog.getTenant(tenantId);
    const result = await deps.ledger.chargeStorage({
      tenantId,
      tickStartMs,
      tickMs,
      bytes,
      pricePerGbHourMicro: price,
      region: tenant?.homeRegion ?? '',
      atMs: nowMs,
    });
    charged += result.duplicate ? 0 : 1;
    const graceMs = deps.config.limits.storageGraceS * 1_000;
    if (result.arrearsSinceMs !== null && nowMs - result.arrearsSinceMs >= graceMs) {
      await deleteUnpaidFiles(deps, tenantId, result.arrearsSinceMs, bytes);
    }
  }
  return charged;
}

async function deleteUnpaidFiles(
  deps: Deps,
  tenantId: string,
  arrearsSinceMs: number,
  bytes: number,
): Promise<void> {
  const deleted = await deps.files.deleteAllOfTenant(tenantId);
  if (deleted === 0) {
    return;
  }
  const record = { files: deleted, bytes, unpaid_since: new Date(arrearsSinceMs).toISOString() };
  await deps.audit.append({
    atMs: deps.clock.nowMs(),
    actor: 'system:storage',
    action: 'files.delete_unpaid',
    entityType: 'files',
    entityId: null,
    tenantId,
    requestId: `storage:${tenantId}:${arrearsSinceMs}`,
    before: record,
    after: null,
  });
  deps.logger.log('warn', 'storage_unpaid_files_deleted', { tenantId, ...record });
}

/**
 * Refuses an upload the tenant could not pay to store: everything it would hold, for the cover
 * period, paid by its storage coupons and its wallet as they stand now.
 */
export async function refuseUnpayableUpload(
  deps: Deps,
  tenant: { id: string; homeRegion: string | null },
  uploadBytes: number,
): Promise<void> {
  const price = storagePriceMicro(await deps.catalogCache.meterPrices());
  const coverMs = deps.config.limits.storageUploadCoverS * 1_000;
  if (price === undefined || price === 0n || coverMs === 0) {
    return;
  }
  const nowMs = deps.clock.nowMs();
  const bytes = (await deps.files.bytesOfTenant(tenant.id)) + uploadBytes;
  const line = storageLine({
    tenantId: tenant.id,
    tickStartMs: nowMs,
    tickMs: coverMs,
    bytes,
    pricePerGbHourMicro: price,
    region: tenant.homeRegion ?? '',
    atMs: nowMs,
  });
  const money = await deps.ledger.tenantMoney(tenant.id, nowMs);
  const allocation = allocateLine(
    {
      kind: 'storage',
      costMicro: line.costMicro,
      model: '',
      region: tenant.homeRegion ?? '',
      atMs: nowMs,
    },
    money.coupons.map((coupon) => ({ ...coupon, availableMicro: coupon.remainingMicro })),
    money.walletBalanceMicro,
  );
  if (allocation.shortfallMicro > 0n) {
    throw new GatewayError(
      'insufficient_quota',
      `Insufficient quota to store this file: holding ${bytes} bytes for ` +
        `${deps.config.limits.storageUploadCoverS} s costs ${formatMoney(line.costMicro)} ` +
        `${deps.config.currency} of storage, more than this tenant's storage coupons and wallet hold.`,
      { param: 'file' },
    );
  }
}
