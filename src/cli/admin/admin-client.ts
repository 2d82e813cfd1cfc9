/**
 * The admin and provider APIs over HTTP for the CLI. One request at a time, with the admin token and an explicit
 * timeout; every outcome (an answer, an HTTP error, an unreachable gateway) comes back as a value
 * so the command decides what to print. Answers are JSON, or CSV text when the request asks for
 * it. The token goes only into the Authorization header: no message built here contains it.
 */

export type AdminRequest = {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  query?: Readonly<Record<string, string | undefined>>;
  body?: unknown;
  /** What a successful answer is: JSON (the default) or CSV, whose text becomes the body. */
  response?: ResponseFormat;
};

export type ResponseFormat = 'json' | 'csv';

const acceptHeaders: Readonly<Record<ResponseFormat, string>> = {
  json: 'application/json',
  csv: 'text/csv',
};

export type AdminResponse =
  | { ok: true; status: number; text: string; body: unknown }
  | { ok: false; kind: 'http'; status: number; code: string; message: string }
  | { ok: false; kind: 'network'; message: string };

export type AdminClientOptions = {
  baseUrl: URL;
  token: string;
  timeoutMs: number;
  fetch: typeof fetch;
};

export type AdminClient = { send(request: AdminRequest): Promise<AdminResponse> };

/** Characters of a non-JSON error body worth showing: enough to recognise a proxy's error page. */
const errorTextLengthMax = 200;

export function createAdminClient(options: AdminClientOptions): AdminClient {
  return {
    async send(request) {
      const url = requestUrl(options.baseUrl, request);
      const format = request.response ?? 'json';
      const headers: Record<string, string> = {
        accept: acceptHeaders[format],
        authorization: `Bearer ${options.token}`,
      };
      if (request.body !== undefined) {
        headers['content-type'] = 'application/json';
      }
      try {
        const response = await options.fetch(url, {
          method: request.method,
          headers,
          ...(request.body === undefined ? {} : { body: JSON.stringify(request.body) }),
          signal: AbortSignal.timeout(options.timeoutMs),
        });
        const text = await response.text();
        return toAdminResponse(response.status, response.statusText, text, format);
      } catch (error) {
        return { ok: false, kind: 'network', message: describeNetworkError(error, options) };
      }
    },
  };
}

/** Joins the path to the base URL's own path, so a gateway behind a path prefix works too. */
export function requestUrl(baseUrl: URL, request: AdminRequest): URL {
  const url = new URL(baseUrl.href);
  url.pathname = `${baseUrl.pathname.replace(/\/+$/, '')}${request.path}`;
  for (const [name, value] of Object.entries(request.query ?? {})) {
    if (value !== undefined) {
      url.searchParams.set(name, value);
    }
  }
  return url;
}

/** Errors are JSON whatever was asked for; a CSV answer is passed on as its text. */
export function toAdminResponse(
  status: number,
  statusText: string,
  text: string,
  format: ResponseFormat = 'json',
): AdminResponse {
  const succeeded = status >= 200 && status < 300;
  if (succeeded && format === 'csv') {
    return { ok: true, status, text, body: text };
  }
  const body = parseJson(text);
  if (succeeded) {
    if (body === undefined) {
      return {
        ok: false,
        kind: 'http',
        status,
        code: 'not_json',
        message: 'the answer is not JSON; does the URL point at a tokenbank gateway?',
      };
    }
    return { ok: true, status, text, body };
  }
  const envelope = errorEnvelope(body);
  if (envelope !== undefined) {
    return { ok: false, kind: 'http', status, ...envelope };
  }
  const code =
    statusText.trim() === '' ? 'http_error' : statusText.trim().toLowerCase().replaceAll(' ', '_');
  const message = text.trim().slice(0, errorTextLengthMax) || 'no error body';
  return { ok: false, kind: 'http', status, code, message };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** OpenAI's `{error: {message, type, param, code}}`; `type` stands in when `code` is null. */
function errorEnvelope(body: unknown): { code: string; message: string } | undefined {
  if (typeof body !== 'object' || body === null || !('error' in body)) {
    return undefined;
  }
  const error: unknown = body.error;
  if (typeof error !== 'object' || error === null) {
    return undefined;
  }
  const fields = error as Record<string, unknown>;
  const code = [fields.code, fields.type].find((value) => typeof value === 'string');
  const message = typeof fields.message === 'string' ? fields.message : 'no message';
  return { code: typeof code === 'string' ? code : 'unknown_error', message };
}

/**
 * Node's fetch rejects with `TypeError('fetch failed')` and puts the socket error in `cause`
 * (an AggregateError when a name resolves to several addresses), so the code is looked up there.
 */
export function describeNetworkError(error: unknown, options: AdminClientOptions): string {
  const where = options.baseUrl.origin;
  if (error instanceof Error && error.name === 'TimeoutError') {
    return `no answer from the gateway at ${where} within ${options.timeoutMs / 1000} s`;
  }
  const code = systemErrorCode(error);
  if (code === 'ECONNREFUSED') {
    return `cannot connect to the gateway at ${where}: connection refused. Is it running? Set the address with --url or TOKENBANK_URL.`;
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return `cannot resolve the host of ${where} (${code}); check --url or TOKENBANK_URL.`;
  }
  return `request to the gateway at ${where} failed: ${innermostMessage(error)}`;
}

/** "fetch failed" says nothing; the cause says what failed ("bad port", a TLS error). */
function innermostMessage(error: unknown): string {
  const cause = error instanceof Error ? error.cause : undefined;
  if (cause instanceof Error && cause.message !== '') {
    return cause.message;
  }
  return error instanceof Error ? error.message : String(error);
}

function systemErrorCode(error: unknown): string | undefined {
  const cause = error instanceof Error ? error.cause : undefined;
  for (const candidate of [
    cause,
    ...(cause instanceof AggregateError ? cause.errors : []),
    error,
  ]) {
    if (typeof candidate === 'object' && candidate !== null && 'code' in candidate) {
      const { code } = candidate;
      if (typeof code === 'string') {
        return code;
      }
    }
  }
  return undefined;
}
