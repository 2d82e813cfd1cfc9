import { describe, expect, it } from 'vitest';
import { resolveConnection } from './api-connection.ts';
import { batchFamily } from './command-family.ts';

const token = `tba-${'t'.repeat(30)}`;
const none = { url: undefined, token: undefined };

describe('resolveConnection', () => {
  it('uses the default address when neither flag nor variable gives one', () => {
    const result = resolveConnection(none, { TOKENBANK_ADMIN_TOKEN: token });
    expect(result.ok && result.connection.baseUrl.href).toBe('http://127.0.0.1:8787/');
  });

  it('lets flags win over the environment', () => {
    const result = resolveConnection(
      { url: 'http://flag.test:1234', token: 'tba-from-flag' },
      { TOKENBANK_URL: 'http://environment.test', TOKENBANK_ADMIN_TOKEN: token },
    );
    expect(result.ok && [result.connection.baseUrl.host, result.connection.token]).toEqual([
      'flag.test:1234',
      'tba-from-flag',
    ]);
  });

  it.each([
    { name: 'no token', flags: none, environment: {}, message: 'no admin token' },
    {
      name: 'an empty token variable',
      flags: none,
      environment: { TOKENBANK_ADMIN_TOKEN: ' ' },
      message: 'no admin token',
    },
    {
      name: 'a URL that is not one',
      flags: { url: 'localhost:8787', token },
      environment: {},
      message: 'must be an http(s) URL',
    },
    {
      name: 'a URL with credentials',
      flags: { url: 'http://user:pass@gateway.test', token },
      environment: {},
      message: 'must not carry a user name',
    },
    {
      name: 'a URL with a query',
      flags: { url: 'http://gateway.test/?a=1', token },
      environment: {},
      message: 'must not carry a query',
    },
  ])('refuses $name', ({ flags, environment, message }) => {
    const result = resolveConnection(flags, environment);
    expect(result.ok ? 'ok' : result.message).toContain(message);
  });

  it("names the family's own variable and flag when its credential is missing", () => {
    const result = resolveConnection(
      none,
      { TOKENBANK_ADMIN_TOKEN: token },
      batchFamily.credential,
    );
    expect(result.ok ? 'ok' : result.message).toContain(
      'no API key: set TOKENBANK_API_KEY or pass --key',
    );
  });

  it('never puts the token in a message', () => {
    const result = resolveConnection({ url: 'ftp://gateway.test', token }, {});
    expect(result.ok ? 'ok' : result.message).not.toContain(token);
  });
});
