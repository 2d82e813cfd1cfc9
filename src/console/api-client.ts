/**
 * The console's only way to the server: the public HTTP API on the same origin, with the signed-in
 * credential as a Bearer token. Failures come back as ApiError carrying the gateway's own message
 * from OpenAI's error envelope, so what the server refused is what the user reads.
 */

export class ApiError extends Error {
  readonly status: number;
  readonly code: string | undefined;

  constructor(status: number, message: string, code: string | undefined) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

type ErrorEnvelope = { error?: { message?: unknown; code?: unknown } };

async function errorOf(response: Response): Promise<ApiError> {
  const text = await response.text();
  let envelope: ErrorEnvelope = {};
  try {
    envelope = JSON.parse(text) as ErrorEnvelope;
  } catch {
    // Not JSON: the status line says what there is to say.
  }
  const message =
    typeof envelope.error?.message === 'string'
      ? envelope.error.message
      : `${response.status} ${response.statusText}`;
  const code = typeof envelope.error?.code === 'string' ? envelope.error.code : undefined;
  return new ApiError(response.status, message, code);
}

export type ApiClient = {
  /** JSON from the API; an ApiError when it answers anything but 2xx. */
  json<Body>(method: string, path: string, body?: unknown): Promise<Body>;
  /** The raw answer, whatever its status (the API reference's "try it"). */
  raw(method: string, path: string, body?: string): Promise<Response>;
};

export function apiClient(credential: string): ApiClient {
  const raw = (method: string, path: string, body?: string) => {
    const headers: Record<string, string> = { authorization: `Bearer ${credential}` };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
    }
    return fetch(path, { method, headers, ...(body === undefined ? {} : { body }) });
  };
  return {
    raw,
    async json<Body>(method: string, path: string, body?: unknown): Promise<Body> {
      const response = await raw(
        method,
        path,
        body === undefined ? undefined : JSON.stringify(body),
      );
      if (!response.ok) {
        throw await errorOf(response);
      }
      return (await response.json()) as Body;
    },
  };
}

/** A query string of the defined values. */
export function query(values: Record<string, string | number | undefined>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(values)) {
    if (value !== undefined) {
      search.set(name, String(value));
    }
  }
  const text = search.toString();
  return text === '' ? '' : `?${text}`;
}
