/**
 * The gateway's APIs over HTTP for the CLI (admin, provider, and the client API that `tokenbank
 * batch` speaks). One request at a time, with the command's bearer credential and an explicit
 * timeout; every outcome (an answer, an HTTP error, an unreachable gateway) comes back as a value
 * so the command decides what to print. Bodies go out as JSON or as a multipart form (file
 * uploads); answers are JSON, CSV text when the request asks for it, or bytes handed to a writer
 * as they arrive (file downloads, which may be larger than is wise to hold in memory). The
 * credential goes only into the Authorization header: no message built here contains it.
 */
import { assert } from '../../assert.ts';

export type ApiRequest = {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  query?: Readonly<Record<string, string | undefined>>;
  /** A JSON body. */
  body?: unknown;
  /** A multipart body instead; fetch writes its content type with the boundary. */
  form?: FormData;
  /** What a successful answer is: JSON (the default) or CSV, whose text becomes the body. */
  response?: ResponseFormat;
  /** Longer than the client's own timeout for a request that moves a whole file. */
  timeoutMs?: number;
};

export type ResponseFormat = 'json' | 'csv';

const acceptHeaders: Readonly<Record<ResponseFormat, string>> = {
  json: 'application/json',
  csv: 'text/csv',
};

export type ApiFailure =
  | { ok: false; kind: 'http'; status: number; code: string; message: string }
  | { ok: false; kind: 'network'; message: string };

export type ApiResponse = { ok: true; status: number; text: string; body: unknown } | ApiFailure;

export type DownloadResult = { ok: true; bytes: number } | ApiFailure;

/** Takes each chunk of a download in order; the download waits for it (backpressure). */
export type ChunkWriter = (chunk: Uint8Array) => Promise<void>;

export type ApiClientOptions = {
  baseUrl: URL;
  token: string;
  timeoutMs: number;
  fetch: typeof fetch;
};

export type ApiClient = {
  send(request: ApiRequest): Promise<ApiResponse>;
  /**
   * Streams a successful answer's bytes into `write`. An error thrown by `write` (a full disk)
   * is the caller's and propagates; failures of the gateway or the connection are values.
   */
  download(request: ApiRequest, write: ChunkWriter): Promise<DownloadResult>;
};

/** Characters of a non-JSON error body worth showing: enough to recognise a proxy's error page. */
const errorTextLengthMax = 200;

export function createApiClient(options: ApiClientOptions): ApiClient {
  const networkFailure = (error: unknown): ApiFailure => ({
    ok: false,
    kind: 'network',
    message: describeNetworkError(error, options),
  });
  return {
    async send(request) {
      const format = request.response ?? 'json';
      try {
        const response = await options.fetch(
          requestUrl(options.baseUrl, request),
          requestInit(request, options, acceptHeaders[format]),
        );
        const text = await response.text();
        return toApiResponse(response.status, response.statusText, text, format);
      } catch (error) {
        return networkFailure(error);
      }
    },
    async download(request, write) {
      let response: Response;
      try {
        response = await options.fetch(
          requestUrl(options.baseUrl, request),
          requestInit(request, options, 'application/octet-stream, application/jsonl, */*'),
        );
        if (!succeeded(response.status)) {
          return httpFailure(response.status, response.statusText, await response.text());
        }
      } catch (error) {
        return networkFailure(error);
      }
      return response.body === null
        ? { ok: true, bytes: 0 }
        : pipeBody(response.body, write, networkFailure);
    },
  };
}

function requestInit(request: ApiRequest, options: ApiClientOptions, accept: string): RequestInit {
  assert(
    request.body === undefined || request.form === undefined,
    'a request has one body: JSON or a form',
  );
  const headers: Record<string, string> = { accept, authorization: `Bearer ${options.token}` };
  if (request.body !== undefined) {
    headers['content-type'] = 'application/json';
  }
  const body =
    request.form ?? (request.body === undefined ? undefined : JSON.stringify(request.body));
  return {
    method: request.method,
    headers,
    ...(body === undefined ? {} : { body }),
    signal: AbortSignal.timeout(request.timeoutMs ?? options.timeoutMs),
  };
}

/** Reading is the connection's (a failure is a value); writing is the caller's (it throws). */
async function pipeBody(
  body: ReadableStream<Uint8Array>,
  write: ChunkWriter,
  networkFailure: (error: unknown) => ApiFailure,
): Promise<DownloadResult> {
  const reader = body.getReader();
  let bytes = 0;
  try {
    for (;;) {
      let next: ReadableStreamReadResult<Uint8Array>;
      try {
        next = await reader.read();
      } catch (error) {
        return networkFailure(error);
      }
      if (next.done) {
        return { ok: true, bytes };
      }
      await write(next.value);
      bytes += next.value.byteLength;
    }
  } finally {
    reader.releaseLock();
  }
}

/** Joins the path to the base URL's own path, so a gateway behind a path prefix works too. */
export function requestUrl(baseUrl: URL, request: ApiRequest): URL {
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
export function toApiResponse(
  status: number,
  statusText: string,
  text: string,
  format: ResponseFormat = 'json',
): ApiResponse {
  if (!succeeded(status)) {
    return httpFailure(status, statusText, text);
  }
  if (format === 'csv') {
    return { ok: true, status, text, body: text };
  }
  const body = parseJson(text);
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

function succeeded(status: number): boolean {
  return status >= 200 && status < 300;
}

/** The OpenAI error envelope's code and message, or the status line and the start of the text. */
function httpFailure(status: number, statusText: string, text: string): ApiFailure {
  const envelope = errorEnvelope(parseJson(text));
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
export function describeNetworkError(error: unknown, options: ApiClientOptions): string {
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
