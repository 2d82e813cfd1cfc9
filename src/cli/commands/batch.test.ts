/**
 * `tokenbank batch` against a small HTTP server on 127.0.0.1 that answers the Files and Batch
 * APIs' OpenAI shapes: what the command sent (multipart upload, JSON bodies, the API key) and what
 * it printed. The server plays a batch's life one poll at a time, and polls wait for nothing (the
 * injected wait returns at once, recording the interval asked for).
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type BatchCommandIo, runBatch } from './batch.ts';

const apiKey = `tbk-${'b'.repeat(40)}`;

type Received = {
  method: string;
  path: string;
  query: Record<string, string>;
  authorization: string | undefined;
  json?: unknown;
  form?: { purpose: unknown; filename: string; type: string; content: string };
};

/** What the fake gateway answers; reset before each test. */
type Script = {
  /** Answers of GET /v1/batches/{id}, one per request; the last one repeats. */
  polls: Array<Record<string, unknown> | (() => Response)>;
  /** The answer of POST /v1/batches, from the body it received. */
  create: (body: Record<string, unknown>) => Response;
  list: unknown;
  /** File contents by id, for GET /v1/files/{id}/content. */
  contents: Record<string, string>;
};

function batchObject(
  status: string,
  counts?: { completed: number; failed?: number; total: number },
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    id: 'batch_1',
    object: 'batch',
    endpoint: '/v1/chat/completions',
    errors: null,
    input_file_id: 'file-in',
    completion_window: '24h',
    status,
    output_file_id: null,
    error_file_id: null,
    created_at: 1_764_150_000,
    request_counts:
      counts === undefined
        ? { total: 0, completed: 0, failed: 0 }
        : { total: counts.total, completed: counts.completed, failed: counts.failed ?? 0 },
    metadata: null,
    ...extra,
  };
}

function errorResponse(status: number, code: string, message: string): Response {
  return Response.json(
    { error: { message, type: 'invalid_request_error', param: null, code } },
    { status },
  );
}

function freshScript(): Script {
  return {
    polls: [batchObject('in_progress', { completed: 0, total: 2 })],
    create: (body) =>
      Response.json(
        batchObject('validating', undefined, {
          input_file_id: body.input_file_id,
          endpoint: body.endpoint,
          metadata: body.metadata ?? null,
        }),
      ),
    list: { object: 'list', data: [], has_more: false },
    contents: {},
  };
}

let script = freshScript();
const received: Received[] = [];

function fakeGateway(): Hono {
  const app = new Hono();
  app.use('*', async (c, next) => {
    received.push({
      method: c.req.method,
      path: c.req.path,
      query: c.req.query(),
      authorization: c.req.header('authorization'),
    });
    if (c.req.header('authorization') !== `Bearer ${apiKey}`) {
      return errorResponse(401, 'invalid_api_key', 'Incorrect API key provided.');
    }
    await next();
    return undefined;
  });
  const last = () => received.at(-1) as Received;
  app.post('/v1/files', async (c) => {
    const body = await c.req.parseBody();
    const file = body.file;
    if (!(file instanceof File)) {
      return errorResponse(400, 'invalid_request', 'file is required');
    }
    const content = await file.text();
    last().form = { purpose: body.purpose, filename: file.name, type: file.type, content };
    return c.json({
      id: 'file-in',
      object: 'file',
      bytes: file.size,
      created_at: 1_764_150_000,
      filename: file.name,
      purpose: 'batch',
    });
  });
  app.post('/v1/batches', async (c) => {
    const body = (await c.req.json()) as Record<string, unknown>;
    last().json = body;
    return script.create(body);
  });
  app.get('/v1/batches', (c) => c.json(script.list as object));
  app.get('/v1/batches/:id', (c) => {
    const next = script.polls.length > 1 ? script.polls.shift() : script.polls[0];
    return typeof next === 'function' ? next() : c.json(next ?? {});
  });
  app.post('/v1/batches/:id/cancel', (c) => c.json(batchObject('cancelling')));
  app.get('/v1/files/:id/content', (c) => {
    const content = script.contents[c.req.param('id')];
    return content === undefined
      ? errorResponse(404, 'not_found', `No file with id '${c.req.param('id')}'.`)
      : c.body(content, 200, { 'content-type': 'application/octet-stream' });
  });
  app.delete('/v1/files/:id', (c) =>
    c.json({ id: c.req.param('id'), object: 'file', deleted: true }),
  );
  return app;
}

let gatewayUrl = '';
let closeGateway: () => Promise<void> = async () => {};
let folder = '';

beforeAll(async () => {
  folder = mkdtempSync(join(tmpdir(), 'tokenbank-batch-cli-'));
  await new Promise<void>((resolve) => {
    const server = serve(
      { fetch: fakeGateway().fetch, hostname: '127.0.0.1', port: 0 },
      (info: AddressInfo) => {
        gatewayUrl = `http://127.0.0.1:${info.port}`;
        resolve();
      },
    );
    closeGateway = () =>
      new Promise<void>((done) => {
        server.close(() => done());
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      });
  });
});

afterAll(async () => {
  await closeGateway();
  rmSync(folder, { recursive: true, force: true });
});

beforeEach(() => {
  script = freshScript();
  received.length = 0;
});

type Run = { exitCode: number; output: string; errorOutput: string; waits: number[] };

async function run(argv: string[], environment?: Record<string, string>): Promise<Run> {
  const result = { output: '', errorOutput: '', waits: [] as number[] };
  const io: BatchCommandIo = {
    environment: environment ?? { TOKENBANK_API_KEY: apiKey, TOKENBANK_URL: gatewayUrl },
    fetch: (input, init) => globalThis.fetch(input, init),
    writeOutput: (text) => {
      result.output += text;
    },
    writeError: (text) => {
      result.errorOutput += text;
    },
    errorIsTerminal: false,
    wait: async (milliseconds) => {
      result.waits.push(milliseconds);
    },
  };
  const exitCode = await runBatch(argv, io);
  // Whatever happens, the key is never printed.
  expect(result.output + result.errorOutput).not.toContain(apiKey);
  return { exitCode, ...result };
}

function requestsFile(name: string, content: string): string {
  const path = join(folder, name);
  writeFileSync(path, content);
  return path;
}

const twoLines =
  '{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{}}\n' +
  '{"custom_id":"b","method":"POST","url":"/v1/chat/completions","body":{}}\n';

describe('tokenbank batch submit', () => {
  it('uploads the file as multipart, creates the batch on it and prints its id', async () => {
    const path = requestsFile('requests.jsonl', twoLines);
    const result = await run([
      'submit',
      path,
      '--endpoint',
      '/v1/chat/completions',
      '--metadata',
      'job=nightly',
    ]);
    expect(result.exitCode).toBe(0);
    expect(result.output).toBe('batch_1\n');
    expect(result.errorOutput).toBe(
      `uploaded requests.jsonl as file-in (${twoLines.length} bytes)\nfollow it with: tokenbank batch status batch_1 --wait\n`,
    );
    expect(received.map((each) => `${each.method} ${each.path}`)).toEqual([
      'POST /v1/files',
      'POST /v1/batches',
    ]);
    expect(received.every((each) => each.authorization === `Bearer ${apiKey}`)).toBe(true);
    expect(received[0]?.form).toEqual({
      purpose: 'batch',
      filename: 'requests.jsonl',
      type: 'application/jsonl',
      content: twoLines,
    });
    expect(received[1]?.json).toEqual({
      input_file_id: 'file-in',
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
      metadata: { job: 'nightly' },
    });
  });

  it('prints the created batch verbatim with --json, and sends no metadata when none is given', async () => {
    const path = requestsFile('embeddings.jsonl', twoLines);
    const result = await run(['submit', path, '--endpoint', '/v1/embeddings', '--json']);
    expect(result.exitCode).toBe(0);
    expect(JSON.parse(result.output)).toMatchObject({ id: 'batch_1', status: 'validating' });
    expect(received[1]?.json).toEqual({
      input_file_id: 'file-in',
      endpoint: '/v1/embeddings',
      completion_window: '24h',
    });
  });

  it('with --wait, follows the batch from its creation to its end', async () => {
    const path = requestsFile('waited.jsonl', twoLines);
    script.polls = [
      batchObject('in_progress', { completed: 1, total: 2 }),
      batchObject('completed', { completed: 2, total: 2 }, { output_file_id: 'file-out' }),
    ];
    const result = await run(['submit', path, '--endpoint', '/v1/chat/completions', '--wait']);
    expect(result.exitCode).toBe(0);
    expect(result.errorOutput.split('\n').slice(1)).toEqual([
      '[------------------------]     -  validating',
      '[############------------]   50%  1/2 done, 0 failed  in_progress',
      '[########################]  100%  2/2 done, 0 failed  completed',
      '',
    ]);
    expect(result.output).toMatch(/^batch_1\nid: {10}batch_1\nstatus: {6}completed\n/);
    expect(result.output).toContain('output file: file-out\n');
    expect(result.waits).toEqual([2000, 2000]);
  });

  it('with --wait --json, prints only the final batch object', async () => {
    const path = requestsFile('waited-json.jsonl', twoLines);
    script.polls = [batchObject('expired', { completed: 1, total: 2 })];
    const result = await run(['submit', path, '--endpoint', '/v1/embeddings', '--wait', '--json']);
    expect(result.exitCode).toBe(3);
    expect(JSON.parse(result.output)).toMatchObject({ id: 'batch_1', status: 'expired' });
  });

  it('deletes the uploaded file again when the batch cannot be created', async () => {
    const path = requestsFile('refused.jsonl', twoLines);
    script.create = () => errorResponse(400, 'invalid_request', 'completion_window must be "24h".');
    const result = await run([
      'submit',
      path,
      '--endpoint',
      '/v1/responses',
      '--completion-window',
      '48h',
    ]);
    expect(result.exitCode).toBe(1);
    expect(result.output).toBe('');
    expect(result.errorOutput).toContain(
      'error 400 invalid_request: completion_window must be "24h".\nthe uploaded file file-in was deleted again\n',
    );
    expect(received.map((each) => `${each.method} ${each.path}`)).toEqual([
      'POST /v1/files',
      'POST /v1/batches',
      'DELETE /v1/files/file-in',
    ]);
  });

  it.each([
    {
      name: 'a missing file',
      path: () => join(folder, 'absent.jsonl'),
      message: 'absent.jsonl: no such file',
    },
    {
      name: 'a directory',
      path: () => {
        const path = join(folder, 'a-directory');
        mkdirSync(path, { recursive: true });
        return path;
      },
      message: 'a-directory is not a file (a directory or a device?)',
    },
    {
      name: 'an empty file',
      path: () => requestsFile('empty.jsonl', ''),
      message: 'empty.jsonl is empty: a batch file has one request per line',
    },
  ])('refuses $name before sending anything', async ({ path, message }) => {
    const result = await run(['submit', path(), '--endpoint', '/v1/embeddings']);
    expect(result.exitCode).toBe(2);
    expect(result.errorOutput).toContain(message);
    expect(received).toEqual([]);
  });

  it('prints the OpenAI error of a refused key and exits 1', async () => {
    const path = requestsFile('unauthorised.jsonl', twoLines);
    const result = await run(['submit', path, '--endpoint', '/v1/embeddings'], {
      TOKENBANK_API_KEY: 'tbk-wrong',
      TOKENBANK_URL: gatewayUrl,
    });
    expect(result).toMatchObject({
      exitCode: 1,
      output: '',
      errorOutput: 'error 401 invalid_api_key: Incorrect API key provided.\n',
    });
  });

  it('says where the gateway was not found', async () => {
    const port = await closedPort();
    const path = requestsFile('nowhere.jsonl', twoLines);
    const result = await run(['submit', path, '--endpoint', '/v1/embeddings', '--key', apiKey], {
      TOKENBANK_URL: `http://127.0.0.1:${port}`,
    });
    expect(result.exitCode).toBe(1);
    expect(result.errorOutput).toBe(
      `tokenbank batch: cannot connect to the gateway at http://127.0.0.1:${port}: connection refused. Is it running? Set the address with --url or TOKENBANK_URL.\n`,
    );
  });

  it('asks for a key before sending anything', async () => {
    const path = requestsFile('keyless.jsonl', twoLines);
    const result = await run(['submit', path, '--endpoint', '/v1/embeddings'], {
      TOKENBANK_URL: gatewayUrl,
    });
    expect(result.exitCode).toBe(2);
    expect(result.errorOutput).toContain('no API key: set TOKENBANK_API_KEY or pass --key');
    expect(received).toEqual([]);
  });
});

/** A loopback port nothing listens on: one the system just handed out and took back. */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

describe('tokenbank batch status', () => {
  it('prints the batch once without --wait', async () => {
    script.polls = [batchObject('in_progress', { completed: 1, total: 4 }, { cost: '0.000120' })];
    const result = await run(['status', 'batch_1']);
    expect(result.exitCode).toBe(0);
    expect(result.output).toContain('requests:    4 total, 1 completed, 0 failed\n');
    expect(result.output).toContain('cost:        0.000120\n');
    expect(result.errorOutput).toBe('');
    expect(received.map((each) => each.path)).toEqual(['/v1/batches/batch_1']);
  });

  it('logs one progress line per change while it polls, then prints the final state', async () => {
    script.polls = [
      batchObject('validating'),
      batchObject('in_progress', { completed: 0, total: 4 }),
      batchObject('in_progress', { completed: 1, failed: 1, total: 4 }),
      batchObject('in_progress', { completed: 1, failed: 1, total: 4 }),
      batchObject('finalizing', { completed: 3, failed: 1, total: 4 }),
      batchObject(
        'completed',
        { completed: 3, failed: 1, total: 4 },
        {
          output_file_id: 'file-out',
          error_file_id: 'file-err',
          usage: { input_tokens: 40, output_tokens: 64, total_tokens: 104 },
          cost: '0.000208',
        },
      ),
    ];
    const result = await run(['status', 'batch_1', '--wait', '--interval-s', '0.5']);
    expect(result.exitCode).toBe(0);
    expect(result.errorOutput).toBe(
      [
        '[------------------------]     -  validating',
        '[------------------------]    0%  0/4 done, 0 failed  in_progress',
        '[############------------]   50%  2/4 done, 1 failed  in_progress',
        '[########################]  100%  4/4 done, 1 failed  finalizing',
        '[########################]  100%  4/4 done, 1 failed  completed',
        '',
      ].join('\n'),
    );
    expect(result.waits).toEqual([500, 500, 500, 500, 500]);
    expect(result.output).toContain('status:      completed\n');
    expect(result.output).toContain('usage:       40 input + 64 output = 104 tokens\n');
    expect(result.output).toContain('error file:  file-err\n');
    expect(received).toHaveLength(6);
  });

  it.each([
    { status: 'failed', exitCode: 3 },
    { status: 'expired', exitCode: 3 },
    { status: 'cancelled', exitCode: 3 },
    { status: 'completed', exitCode: 0 },
  ])('exits $exitCode when the batch ends $status', async ({ status, exitCode }) => {
    script.polls = [
      batchObject('in_progress', { completed: 0, total: 2 }),
      batchObject(status, { completed: 1, failed: 1, total: 2 }),
    ];
    const result = await run(['status', 'batch_1', '--wait', '--json']);
    expect(result.exitCode).toBe(exitCode);
    expect(JSON.parse(result.output)).toMatchObject({ id: 'batch_1', status });
  });

  it('stops waiting at its bound and says the batch runs on', async () => {
    const result = await run(['status', 'batch_1', '--wait', '--timeout-s', '4']);
    expect(result.exitCode).toBe(4);
    expect(result.waits).toEqual([2000, 2000]);
    expect(received).toHaveLength(3);
    expect(result.errorOutput).toContain(
      'tokenbank batch: stopped waiting after 4 s; the batch runs on: tokenbank batch status batch_1 --wait\n',
    );
  });

  it('polls again after a failure that may pass, and gives up on one that will not', async () => {
    script.polls = [
      batchObject('in_progress', { completed: 0, total: 2 }),
      () => errorResponse(503, 'no_capacity', 'No backend can take the request.'),
      batchObject('completed', { completed: 2, total: 2 }),
    ];
    const recovered = await run(['status', 'batch_1', '--wait']);
    expect(recovered.exitCode).toBe(0);
    expect(recovered.errorOutput).toContain(
      'error 503 no_capacity: No backend can take the request. (poll failed 1 of 5 times in a row; trying again)\n',
    );
    script.polls = [
      batchObject('in_progress', { completed: 0, total: 2 }),
      () => errorResponse(404, 'not_found', "No batch with id 'batch_1'."),
    ];
    const gone = await run(['status', 'batch_1', '--wait']);
    expect(gone.exitCode).toBe(1);
    expect(gone.errorOutput).toContain("error 404 not_found: No batch with id 'batch_1'.\n");
  });
});

describe('tokenbank batch results', () => {
  const outputLines = '{"id":"r1","custom_id":"a","response":{"status_code":200},"error":null}\n';
  const errorLines =
    '{"id":"r2","custom_id":"b","response":null,"error":{"code":"insufficient_quota","message":"没有余额"}}\n';

  beforeEach(() => {
    script.polls = [
      batchObject(
        'completed',
        { completed: 1, failed: 1, total: 2 },
        { output_file_id: 'file-out', error_file_id: 'file-err' },
      ),
    ];
    script.contents = { 'file-out': outputLines, 'file-err': errorLines };
  });

  it('writes the output and error lines to the files given', async () => {
    const outputPath = join(folder, 'out.jsonl');
    const errorsPath = join(folder, 'errors.jsonl');
    const result = await run([
      'results',
      'batch_1',
      '--output',
      outputPath,
      '--errors',
      errorsPath,
    ]);
    expect(result.exitCode).toBe(0);
    expect(readFileSync(outputPath, 'utf8')).toBe(outputLines);
    expect(readFileSync(errorsPath, 'utf8')).toBe(errorLines);
    expect(result.output).toBe('');
    expect(result.errorOutput).toBe(
      `output: file-out, ${Buffer.byteLength(outputLines)} bytes -> ${outputPath}\nerrors: file-err, ${Buffer.byteLength(errorLines)} bytes -> ${errorsPath}\n`,
    );
    expect(received.map((each) => each.path)).toEqual([
      '/v1/batches/batch_1',
      '/v1/files/file-out/content',
      '/v1/files/file-err/content',
    ]);
    expect(readdirSync(folder).filter((name) => name.endsWith('.part'))).toEqual([]);
  });

  it('writes both to stdout, output first, when no file is given', async () => {
    const result = await run(['results', 'batch_1']);
    expect(result.exitCode).toBe(0);
    expect(result.output).toBe(outputLines + errorLines);
  });

  it('prints a summary of what it wrote with --json', async () => {
    const outputPath = join(folder, 'json-out.jsonl');
    const errorsPath = join(folder, 'json-errors.jsonl');
    const result = await run([
      'results',
      'batch_1',
      '--output',
      outputPath,
      '--errors',
      errorsPath,
      '--json',
    ]);
    expect(JSON.parse(result.output)).toEqual({
      batch_id: 'batch_1',
      status: 'completed',
      output: { file_id: 'file-out', path: outputPath, bytes: Buffer.byteLength(outputLines) },
      errors: { file_id: 'file-err', path: errorsPath, bytes: Buffer.byteLength(errorLines) },
    });
  });

  it('says the batch has no results yet while it runs', async () => {
    script.polls = [batchObject('in_progress', { completed: 1, total: 4 })];
    const result = await run(['results', 'batch_1']);
    expect(result).toMatchObject({
      exitCode: 4,
      output: '',
      errorOutput:
        'tokenbank batch: batch batch_1 has no results yet: it is in_progress (4 total, 1 completed, 0 failed). Wait for it with: tokenbank batch status batch_1 --wait\n',
    });
  });

  it('leaves no file behind when a download fails', async () => {
    script.contents = {};
    const outputPath = join(folder, 'never.jsonl');
    const result = await run(['results', 'batch_1', '--output', outputPath]);
    expect(result.exitCode).toBe(1);
    expect(result.errorOutput).toBe("error 404 not_found: No file with id 'file-out'.\n");
    expect(existsSync(outputPath)).toBe(false);
    expect(existsSync(`${outputPath}.part`)).toBe(false);
  });
});

describe('tokenbank batch list and cancel', () => {
  it('lists batches with the page asked for', async () => {
    script.list = {
      object: 'list',
      data: [batchObject('completed', { completed: 2, total: 2 }, { cost: '0.01' })],
      first_id: 'batch_1',
      last_id: 'batch_1',
      has_more: true,
    };
    const result = await run(['list', '--limit', '1', '--after', 'batch_0']);
    expect(result.exitCode).toBe(0);
    expect(received[0]?.query).toEqual({ limit: '1', after: 'batch_0' });
    expect(result.output).toBe(
      [
        'ID       STATUS     ENDPOINT              DONE  FAILED  COST  CREATED',
        'batch_1  completed  /v1/chat/completions  2/2   0       0.01  2025-11-26T09:40:00.000Z',
        'more: --after batch_1',
        '',
      ].join('\n'),
    );
    const json = await run(['list', '--json']);
    expect(JSON.parse(json.output)).toEqual(script.list);
  });

  it('cancels a batch', async () => {
    const result = await run(['cancel', 'batch_1']);
    expect(result.exitCode).toBe(0);
    expect(received.map((each) => `${each.method} ${each.path}`)).toEqual([
      'POST /v1/batches/batch_1/cancel',
    ]);
    expect(result.output).toContain('status:      cancelling\n');
  });
});
