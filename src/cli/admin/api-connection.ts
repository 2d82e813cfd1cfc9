/**
 * Where the admin, provider and batch commands connect and with which credential: flags win over the
 * environment, the environment over the default address. There is no default token, and the
 * token never appears in a message.
 */
import { adminFamily, type Credential } from './command-family.ts';

export const defaultGatewayUrl = 'http://127.0.0.1:8787';

export type ApiConnection = { baseUrl: URL; token: string };

export type ConnectionResult =
  | { ok: true; connection: ApiConnection }
  | { ok: false; message: string };

export function resolveConnection(
  flags: { url: string | undefined; token: string | undefined },
  environment: Readonly<Record<string, string | undefined>>,
  credential: Credential = adminFamily.credential,
): ConnectionResult {
  const urlText = nonEmpty(flags.url) ?? nonEmpty(environment.TOKENBANK_URL) ?? defaultGatewayUrl;
  const token = nonEmpty(flags.token) ?? nonEmpty(environment[credential.variable]);
  if (token === undefined) {
    return {
      ok: false,
      message: `no ${credential.label}: set ${credential.variable} or pass --${credential.flag} (${credential.origin})`,
    };
  }
  const baseUrl = URL.canParse(urlText) ? new URL(urlText) : undefined;
  if (baseUrl === undefined || (baseUrl.protocol !== 'http:' && baseUrl.protocol !== 'https:')) {
    return { ok: false, message: `--url / TOKENBANK_URL must be an http(s) URL, got "${urlText}"` };
  }
  if (baseUrl.username !== '' || baseUrl.password !== '') {
    return { ok: false, message: '--url / TOKENBANK_URL must not carry a user name or password' };
  }
  if (baseUrl.search !== '' || baseUrl.hash !== '') {
    return { ok: false, message: '--url / TOKENBANK_URL must not carry a query or fragment' };
  }
  return { ok: true, connection: { baseUrl, token } };
}

/** An empty flag or variable counts as unset, as for the gateway's own settings. */
function nonEmpty(text: string | undefined): string | undefined {
  return text === undefined || text.trim() === '' ? undefined : text.trim();
}
