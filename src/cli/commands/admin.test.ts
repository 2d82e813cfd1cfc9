import { describe, expect, it } from 'vitest';
import { type AdminCommandIo, runAdmin } from './admin.ts';

const token = `tba-${'k'.repeat(30)}`;

type Run = { exitCode: number; output: string; errorOutput: string; urls: string[] };

async function run(
  argv: string[],
  answer: () => Response | Promise<Response>,
  environment: Record<string, string> = { TOKENBANK_ADMIN_TOKEN: token },
): Promise<Run> {
  const outputs = { output: '', errorOutput: '' };
  const urls: string[] = [];
  const io: AdminCommandIo = {
    environment,
    fetch: async (input) => {
      urls.push(String(input));
      return answer();
    },
    writeOutput: (text) => {
      outputs.output += text;
    },
    writeError: (text) => {
      outputs.errorOutput += text;
    },
  };
  const exitCode = await runAdmin(argv, io);
  return { exitCode, ...outputs, urls };
}

const priceList = {
  object: 'list',
  data: [
    {
      object: 'price',
      model: 'm',
      version: 2,
      region: null,
      input: '1.50',
      cached_input: '1.50',
      output: '2.000001',
      currency: 'CNY',
      effective_at: '2030-01-01T00:00:00.000Z',
      offpeak: null,
    },
  ],
};

function notFound(): Response {
  return Response.json(
    {
      error: {
        message: "No tenant with id 'x'.",
        type: 'invalid_request_error',
        param: null,
        code: 'not_found',
      },
    },
    { status: 404 },
  );
}

describe('runAdmin', () => {
  it('prints the raw answer with --json', async () => {
    const raw = '{"object":"list","data":[]}';
    const result = await run(['prices', 'list', '--json'], () => new Response(raw));
    expect(result).toEqual({
      exitCode: 0,
      output: `${raw}\n`,
      errorOutput: '',
      urls: ['http://127.0.0.1:8787/admin/v1/prices'],
    });
  });

  it('prints a table otherwise', async () => {
    const result = await run(['prices', 'list'], () => Response.json(priceList));
    expect(result.exitCode).toBe(0);
    expect(result.output.split('\n')[0]).toMatch(
      /^MODEL\s+REGION\s+VERSION\s+INPUT\s+CACHED INPUT\s+OUTPUT/,
    );
    expect(result.output.split('\n')[1]).toMatch(/^m\s+-\s+2\s+1\.50\s+1\.50\s+2\.000001\s+CNY/);
  });

  it('prints a CSV export exactly as the gateway sends it', async () => {
    const csv = 'request_id,cost\r\nreq_1,0.000001\r\n';
    const result = await run(
      ['usage', 'ten_1', '--csv'],
      () => new Response(csv, { headers: { 'content-type': 'text/csv; charset=utf-8' } }),
    );
    expect(result).toEqual({
      exitCode: 0,
      output: csv,
      errorOutput: '',
      urls: ['http://127.0.0.1:8787/admin/v1/tenants/ten_1/usage?format=csv'],
    });
  });

  it('exits 1 when the ledger check finds problems, as a table or as JSON', async () => {
    const answer = () =>
      Response.json({ ok: false, problems: ['account cash: bad'], accounts: 3, transactions: 1 });
    const [table, json] = await Promise.all([
      run(['ledger', 'check'], answer),
      run(['ledger', 'check', '--json'], answer),
    ]);
    expect(table).toMatchObject({
      exitCode: 1,
      output: 'not ok (3 accounts, 1 transactions): 1 problems\n  account cash: bad\n',
      errorOutput: '',
    });
    expect(json.exitCode).toBe(1);
    expect(JSON.parse(json.output)).toMatchObject({ ok: false });
  });

  it('exits 0 when the ledger check passes', async () => {
    const result = await run(['ledger', 'check'], () =>
      Response.json({ ok: true, problems: [], accounts: 3, transactions: 1 }),
    );
    expect(result).toMatchObject({ exitCode: 0, output: 'ok (3 accounts, 1 transactions)\n' });
  });

  it('reports an HTTP error as `error <status> <code>: <message>` and exits 1', async () => {
    const result = await run(['tenants', 'get', 'x'], notFound);
    expect(result).toMatchObject({
      exitCode: 1,
      output: '',
      errorOutput: "error 404 not_found: No tenant with id 'x'.\n",
    });
  });

  it('names the URL when the gateway cannot be reached', async () => {
    const refused = new TypeError('fetch failed', {
      cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
    });
    const result = await run(['backends', 'list', '--url', 'http://127.0.0.1:9999'], () =>
      Promise.reject(refused),
    );
    expect(result.exitCode).toBe(1);
    expect(result.errorOutput).toContain('cannot connect to the gateway at http://127.0.0.1:9999');
  });

  it('exits 2 without a token, before sending anything', async () => {
    const result = await run(['backends', 'list'], notFound, {});
    expect(result.exitCode).toBe(2);
    expect(result.errorOutput).toContain(
      'no admin token: set TOKENBANK_ADMIN_TOKEN or pass --token',
    );
    expect(result.urls).toEqual([]);
  });

  it('reports a bad flag value as a usage error with a pointer to the help', async () => {
    const result = await run(['keys', 'create', 'ten_1', '--rpm', 'many'], notFound);
    expect(result).toMatchObject({
      exitCode: 2,
      errorOutput: `tokenbank admin: --rpm must be a whole number, got "many"\nRun 'tokenbank admin keys create --help' for usage.\n`,
      urls: [],
    });
  });

  it('prints help on stdout and exits 0', async () => {
    const result = await run(['providers', '--help'], notFound);
    expect(result.exitCode).toBe(0);
    expect(result.output).toContain('Usage: tokenbank admin providers <action>');
  });

  it('never prints the admin token, whatever happens', async () => {
    const outcomes = await Promise.all([
      run(['tenants', 'get', 'x', '--token', token], notFound, {}),
      run(['tenants', 'list', '--token', token, '--url', 'ftp://nowhere'], notFound, {}),
      run(['tenants', 'list', '--token', token, '--bogus'], notFound, {}),
      run(['tenants', 'list'], () => new Response('<html>', { status: 200 })),
    ]);
    for (const outcome of outcomes) {
      expect(outcome.exitCode).not.toBe(0);
      expect(outcome.output + outcome.errorOutput).not.toContain(token);
    }
  });
});
