/**
 * `tokenbank serve` never prints a generated admin token to a stream that is not a terminal (a
 * log collector would keep it): without --admin-token-file it generates none and says how to get
 * one; with it, the token goes to that file only, mode 0600.
 */
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type GatewayProcess, startGatewayProcess } from './support/spawn-gateway.ts';

const environment = { TOKENBANK_ADMIN_TOKEN: '' };
let gateway: GatewayProcess | undefined;

afterEach(async () => {
  await gateway?.stop();
  gateway = undefined;
});

function listTenants(url: string, token: string): Promise<Response> {
  return fetch(`${url}/admin/v1/tenants`, { headers: { authorization: `Bearer ${token}` } });
}

describe('serve and the generated admin token', () => {
  it('prints no token when stdout is not a terminal, and says how to get one', async () => {
    gateway = await startGatewayProcess({ environment });

    const printed = `${gateway.stdout()}${gateway.stderr()}`;
    expect(printed).not.toMatch(/tba-[a-z0-9]{20,}/);
    expect(gateway.stdout()).toContain('--admin-token-file');
    expect(gateway.stdout()).toContain('TOKENBANK_ADMIN_TOKEN');
    // No secret nobody received guards the admin API: it is closed.
    expect((await listTenants(gateway.url, `tba-${'0'.repeat(40)}`)).status).toBe(401);
  });

  it('writes the token to --admin-token-file with mode 0600 and nowhere else', async () => {
    const tokenFile = join(mkdtempSync(join(tmpdir(), 'tokenbank-token-')), 'admin-token');
    // A file left with a loose mode is tightened before the secret goes in.
    writeFileSync(tokenFile, 'old\n', { mode: 0o644 });
    gateway = await startGatewayProcess({ environment, args: ['--admin-token-file', tokenFile] });

    const token = readFileSync(tokenFile, 'utf8').trim();
    expect(token).toMatch(/^tba-[a-z0-9]{20,}$/);
    expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
    expect(gateway.stdout()).toContain(`written to ${tokenFile}`);
    expect(`${gateway.stdout()}${gateway.stderr()}`).not.toContain(token);
    expect((await listTenants(gateway.url, token)).status).toBe(200);
  });
});
