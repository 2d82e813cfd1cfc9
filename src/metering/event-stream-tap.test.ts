import { describe, expect, it } from 'vitest';
import { createEventStreamTap } from './event-stream-tap.ts';

const encoder = new TextEncoder();

describe('createEventStreamTap', () => {
  it('sees events split across chunks and multi-byte characters split across bytes', () => {
    const seen: string[] = [];
    const tap = createEventStreamTap((data) => seen.push(data));
    const bytes = encoder.encode('data: {"a":"算力"}\n\ndata: {"b":1}\r\n\r\ndata: [DONE]\n\n');
    for (const byte of bytes) {
      tap.feed(Uint8Array.of(byte));
    }
    expect(seen).toEqual(['{"a":"算力"}', '{"b":1}']);
    expect(tap.sawDone).toBe(true);
    expect(tap.eventCount).toBe(2);
  });

  it('does not report DONE for a stream that stops early', () => {
    const tap = createEventStreamTap(() => {});
    tap.feed(encoder.encode('data: {"a":1}\n\ndata: [DO'));
    expect(tap.sawDone).toBe(false);
    expect(tap.eventCount).toBe(1);
  });
});
