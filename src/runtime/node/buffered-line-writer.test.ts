import { describe, expect, it } from 'vitest';
import { createBufferedLineWriter } from './buffered-line-writer.ts';

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('createBufferedLineWriter', () => {
  it('writes the lines of one turn together, in order, at the end of the turn', async () => {
    const written: string[] = [];
    const writer = createBufferedLineWriter((text) => written.push(text), 1024);
    writer.write('one');
    writer.write('two');
    expect(written).toEqual([]);
    await nextTurn();
    expect(written).toEqual(['one\ntwo\n']);
    writer.write('three');
    await nextTurn();
    expect(written).toEqual(['one\ntwo\n', 'three\n']);
  });

  it('writes at once when the pending lines reach their bound', () => {
    const written: string[] = [];
    const writer = createBufferedLineWriter((text) => written.push(text), 8);
    writer.write('12345');
    writer.write('678');
    expect(written).toEqual(['12345\n678\n']);
  });

  it('writes what is pending when asked to flush', () => {
    const written: string[] = [];
    const writer = createBufferedLineWriter((text) => written.push(text), 1024);
    writer.write('last words');
    writer.flush();
    writer.close();
    expect(written).toEqual(['last words\n']);
  });
});
