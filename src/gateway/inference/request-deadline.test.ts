import { afterEach, describe, expect, it, vi } from 'vitest';
import { startRequestDeadline } from './request-deadline.ts';

afterEach(() => {
  vi.useRealTimers();
});

describe('request deadline', () => {
  it('ends the request when the deadline passes, and not before', () => {
    vi.useFakeTimers();
    const deadline = startRequestDeadline(2);
    const ended: string[] = [];
    deadline.onExpiry((error) => ended.push(error.code));
    vi.advanceTimersByTime(1_999);
    expect(deadline.expired).toBe(false);
    expect(ended).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(deadline.expired).toBe(true);
    expect(ended).toEqual(['request_timeout']);
  });

  it('ends at once what subscribes once it has passed', () => {
    vi.useFakeTimers();
    const deadline = startRequestDeadline(2);
    vi.advanceTimersByTime(2_000);
    const ended: string[] = [];
    deadline.onExpiry((error) => ended.push(error.code));
    expect(ended).toEqual(['request_timeout']);
  });

  it('forgets what unsubscribed, and only that', () => {
    vi.useFakeTimers();
    const deadline = startRequestDeadline(2);
    const ended: string[] = [];
    const forget = deadline.onExpiry(() => ended.push('attempt'));
    deadline.onExpiry(() => ended.push('stream'));
    forget();
    vi.advanceTimersByTime(2_000);
    expect(ended).toEqual(['stream']);
  });

  it('once cleared, the timer ends nothing', () => {
    vi.useFakeTimers();
    const deadline = startRequestDeadline(2);
    const ended: string[] = [];
    deadline.onExpiry(() => ended.push('request'));
    deadline.clear();
    vi.advanceTimersByTime(5_000);
    expect(deadline.expired).toBe(false);
    expect(ended).toEqual([]);
  });
});
