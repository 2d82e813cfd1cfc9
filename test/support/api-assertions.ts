/**
 * What the in-process API tests (admin, provider, security) check on every answer: it carries a
 * request id and is never a server error, its JSON body is read only at the status expected, and a
 * failure is OpenAI's error envelope with the code, type and param API.md names. Also the request
 * helpers that put the first check on every call, and the body types those checks read.
 *
 * @example
 * const { admin } = answeredRequests(() => gateway);
 * await expectError(await admin('GET', '/admin/v1/tenants/ten_x'), 404, 'not_found');
 */
import { expect } from 'vitest';
import { bearerJson, type InProcessGateway } from './in-process-gateway.ts';

export type ErrorBody = {
  error: { message: string; type: string; param: string | null; code: string };
};

/** A list answer; the paged ones (tenants) also carry `has_more` and `next_cursor`. */
export type ListBody<Item> = {
  object: 'list';
  data: Item[];
  has_more?: boolean;
  next_cursor?: string | null;
};

/** Every answer carries a request id and none is a server error. */
export function answered(response: Response): Response {
  expect(response.headers.get('x-request-id')).toMatch(/^req_[a-z0-9]{20}$/);
  expect(response.status).toBeLessThan(500);
  return response;
}

/** The body as JSON, once the status is the one expected (the body text is the failure message). */
export async function readJson<Body>(response: Response, status: number): Promise<Body> {
  const text = await response.text();
  expect(response.status, text).toBe(status);
  return JSON.parse(text) as Body;
}

/** The answer is OpenAI's error envelope at `status`, with this code and param and a message. */
export async function expectError(
  response: Response,
  status: number,
  code: string,
  param: string | null = null,
): Promise<ErrorBody['error']> {
  const body = await readJson<ErrorBody>(response, status);
  expect(body.error).toEqual({
    message: expect.stringMatching(/\S/),
    type: 'invalid_request_error',
    param,
    code,
  });
  return body.error;
}

export type AnsweredRequests = {
  /** With the admin token and a JSON body. */
  admin(method: string, path: string, body?: unknown): Promise<Response>;
  /** With `token` as the bearer credential and a JSON body. */
  withToken(token: string, method: string, path: string, body?: unknown): Promise<Response>;
  /** Exactly as given. */
  send(path: string, init: RequestInit): Promise<Response>;
};

/**
 * Requests to the gateway `currentGateway` returns when each is sent (the tests start a new one
 * per test), every answer checked by `answered`.
 */
export function answeredRequests(currentGateway: () => InProcessGateway): AnsweredRequests {
  return {
    admin: async (method, path, body) => answered(await currentGateway().admin(method, path, body)),
    withToken: async (token, method, path, body) =>
      answered(await currentGateway().app.request(path, bearerJson(token, method, body))),
    send: async (path, init) => answered(await currentGateway().app.request(path, init)),
  };
}
