/**
 * The LeaseStore on SQLite and PostgreSQL: a backend is never held by two leases whose terms
 * overlap (reservations at once included), an early end frees the rest of a term, an unpaid
 * reservation holds its backends only within its claim window and can be dropped (a paid one never
 * is, nor loses its backends, however a drop and a payment race), those past a time are listed,
 * and the lists show paid leases only.
 */
import { describe, expect, it } from 'vitest';
import type { LeaseRecord, LeaseStore } from '../src/db/lease-store.ts';
import { postgresStore, sqliteStore } from './support/store-under-test.ts';

const hourMs = 3_600_000;

function leaseRow(id: string, startsAtMs: number, hours: number): LeaseRecord {
  return {
    id,
    tenantId: `ten_${id}`,
    model: 'm',
    region: null,
    accelerators: 1,
    hours,
    priceId: 'prc_1',
    cardHourMicro: 1_000_000n,
    cost: BigInt(hours) * 1_000_000n,
    startsAtMs,
    endsAtMs: startsAtMs + hours * hourMs,
    paidBy: null,
    paidAtMs: null,
    endedAtMs: null,
    settledAtMs: null,
    createdAtMs: 1_000,
  };
}

function held(leaseId: string, backendId = 'bkd_1') {
  return [{ leaseId, backendId, providerId: 'prv_1', accelerators: 1, failedAtMs: null }];
}

async function reservePaid(leases: LeaseStore, lease: LeaseRecord): Promise<boolean> {
  const reserved = await leases.reserve(lease, held(lease.id), 0);
  if (reserved) {
    await leases.markPaid(lease.id, [], lease.createdAtMs);
  }
  return reserved;
}

describe.each([sqliteStore, postgresStore()])('LeaseStore on $name', (store) => {
  it('never lets two leases hold a backend for overlapping terms', async () => {
    const { leases, close } = await store.open();
    expect(await reservePaid(leases, leaseRow('a', 0, 2))).toBe(true);
    expect(await reservePaid(leases, leaseRow('b', hourMs, 2))).toBe(false);
    expect(await reservePaid(leases, leaseRow('c', 2 * hourMs, 1))).toBe(true);
    const racing = await Promise.all(
      ['d', 'e', 'f'].map((id) => reservePaid(leases, leaseRow(id, 5 * hourMs, 1))),
    );
    expect(racing.filter(Boolean)).toHaveLength(1);
    expect(await leases.listOpen()).toHaveLength(3);
    await close();
  });

  it('frees the rest of a term ended early, once', async () => {
    const { leases, close } = await store.open();
    await reservePaid(leases, leaseRow('a', 0, 4));
    expect(await leases.endEarly('a', hourMs)).toBe(true);
    expect(await leases.endEarly('a', 2 * hourMs)).toBe(false);
    expect(await reservePaid(leases, leaseRow('b', 2 * hourMs, 1))).toBe(true);
    // Its refund is fixed once it ended: a failure found later (another replica) changes nothing.
    await leases.markBackendFailed('a', held('a')[0]?.backendId ?? '', hourMs / 2);
    expect((await leases.get('a'))?.backends[0]?.failedAtMs).toBeNull();
    await leases.markSettled('a', 2 * hourMs);
    expect((await leases.listOpen()).map((lease) => lease.id)).toEqual(['b']);
    await close();
  });

  it("pages a tenant's paid leases newest first, after a cursor", async () => {
    const { leases, close } = await store.open();
    // b and c were created at once: the later id comes first.
    for (const [index, id] of ['a', 'b', 'c'].entries()) {
      const createdAtMs = index === 0 ? 1_000 : 2_000;
      await reservePaid(leases, {
        ...leaseRow(id, index * hourMs, 1),
        tenantId: 'ten_p',
        createdAtMs,
      });
    }
    const page = async (limit: number, after?: string) => {
      const cursor = after === undefined ? undefined : await leases.get(after);
      return (await leases.listOfTenant('ten_p', { limit, after: cursor })).map(
        (lease) => lease.id,
      );
    };
    const newestFirst = ['c', 'b', 'a'];
    expect(await page(10)).toEqual(newestFirst);
    expect(await page(2)).toEqual(newestFirst.slice(0, 2));
    expect(await page(2, newestFirst[1])).toEqual(newestFirst.slice(2));
    expect(await page(2, newestFirst[2])).toEqual([]);
    await close();
  });

  it('holds backends for an unpaid reservation only within its claim window; drops it', async () => {
    const { leases, close } = await store.open();
    expect(await leases.reserve(leaseRow('a', 0, 1), held('a'), 0)).toBe(true);
    expect(await leases.reserve(leaseRow('b', 0, 1), held('b'), 0)).toBe(false);
    // Claimed before the window: a gateway died between reserving and charging.
    expect(await leases.reserve(leaseRow('c', 0, 1), held('c'), 2_000)).toBe(true);
    await leases.drop('a');
    expect(await leases.get('a')).toBeUndefined();
    expect(await leases.listOfTenant('ten_c', { limit: 10 })).toEqual([]);
    await leases.markPaid('c', [{ source: 'wallet', id: null, kind: 'wallet', amount: '1.00' }], 5);
    const [paid] = await leases.listOfTenant('ten_c', { limit: 10 });
    expect(paid).toMatchObject({ id: 'c', paidAtMs: 5, backends: held('c') });
    await leases.markBackendFailed('c', 'bkd_1', 7);
    await leases.markBackendFailed('c', 'bkd_1', 9);
    expect((await leases.get('c'))?.backends[0]?.failedAtMs).toBe(7);
    await close();
  });

  it('lists unpaid reservations claimed before a time; drops only an unpaid one', async () => {
    const { leases, close } = await store.open();
    await leases.reserve({ ...leaseRow('a', 0, 1), createdAtMs: 1_000 }, held('a', 'bkd_a'), 0);
    await leases.reserve({ ...leaseRow('b', 0, 1), createdAtMs: 2_000 }, held('b', 'bkd_b'), 0);
    await reservePaid(leases, { ...leaseRow('c', 0, 1), createdAtMs: 500 });
    expect((await leases.listUnpaidBefore(2_000)).map((lease) => lease.id)).toEqual(['a']);
    expect((await leases.listUnpaidBefore(2_001)).map((lease) => lease.id).sort()).toEqual([
      'a',
      'b',
    ]);
    // A paid lease is never dropped, nor loses its backends.
    expect(await leases.drop('c')).toBe(false);
    expect((await leases.get('c'))?.backends).toEqual(held('c'));
    expect(await leases.drop('a')).toBe(true);
    expect(await leases.drop('a')).toBe(false);
    expect(await leases.markPaid('a', [], 3_000)).toBe(false);
    expect(await leases.get('a')).toBeUndefined();
    // Its backend is free again, even for a reservation that counts every claim.
    expect(await leases.reserve(leaseRow('d', 0, 1), held('d', 'bkd_a'), 0)).toBe(true);
    await close();
  });

  it('settles a drop racing a payment one way: dropped whole, or paid with its backends', async () => {
    const { leases, close } = await store.open();
    for (const id of ['a', 'b', 'c', 'd']) {
      await leases.reserve(leaseRow(id, 0, 1), held(id, `bkd_${id}`), 0);
      const [dropped, paid] = await Promise.all([
        leases.drop(id),
        leases.markPaid(id, [{ source: 'wallet', id: null, kind: 'wallet', amount: '1.00' }], 9),
      ]);
      expect(dropped).not.toBe(paid);
      const after = await leases.get(id);
      expect(after === undefined ? undefined : after.backends).toEqual(
        paid ? held(id, `bkd_${id}`) : undefined,
      );
    }
    await close();
  });
});
