/**
 * Where the admin commands connect and with which token: flags win over the environment, the
 * environment over the default address. There is no default token, and the token never appears
 * in a message.
 */

export const defaultGatewayUrl = 'http://127.0.0.1:8787';

export type AdminConnection = { baseUrl: URL; token: string };

export type ConnectionResult =
  | { ok: true; connection: AdminConnection }
  | { ok: false; message: string };

export function resolveConnection(
  flags: { url: string | undefined; token: string | undefined },
  environment: Readonly<Record<string, string | undefined>>,
): ConnectionResult {
  const urlText = nonEmpty(flags.url) ?? nonEmpty(environment.TOKENBANK_URL) ?? defaultGatewayUrl;
  const token = nonEmpty(flags.token) ?? nonEmpty(environment.TOKENBANK_ADMIN_TOKEN);
  if (token === undefined) {
    return {
      ok: false,
      message:
        'no admin token: set TOKENBANK_ADMIN_TOKEN or pass --token (tokenbank serve prints one on its first start)',
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
