import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../errors.ts';
import { checkJsonlFile } from './check-jsonl-file.ts';

const encode = (text: string) => new TextEncoder().encode(text);

function refusal(content: Uint8Array, linesMax = 10): GatewayError {
  try {
    checkJsonlFile(content, linesMax);
  } catch (error) {
    if (error instanceof GatewayError) {
      return error;
    }
    throw error;
  }
  throw new Error('the file was accepted');
}

describe('checkJsonlFile', () => {
  it.each([
    { name: 'one line without a final newline', text: '{"a":1}', lines: 1 },
    { name: 'two lines with a final newline', text: '{"a":1}\n{"b":2}\n', lines: 2 },
    { name: 'CRLF line ends', text: '{"a":1}\r\n{"b":2}\r\n', lines: 2 },
    { name: 'blank lines between, not counted', text: '{"a":1}\n\n  \t\r\n{"b":2}\n\n', lines: 2 },
    { name: 'multi-byte UTF-8', text: '{"content":"你好, 世界 🌏"}\n', lines: 1 },
  ])('counts $name as $lines', ({ text, lines }) => {
    expect(checkJsonlFile(encode(text), 10)).toEqual({ lineCount: lines });
  });

  it('accepts exactly linesMax lines and refuses one more', () => {
    expect(checkJsonlFile(encode('{}\n'.repeat(3)), 3)).toEqual({ lineCount: 3 });
    const error = refusal(encode('{}\n'.repeat(4)), 3);
    expect(error.code).toBe('invalid_request');
    expect(error.param).toBe('file');
    expect(error.message).toContain('4 lines');
    expect(error.message).toContain('batchLinesMax');
  });

  it.each([
    { name: 'an empty file', content: new Uint8Array(0), says: 'empty' },
    { name: 'only blank lines', content: encode('\n \r\n\t\n'), says: 'blank' },
    { name: 'a lone continuation byte', content: Uint8Array.of(0x7b, 0x80, 0x7d), says: 'UTF-8' },
    {
      name: 'a truncated sequence at the end',
      content: Uint8Array.of(0x7b, 0xe4, 0xbd),
      says: 'UTF-8',
    },
    { name: 'an overlong encoding', content: Uint8Array.of(0xc0, 0xaf, 0x0a), says: 'UTF-8' },
    { name: 'Latin-1 text', content: Uint8Array.of(0x7b, 0x22, 0xe9, 0x22, 0x7d), says: 'UTF-8' },
  ])('refuses $name with a 400 naming file', ({ content, says }) => {
    const error = refusal(content);
    expect(error.status).toBe(400);
    expect(error.param).toBe('file');
    expect(error.message).toContain(says);
  });

  it('finds invalid UTF-8 far past the first slice, and across a slice boundary', () => {
    const sliceBytes = 1024 * 1024;
    const valid = encode(`${'{"a":"b"}\n'.repeat(sliceBytes / 5)}`);
    const broken = new Uint8Array(valid.byteLength + 3);
    broken.set(valid);
    broken.set(Uint8Array.of(0xff, 0x0a, 0x7b), valid.byteLength);
    expect(refusal(broken, 1_000_000).message).toContain('UTF-8');

    // A three-byte character split between two slices is valid.
    const padded = new Uint8Array(sliceBytes + 2);
    padded.fill(0x20);
    padded.set(encode('你'), sliceBytes - 1);
    expect(checkJsonlFile(padded, 10)).toEqual({ lineCount: 1 });
  });
});
