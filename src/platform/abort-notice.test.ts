import { describe, expect, it } from 'vitest';
import { AbortSwitch } from './abort-notice.ts';

describe('AbortSwitch', () => {
  it('tells each listener once, in order, when it aborts', () => {
    const abortSwitch = new AbortSwitch();
    const calls: string[] = [];
    abortSwitch.addEventListener('abort', () => calls.push('first'), { once: true });
    abortSwitch.addEventListener('abort', () => calls.push('second'));
    expect(abortSwitch.aborted).toBe(false);
    abortSwitch.abort();
    abortSwitch.abort();
    expect(abortSwitch.aborted).toBe(true);
    expect(calls).toEqual(['first', 'second']);
  });

  it('forgets a removed listener, and only that one', () => {
    const abortSwitch = new AbortSwitch();
    const calls: string[] = [];
    const removed = () => calls.push('removed');
    abortSwitch.addEventListener('abort', removed);
    abortSwitch.addEventListener('abort', () => calls.push('kept'));
    abortSwitch.removeEventListener('abort', removed);
    abortSwitch.abort();
    expect(calls).toEqual(['kept']);
  });

  it('never tells a listener that came after the abort', () => {
    const abortSwitch = new AbortSwitch();
    abortSwitch.abort();
    const calls: string[] = [];
    abortSwitch.addEventListener('abort', () => calls.push('late'));
    abortSwitch.abort();
    expect(calls).toEqual([]);
  });
});
