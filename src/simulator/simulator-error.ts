/**
 * Errors the simulator answers with, always in OpenAI's envelope
 * (`{"error": {"message", "type", "param", "code"}}`) because clients and the gateway parse that
 * shape from any OpenAI-compatible server.
 */

export type SimulatorError = {
  status: number;
  message: string;
  type: string;
  code: string;
  param: string | null;
  /** Seconds, sent as `Retry-After` so clients and routers back off. */
  retryAfterSeconds?: number;
};

export function invalidRequestError(message: string, param: string | null): SimulatorError {
  return { status: 400, message, type: 'invalid_request_error', code: 'invalid_request', param };
}

export function modelNotFoundError(model: string): SimulatorError {
  return {
    status: 404,
    message: `The model \`${model}\` does not exist on this simulator.`,
    type: 'invalid_request_error',
    code: 'model_not_found',
    param: 'model',
  };
}

export function requestTooLargeError(bytesMax: number): SimulatorError {
  return {
    status: 413,
    message: `Request body is larger than ${bytesMax} bytes.`,
    type: 'invalid_request_error',
    code: 'request_too_large',
    param: null,
  };
}

export function queueFullError(): SimulatorError {
  return {
    status: 503,
    message: 'The simulated server is at capacity: its waiting queue is full.',
    type: 'server_error',
    code: 'queue_full',
    param: null,
    retryAfterSeconds: 1,
  };
}

export function simulatedUnavailableError(): SimulatorError {
  return {
    status: 503,
    message: 'Simulated fault fast-503: the server is unavailable.',
    type: 'server_error',
    code: 'service_unavailable',
    param: null,
  };
}

export function simulatedRateLimitError(): SimulatorError {
  return {
    status: 429,
    message: 'Simulated fault 429: too many requests.',
    type: 'rate_limit_error',
    code: 'rate_limit_exceeded',
    param: null,
    retryAfterSeconds: 1,
  };
}

/** Sent only to a client that has already gone away; it exists so every handler returns a Response. */
export function clientGoneError(): SimulatorError {
  return {
    status: 499,
    message: 'The client closed the request.',
    type: 'invalid_request_error',
    code: 'client_closed_request',
    param: null,
  };
}

export function simulatorErrorResponse(error: SimulatorError): Response {
  const headers = new Headers({ 'content-type': 'application/json' });
  if (error.retryAfterSeconds !== undefined) {
    headers.set('retry-after', String(error.retryAfterSeconds));
  }
  const body = {
    error: { message: error.message, type: error.type, param: error.param, code: error.code },
  };
  return new Response(JSON.stringify(body), { status: error.status, headers });
}
