import { describe, expect, it } from 'vitest';
import { createRequestGate } from './request-gate.ts';

describe('createRequestGate', () => {
  it('lets requests in up to the bound and counts each out once', () => {
    const gate = createRequestGate();
    const first = gate.enter(2);
    const second = gate.enter(2);
    expect(gate.enter(2)).toEqual({ ok: false, reason: 'full' });
    expect(gate.inFlightCount).toBe(2);
    if (!first.ok || !second.ok) {
      throw new Error('both should have entered');
    }
    first.leave();
    first.leave();
    expect(gate.inFlightCount).toBe(1);
    expect(gate.enter(2).ok).toBe(true);
  });

  it('refuses everyone once stopped, and is idle when the last one leaves', async () => {
    const gate = createRequestGate();
    const entered = gate.enter(10);
    gate.stop();
    expect(gate.enter(10)).toEqual({ ok: false, reason: 'stopping' });
    let idle = false;
    const waiting = gate.idle().then(() => {
      idle = true;
    });
    await Promise.resolve();
    expect(idle).toBe(false);
    if (entered.ok) {
      entered.leave();
    }
    await waiting;
    expect(idle).toBe(true);
    await gate.idle();
  });
});
