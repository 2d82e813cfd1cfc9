import { describe, expect, it } from 'vitest';
import { createJsonLogger, type LogFields } from './logger.ts';

function linesOf(levelMin: Parameters<typeof createJsonLogger>[0]) {
  const lines: string[] = [];
  return { lines, logger: createJsonLogger(levelMin, (line) => lines.push(line)) };
}

describe('createJsonLogger', () => {
  it('writes time, level, event, then the fields that are set, in their order', () => {
    const { lines, logger } = linesOf('info');
    const fields: LogFields = {
      request_id: 'req_1',
      status: 200,
      ok: true,
      actor: undefined,
      tenant_id: null,
      duration_ms: 1.5,
    };
    logger.log('info', 'http_request', fields);
    expect(lines).toHaveLength(1);
    const parsed = JSON.parse(lines[0] ?? '');
    expect(Object.keys(parsed)).toEqual([
      'time',
      'level',
      'event',
      'request_id',
      'status',
      'ok',
      'tenant_id',
      'duration_ms',
    ]);
    expect(parsed).toMatchObject({ level: 'info', event: 'http_request', tenant_id: null });
    expect(new Date(parsed.time).toISOString()).toBe(parsed.time);
  });

  it('writes what JSON.stringify writes for texts that need escaping and for odd numbers', () => {
    const { lines, logger } = linesOf('debug');
    const fields: LogFields = {
      message: 'a "quoted"\nline\\ with \u0001 and 中文 and \ud800 alone',
      'odd "name"': 'x',
      not_a_number: Number.NaN,
      infinite: Number.POSITIVE_INFINITY,
    };
    logger.log('warn', 'event "x"', fields);
    const parsed = JSON.parse(lines[0] ?? '');
    const expected = JSON.parse(
      JSON.stringify({ time: parsed.time, level: 'warn', event: 'event "x"', ...fields }),
    );
    expect(parsed).toEqual(expected);
  });

  it('redacts credentials in text fields', () => {
    const { lines, logger } = linesOf('info');
    logger.log('error', 'failed', { message: 'header was Bearer tbk-abcdefgh12345678 here' });
    expect(lines[0]).not.toContain('tbk-abcdefgh');
    expect(JSON.parse(lines[0] ?? '').message).toBe('header was Bearer [redacted credential] here');
  });

  it('drops events below its level, and writes events without fields', () => {
    const { lines, logger } = linesOf('warn');
    logger.log('info', 'dropped');
    logger.log('debug', 'dropped');
    logger.log('error', 'kept');
    expect(lines.map((line) => JSON.parse(line).event)).toEqual(['kept']);
  });
});
