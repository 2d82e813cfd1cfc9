import { describe, expect, it } from 'vitest';
import { planUpstreamBody } from './upstream-body.ts';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function plan(body: Record<string, unknown>, clamped?: number) {
  const text = JSON.stringify(body);
  const result = planUpstreamBody(encoder.encode(text), body, clamped);
  return { text, sent: decoder.decode(result.bytes), usageInjected: result.usageInjected };
}

describe('planUpstreamBody', () => {
  it('forwards a non-streaming body byte for byte', () => {
    const { text, sent, usageInjected } = plan({ model: 'm', messages: [], extra: { keep: 1 } });
    expect(sent).toBe(text);
    expect(usageInjected).toBe(false);
  });

  it('forwards a stream that already asks for usage untouched', () => {
    const { text, sent, usageInjected } = plan({
      model: 'm',
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(sent).toBe(text);
    expect(usageInjected).toBe(false);
  });

  it('splices include_usage into a stream without stream_options, keeping every other byte', () => {
    const { sent, usageInjected } = plan({ model: 'm', stream: true, unknown_field: [1, 2] });
    expect(sent).toBe(
      '{"stream_options":{"include_usage":true},"model":"m","stream":true,"unknown_field":[1,2]}',
    );
    expect(usageInjected).toBe(true);
  });

  it('turns include_usage on when the client set it off, keeping its other options', () => {
    const { sent } = plan({
      model: 'm',
      stream: true,
      stream_options: { include_usage: false, other: 1 },
    });
    expect(JSON.parse(sent).stream_options).toEqual({ include_usage: true, other: 1 });
  });

  it('lowers the output field the client used when the tenant allows clamping', () => {
    expect(JSON.parse(plan({ model: 'm', max_tokens: 500 }, 120).sent).max_tokens).toBe(120);
    const completion = JSON.parse(plan({ model: 'm', max_completion_tokens: 500 }, 120).sent);
    expect(completion.max_completion_tokens).toBe(120);
    expect(completion.max_tokens).toBeUndefined();
    expect(JSON.parse(plan({ model: 'm' }, 7).sent).max_tokens).toBe(7);
  });
});
