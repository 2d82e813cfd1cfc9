import { afterEach, describe, expect, it, vi } from 'vitest';
import { startRequestDeadline } from './request-deadline.ts';

afterEach(() => {
  vi.useRealTimers();
});

describe('request deadline', () => {
  it('aborts its signal and ends the request when the deadline passes', () => {
    vi.useFakeTimers();
    const client = new AbortController();
    const deadline = startRequestDeadline(2, client.signal);
    const ended: string[] = [];
    deadline.onExpiry((error) => ended.push(error.code));
    vi.advanceTimersByTime(1_999);
    expect(deadline.signal.aborted).toBe(false);
    vi.advanceTimersByTime(1);
    expect(deadline.signal.aborted).toBe(true);
    expect(deadline.expired).toBe(true);
    expect(ended).toEqual(['request_timeout']);
  });

  it('aborts its signal when the client leaves, which is not the deadline passing', () => {
    vi.useFakeTimers();
    const client = new AbortController();
    const deadline = startRequestDeadline(2, client.signal);
    const ended: string[] = [];
    deadline.onExpiry((error) => ended.push(error.code));
    client.abort(new Error('gone'));
    expect(deadline.signal.aborted).toBe(true);
    expect(deadline.expired).toBe(false);
    vi.advanceTimersByTime(2_000);
    // The timer still ends a request whose client left but that nothing else ended.
    expect(deadline.expired).toBe(true);
    expect(ended).toEqual(['request_timeout']);
  });

  it('follows a client that left before it started', () => {
    const client = new AbortController();
    client.abort();
    const deadline = startRequestDeadline(2, client.signal);
    expect(deadline.signal.aborted).toBe(true);
    expect(deadline.expired).toBe(false);
    deadline.clear();
  });

  it('once cleared, neither the timer nor the client touch it', () => {
    vi.useFakeTimers();
    const client = new AbortController();
    const deadline = startRequestDeadline(2, client.signal);
    deadline.clear();
    client.abort();
    vi.advanceTimersByTime(5_000);
    expect(deadline.signal.aborted).toBe(false);
    expect(deadline.expired).toBe(false);
  });
});
