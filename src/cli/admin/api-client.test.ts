import { describe, expect, it } from 'vitest';
import {
  type ApiClientOptions,
  createApiClient,
  describeNetworkError,
  requestUrl,
  toApiResponse,
} from './api-client.ts';

const token = `tba-${'s'.repeat(30)}`;

type Recorded = { url: string; init: RequestInit | undefined };

function scriptedFetch(answer: () => Response | Promise<Response>, recorded: Recorded[] = []) {
  const fetchFunction: typeof fetch = async (input, init) => {
    recorded.push({ url: String(input), init });
    return answer();
  };
  return fetchFunction;
}

function options(fetchFunction: typeof fetch): ApiClientOptions {
  return { baseUrl: new URL('http://gateway.test'), token, timeoutMs: 1000, fetch: fetchFunction };
}

describe('requestUrl', () => {
  it.each([
    {
      name: 'a bare origin',
      base: 'http://gateway.test',
      url: 'http://gateway.test/admin/v1/prices',
    },
    {
      name: 'a trailing slash',
      base: 'http://gateway.test/',
      url: 'http://gateway.test/admin/v1/prices',
    },
    {
      name: 'a path prefix',
      base: 'https://example.com/bank/',
      url: 'https://example.com/bank/admin/v1/prices',
    },
  ])('joins the path to $name', ({ base, url }) => {
    expect(requestUrl(new URL(base), { method: 'GET', path: '/admin/v1/prices' }).href).toBe(url);
  });

  it('sets only the query parameters that have a value and keeps encoded segments', () => {
    const url = requestUrl(new URL('http://gateway.test'), {
      method: 'GET',
      path: '/admin/v1/prices/meta%2Fllama',
      query: { limit: '5', after: undefined },
    });
    expect(url.href).toBe('http://gateway.test/admin/v1/prices/meta%2Fllama?limit=5');
  });
});

describe('toApiResponse', () => {
  it('keeps the raw text of a success next to its parsed body', () => {
    expect(toApiResponse(201, 'Created', '{"id":"ten_1"}')).toEqual({
      ok: true,
      status: 201,
      text: '{"id":"ten_1"}',
      body: { id: 'ten_1' },
    });
  });

  it('passes a CSV answer on as its text, byte for byte', () => {
    const csv = 'request_id,cost\r\nreq_1,"1,5"\r\n';
    expect(toApiResponse(200, 'OK', csv, 'csv')).toEqual({
      ok: true,
      status: 200,
      text: csv,
      body: csv,
    });
  });

  it('reads an error as JSON even when CSV was asked for', () => {
    const text = '{"error":{"message":"bad from","type":"invalid_request_error","code":null}}';
    expect(toApiResponse(400, 'Bad Request', text, 'csv')).toEqual({
      ok: false,
      kind: 'http',
      status: 400,
      code: 'invalid_request_error',
      message: 'bad from',
    });
  });

  it.each([
    {
      name: 'an OpenAI envelope',
      status: 404,
      text: '{"error":{"message":"No tenant","type":"invalid_request_error","param":null,"code":"not_found"}}',
      code: 'not_found',
      message: 'No tenant',
    },
    {
      name: 'an envelope without a code',
      status: 400,
      text: '{"error":{"message":"bad","type":"invalid_request_error","param":null,"code":null}}',
      code: 'invalid_request_error',
      message: 'bad',
    },
    {
      name: 'a proxy page',
      status: 502,
      text: '<html>Bad Gateway</html>',
      code: 'bad_gateway',
      message: '<html>Bad Gateway</html>',
    },
    {
      name: 'a success that is not JSON',
      status: 200,
      text: '<html>',
      code: 'not_json',
      message: 'the answer is not JSON; does the URL point at a tokenbank gateway?',
    },
  ])('reads $name as an HTTP failure', ({ status, text, code, message }) => {
    expect(toApiResponse(status, 'Bad Gateway', text)).toEqual({
      ok: false,
      kind: 'http',
      status,
      code,
      message,
    });
  });
});

describe('createApiClient', () => {
  it('sends the token in the header and the body as JSON', async () => {
    const recorded: Recorded[] = [];
    const client = createApiClient(
      options(scriptedFetch(() => Response.json({ id: 'prv_1' }, { status: 201 }), recorded)),
    );
    const response = await client.send({
      method: 'POST',
      path: '/admin/v1/providers',
      body: { name: 'A', payout_bps: 7000 },
    });
    expect(response.ok).toBe(true);
    const headers = new Headers(recorded[0]?.init?.headers);
    expect(headers.get('authorization')).toBe(`Bearer ${token}`);
    expect(headers.get('content-type')).toBe('application/json');
    expect(recorded[0]?.init?.body).toBe('{"name":"A","payout_bps":7000}');
    expect(recorded[0]?.init?.signal).toBeInstanceOf(AbortSignal);
  });

  it('asks for CSV when the request expects it', async () => {
    const recorded: Recorded[] = [];
    const csv = 'a,b\r\n';
    const client = createApiClient(options(scriptedFetch(() => new Response(csv), recorded)));
    const response = await client.send({
      method: 'GET',
      path: '/admin/v1/tenants/ten_1/usage',
      query: { format: 'csv' },
      response: 'csv',
    });
    expect(response).toEqual({ ok: true, status: 200, text: csv, body: csv });
    expect(new Headers(recorded[0]?.init?.headers).get('accept')).toBe('text/csv');
  });

  it('turns a thrown fetch into a network failure that does not carry the token', async () => {
    const refused = new TypeError('fetch failed', {
      cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
    });
    const client = createApiClient(options(scriptedFetch(() => Promise.reject(refused))));
    const response = await client.send({ method: 'GET', path: '/admin/v1/backends' });
    expect(response).toMatchObject({ ok: false, kind: 'network' });
    expect(JSON.stringify(response)).not.toContain(token);
  });
});

describe('createApiClient: forms and downloads', () => {
  it('sends a form as multipart, leaving its content type with the boundary to fetch', async () => {
    const recorded: Recorded[] = [];
    const client = createApiClient(
      options(scriptedFetch(() => Response.json({ id: 'file-1' }), recorded)),
    );
    const form = new FormData();
    form.append('purpose', 'batch');
    const response = await client.send({ method: 'POST', path: '/v1/files', form });
    expect(response.ok).toBe(true);
    expect(recorded[0]?.init?.body).toBe(form);
    expect(new Headers(recorded[0]?.init?.headers).get('content-type')).toBeNull();
  });

  it('hands the bytes of a download to the writer in order and counts them', async () => {
    const chunks = [new Uint8Array([1, 2]), new Uint8Array([3])];
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const chunk of chunks) {
          controller.enqueue(chunk);
        }
        controller.close();
      },
    });
    const client = createApiClient(options(scriptedFetch(() => new Response(body))));
    const received: number[] = [];
    const result = await client.download(
      { method: 'GET', path: '/v1/files/f/content' },
      async (chunk) => {
        received.push(...chunk);
      },
    );
    expect(result).toEqual({ ok: true, bytes: 3 });
    expect(received).toEqual([1, 2, 3]);
  });

  it('reads a failed download as the error envelope, writing nothing', async () => {
    const client = createApiClient(
      options(
        scriptedFetch(() =>
          Response.json(
            { error: { message: 'No file', type: 'invalid_request_error', code: 'not_found' } },
            { status: 404 },
          ),
        ),
      ),
    );
    let written = 0;
    const result = await client.download(
      { method: 'GET', path: '/v1/files/f/content' },
      async () => {
        written += 1;
      },
    );
    expect(result).toEqual({
      ok: false,
      kind: 'http',
      status: 404,
      code: 'not_found',
      message: 'No file',
    });
    expect(written).toBe(0);
  });

  it('reports a connection lost mid-download as a network failure', async () => {
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new Uint8Array([1]));
        controller.error(new TypeError('terminated'));
      },
    });
    const client = createApiClient(options(scriptedFetch(() => new Response(body))));
    const result = await client.download(
      { method: 'GET', path: '/v1/files/f/content' },
      async () => {},
    );
    expect(result).toEqual({
      ok: false,
      kind: 'network',
      message: 'request to the gateway at http://gateway.test failed: terminated',
    });
  });

  it("lets the writer's own failure (a full disk) propagate", async () => {
    const client = createApiClient(options(scriptedFetch(() => new Response('lines'))));
    const download = client.download({ method: 'GET', path: '/v1/files/f/content' }, () =>
      Promise.reject(new Error('ENOSPC')),
    );
    await expect(download).rejects.toThrow('ENOSPC');
  });
});

describe('describeNetworkError', () => {
  const clientOptions = options(scriptedFetch(() => new Response()));

  it.each([
    {
      name: 'a refused connection',
      error: new TypeError('fetch failed', {
        cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), {
          code: 'ECONNREFUSED',
        }),
      }),
      message:
        'cannot connect to the gateway at http://gateway.test: connection refused. Is it running? Set the address with --url or TOKENBANK_URL.',
    },
    {
      name: 'a refusal from every address of a name',
      error: new TypeError('fetch failed', {
        cause: new AggregateError([Object.assign(new Error('x'), { code: 'ECONNREFUSED' })]),
      }),
      message:
        'cannot connect to the gateway at http://gateway.test: connection refused. Is it running? Set the address with --url or TOKENBANK_URL.',
    },
    {
      name: 'an unknown host',
      error: new TypeError('fetch failed', {
        cause: Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' }),
      }),
      message:
        'cannot resolve the host of http://gateway.test (ENOTFOUND); check --url or TOKENBANK_URL.',
    },
    {
      name: 'a timeout',
      error: new DOMException('The operation was aborted due to timeout', 'TimeoutError'),
      message: 'no answer from the gateway at http://gateway.test within 1 s',
    },
    {
      name: 'anything else, by its cause',
      error: new TypeError('fetch failed', { cause: new Error('bad port') }),
      message: 'request to the gateway at http://gateway.test failed: bad port',
    },
  ])('explains $name', ({ error, message }) => {
    expect(describeNetworkError(error, clientOptions)).toBe(message);
  });
});
