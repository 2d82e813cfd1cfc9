/**
 * The one error table of the gateway. Every failure a client can see has a code here, with its
 * HTTP status, OpenAI error type and whether retrying can help; `toErrorResponse` writes OpenAI's
 * envelope so that every OpenAI SDK maps our errors onto its own classes.
 */

export type ErrorSpec = {
  status: 400 | 401 | 403 | 404 | 405 | 409 | 413 | 429 | 500 | 501 | 502 | 503 | 504;
  type: string;
  retry: boolean;
};

export const errorTable = {
  invalid_request: { status: 400, type: 'invalid_request_error', retry: false },
  /** An uploaded file over fileUploadBytesMax: 400, as OpenAI answers "File is too large.". */
  file_too_large: { status: 400, type: 'invalid_request_error', retry: false },
  /** An upload past the tenant's files or bytes: 400, as OpenAI answers a full file storage. */
  file_storage_limit_exceeded: { status: 400, type: 'invalid_request_error', retry: false },
  invalid_api_key: { status: 401, type: 'invalid_request_error', retry: false },
  permission_denied: { status: 403, type: 'invalid_request_error', retry: false },
  not_found: { status: 404, type: 'invalid_request_error', retry: false },
  model_not_found: { status: 404, type: 'invalid_request_error', retry: false },
  /** No file of that id, or another tenant's: the two are not told apart. */
  file_not_found: { status: 404, type: 'invalid_request_error', retry: false },
  method_not_allowed: { status: 405, type: 'invalid_request_error', retry: false },
  conflict: { status: 409, type: 'invalid_request_error', retry: false },
  /** The same reference is being written by another request right now: retried, it resolves. */
  operation_in_progress: { status: 409, type: 'invalid_request_error', retry: true },
  request_too_large: { status: 413, type: 'invalid_request_error', retry: false },
  insufficient_quota: { status: 429, type: 'insufficient_quota', retry: false },
  rate_limit_exceeded: { status: 429, type: 'rate_limit_error', retry: true },
  internal_error: { status: 500, type: 'server_error', retry: true },
  /** A feature this runtime does not serve (on Cloudflare Workers: /metrics). */
  not_supported_by_runtime: { status: 501, type: 'invalid_request_error', retry: false },
  upstream_error: { status: 502, type: 'server_error', retry: true },
  no_capacity: { status: 503, type: 'server_error', retry: true },
  /** The gateway could not start: its configuration is invalid or its store did not answer. */
  gateway_unavailable: { status: 503, type: 'server_error', retry: true },
  no_backend_in_allowed_regions: { status: 503, type: 'server_error', retry: false },
  /** TOKENBANK_REQUEST_TIMEOUT_S passed: the same request would most likely time out again. */
  request_timeout: { status: 504, type: 'server_error', retry: false },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof errorTable;

export type GatewayErrorOptions = {
  param?: string;
  retryAfterS?: number;
  cause?: unknown;
};

/** An expected failure that ends a request with the envelope of its code. */
export class GatewayError extends Error {
  override name = 'GatewayError';
  readonly code: ErrorCode;
  readonly param: string | undefined;
  readonly retryAfterS: number | undefined;

  constructor(code: ErrorCode, message: string, options: GatewayErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.param = options.param;
    this.retryAfterS = options.retryAfterS;
  }

  get status(): ErrorSpec['status'] {
    return errorTable[this.code].status;
  }

  get isRetryable(): boolean {
    return errorTable[this.code].retry;
  }
}

export type OpenAIErrorBody = {
  error: { message: string; type: string; param: string | null; code: string };
};

export function toErrorBody(error: GatewayError): OpenAIErrorBody {
  return {
    error: {
      message: error.message,
      type: errorTable[error.code].type,
      param: error.param ?? null,
      code: error.code,
    },
  };
}

/** Headers that tell OpenAI SDKs whether and when to retry (they obey x-should-retry first). */
export function errorHeaders(error: GatewayError): Record<string, string> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'x-should-retry': error.isRetryable ? 'true' : 'false',
  };
  if (error.retryAfterS !== undefined) {
    headers['retry-after'] = String(error.retryAfterS);
  }
  return headers;
}

export function toErrorResponse(error: GatewayError, requestId: string): Response {
  const headers = errorHeaders(error);
  headers['x-request-id'] = requestId;
  return new Response(JSON.stringify(toErrorBody(error)), { status: error.status, headers });
}
