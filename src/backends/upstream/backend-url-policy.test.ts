import { describe, expect, it } from 'vitest';
import {
  checkBackendUrl,
  isNonPublicAddress,
  pointsAtNonPublicAddress,
  type ResolveHost,
} from './backend-url-policy.ts';

const publicResolver: ResolveHost = async () => ['93.184.216.34'];

function check(url: string, resolveHost: ResolveHost = publicResolver, allowPrivate = false) {
  return checkBackendUrl(url, { allowPrivate, resolveHost });
}

describe('checkBackendUrl', () => {
  it('accepts a public OpenAI-compatible base URL and trims the trailing slash', async () => {
    expect(await check('https://gpu.example.com/v1/')).toEqual({
      ok: true,
      url: 'https://gpu.example.com/v1',
    });
  });

  it.each([
    'http://127.0.0.1:8000/v1',
    'http://10.1.2.3/v1',
    'http://172.16.0.1/v1',
    'http://172.31.255.255/v1',
    'http://192.168.1.1/v1',
    'http://169.254.169.254/v1',
    'http://0.0.0.0/v1',
    'http://100.64.0.1/v1',
    'http://[::1]/v1',
    'http://[::]/v1',
    'http://[::ffff:127.0.0.1]/v1',
    'http://[::ffff:a9fe:a9fe]/v1',
    'http://[fd00::1]/v1',
    'http://[fe80::1]/v1',
    'http://[64:ff9b::a00:1]/v1',
    'http://[::ffff:0:10.0.0.1]/v1',
    'http://[2002:a00:1::1]/v1',
    'http://[2002:7f00:1::]/v1',
    'http://localhost:8000/v1',
    'http://api.localhost/v1',
    'http://metadata.google.internal/v1',
    'http://192.0.0.8/v1',
    'http://192.0.0.170/v1',
    'http://192.88.99.1/v1',
    'http://168.63.129.16/v1',
    'http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/v1',
    'http://[2001::1]/v1',
  ])('refuses %s', async (url) => {
    const result = await check(url);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.message).toMatch(/TOKENBANK_ALLOW_PRIVATE_BACKENDS/);
  });

  it('refuses a DNS name that resolves to a private address', async () => {
    const result = await check('http://internal.example.com/v1', async () => [
      '93.184.216.34',
      '10.0.0.5',
    ]);
    expect(result.ok).toBe(false);
  });

  it('answers a name that does not resolve exactly as a private one: no DNS oracle', async () => {
    const unresolved = await check('http://nowhere.example.com/v1', async () => {
      throw new Error('ENOTFOUND');
    });
    const empty = await check('http://nowhere.example.com/v1', async () => []);
    const internal = await check('http://nowhere.example.com/v1', async () => ['10.0.0.5']);
    expect(unresolved.ok).toBe(false);
    expect(unresolved).toEqual(internal);
    expect(empty).toEqual(internal);
  });

  it('allows private addresses when the operator says so', async () => {
    expect((await check('http://127.0.0.1:9000/v1', publicResolver, true)).ok).toBe(true);
  });

  it.each([
    ['not a url', 'absolute'],
    ['ftp://gpu.example.com/v1', 'http or https'],
    ['https://user:pass@gpu.example.com/v1', 'credentials'],
    ['https://gpu.example.com/v1?x=1', 'query'],
    ['https://gpu.example.com/api', '/v1'],
  ])('refuses the malformed %s', async (url, reason) => {
    const result = await check(url);
    expect(!result.ok && result.message).toContain(reason);
  });

  it('treats public addresses as public', () => {
    expect(isNonPublicAddress('8.8.8.8')).toBe(false);
    expect(isNonPublicAddress('2001:4860:4860::8888')).toBe(false);
    expect(isNonPublicAddress('172.32.0.1')).toBe(false);
    expect(isNonPublicAddress('2002:808:808::1')).toBe(false);
    expect(isNonPublicAddress('192.0.1.1')).toBe(false);
    expect(isNonPublicAddress('192.88.98.1')).toBe(false);
    expect(isNonPublicAddress('168.63.129.17')).toBe(false);
    expect(isNonPublicAddress('2001:1::1')).toBe(false);
  });
});

describe('pointsAtNonPublicAddress', () => {
  it('re-checks an IP literal without resolving anything', async () => {
    const resolveNothing: ResolveHost = async () => {
      throw new Error('not called for an IP literal');
    };
    expect(await pointsAtNonPublicAddress('http://127.0.0.1:9000/v1', resolveNothing)).toBe(true);
    expect(await pointsAtNonPublicAddress('http://[fd00::1]/v1', resolveNothing)).toBe(true);
    expect(await pointsAtNonPublicAddress('http://93.184.216.34/v1', resolveNothing)).toBe(false);
  });

  it('refuses a name that resolves privately, keeps one that does not resolve now', async () => {
    expect(
      await pointsAtNonPublicAddress('http://gpu.example.com/v1', async () => ['10.1.1.1']),
    ).toBe(true);
    expect(await pointsAtNonPublicAddress('http://localhost:8000/v1', publicResolver)).toBe(true);
    const failing: ResolveHost = async () => {
      throw new Error('ENOTFOUND');
    };
    expect(await pointsAtNonPublicAddress('http://gpu.example.com/v1', failing)).toBe(false);
    expect(await pointsAtNonPublicAddress('http://gpu.example.com/v1', publicResolver)).toBe(false);
  });
});
