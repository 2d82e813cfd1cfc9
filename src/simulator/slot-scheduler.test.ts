import { describe, expect, it } from 'vitest';
import { createSlotScheduler, type SlotAcquisition, type SlotLease } from './slot-scheduler.ts';

function leaseOf(acquisition: SlotAcquisition): SlotLease {
  if (!acquisition.ok) {
    throw new Error(`expected a slot, got ${acquisition.reason}`);
  }
  return acquisition.lease;
}

describe('createSlotScheduler', () => {
  it('grants free slots at once and counts them per tag', async () => {
    const scheduler = createSlotScheduler({ slotCount: 2, waitingQueueLengthMax: 10 });
    const first = leaseOf(await scheduler.acquire('m1'));
    leaseOf(await scheduler.acquire('m2'));
    expect(scheduler.counts()).toEqual({ running: 2, waiting: 0 });
    expect(scheduler.countsFor('m1')).toEqual({ running: 1, waiting: 0 });
    expect(scheduler.countsFor('unknown')).toEqual({ running: 0, waiting: 0 });
    first.release();
    expect(scheduler.countsFor('m1')).toEqual({ running: 0, waiting: 0 });
  });

  it('admits waiting requests in arrival order', async () => {
    const scheduler = createSlotScheduler({ slotCount: 1, waitingQueueLengthMax: 10 });
    const holder = leaseOf(await scheduler.acquire('m1'));
    const admitted: string[] = [];
    const waiting = ['a', 'b', 'c'].map((name) =>
      scheduler.acquire('m1').then((acquisition) => {
        admitted.push(name);
        return leaseOf(acquisition);
      }),
    );
    expect(scheduler.counts()).toEqual({ running: 1, waiting: 3 });
    holder.release();
    for (const lease of waiting) {
      (await lease).release();
    }
    expect(admitted).toEqual(['a', 'b', 'c']);
    expect(scheduler.counts()).toEqual({ running: 0, waiting: 0 });
  });

  it('releases a lease only once however often release is called', async () => {
    const scheduler = createSlotScheduler({ slotCount: 2, waitingQueueLengthMax: 10 });
    const first = leaseOf(await scheduler.acquire('m1'));
    leaseOf(await scheduler.acquire('m1'));
    first.release();
    first.release();
    expect(scheduler.counts().running).toBe(1);
  });

  it('turns requests away when the waiting queue is full', async () => {
    const scheduler = createSlotScheduler({ slotCount: 1, waitingQueueLengthMax: 1 });
    leaseOf(await scheduler.acquire('m1'));
    void scheduler.acquire('m1');
    expect(await scheduler.acquire('m1')).toEqual({ ok: false, reason: 'queue-full' });
    expect(scheduler.counts()).toEqual({ running: 1, waiting: 1 });
  });

  it('drops a waiting request whose client goes away, and admits the next one instead', async () => {
    const scheduler = createSlotScheduler({ slotCount: 1, waitingQueueLengthMax: 10 });
    const holder = leaseOf(await scheduler.acquire('m1'));
    const departing = new AbortController();
    const departed = scheduler.acquire('m1', departing.signal);
    const next = scheduler.acquire('m2');
    expect(scheduler.countsFor('m1').waiting).toBe(1);
    departing.abort();
    expect(await departed).toEqual({ ok: false, reason: 'aborted' });
    expect(scheduler.counts()).toEqual({ running: 1, waiting: 1 });
    holder.release();
    leaseOf(await next);
    expect(scheduler.countsFor('m2')).toEqual({ running: 1, waiting: 0 });
    expect(scheduler.countsFor('m1')).toEqual({ running: 0, waiting: 0 });
  });

  it('refuses at once a request whose client has already gone', async () => {
    const scheduler = createSlotScheduler({ slotCount: 1, waitingQueueLengthMax: 10 });
    expect(await scheduler.acquire('m1', AbortSignal.abort())).toEqual({
      ok: false,
      reason: 'aborted',
    });
    expect(scheduler.counts()).toEqual({ running: 0, waiting: 0 });
  });
});
