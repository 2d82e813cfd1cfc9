import { describe, expect, it } from 'vitest';
import {
  constantTimeEqual,
  newId,
  newOpenAIId,
  newSecret,
  webCryptoSha256,
} from './identifiers.ts';

describe('identifiers', () => {
  it('prefixes ids and secrets', () => {
    expect(newId('ten')).toMatch(/^ten_[a-z0-9]{20}$/);
    expect(newOpenAIId('file-')).toMatch(/^file-[a-z0-9]{24}$/);
    expect(newSecret('tbk')).toMatch(/^tbk-[a-z0-9]{40}$/);
    expect(newSecret('tbk')).not.toBe(newSecret('tbk'));
  });

  it('compares in constant time and correctly', () => {
    expect(constantTimeEqual('abc', 'abc')).toBe(true);
    expect(constantTimeEqual('abc', 'abd')).toBe(false);
    expect(constantTimeEqual('abc', 'abcd')).toBe(false);
    expect(constantTimeEqual('', '')).toBe(true);
  });

  it('hashes with SHA-256', async () => {
    expect(await webCryptoSha256('abc')).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
  });
});
