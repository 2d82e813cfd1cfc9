import { describe, expect, it } from 'vitest';
import type { CommandIo } from '../admin/run-api-command.ts';
import { runProvider } from './provider.ts';

const token = `tbp-${'q'.repeat(30)}`;

type Sent = { method: string; url: string; body: unknown; authorization: string | null };

async function run(argv: string[], answer: unknown = { object: 'backend', id: 'bkd_1' }) {
  const sent: Sent[] = [];
  let output = '';
  let errorOutput = '';
  const io: CommandIo = {
    environment: {
      TOKENBANK_PROVIDER_TOKEN: token,
      TOKENBANK_ADMIN_TOKEN: 'tba-not-this-one-000000000',
    },
    fetch: async (input, init) => {
      const headers = new Headers(init?.headers);
      sent.push({
        method: init?.method ?? 'GET',
        url: String(input),
        body: typeof init?.body === 'string' ? JSON.parse(init.body) : undefined,
        authorization: headers.get('authorization'),
      });
      return Response.json(answer);
    },
    writeOutput: (text) => {
      output += text;
    },
    writeError: (text) => {
      errorOutput += text;
    },
  };
  const exitCode = await runProvider(argv, io);
  return { exitCode, sent, output, errorOutput };
}

describe('tokenbank provider: the requests sent', () => {
  it('registers a backend with the provider token and the body of the API', async () => {
    const { exitCode, sent } = await run([
      'backends',
      'add',
      '--backend-url',
      'https://gpu1.example.com/v1',
      '--region',
      'cn-east',
      '--models',
      'm1, m2',
      '--slots',
      '16',
    ]);
    expect(exitCode).toBe(0);
    expect(sent).toEqual([
      {
        method: 'POST',
        url: 'http://127.0.0.1:8787/provider/v1/backends',
        body: {
          url: 'https://gpu1.example.com/v1',
          region: 'cn-east',
          models: ['m1', 'm2'],
          slots: 16,
        },
        authorization: `Bearer ${token}`,
      },
    ]);
  });

  it('updates, drains and removes by id, and reads earnings for a range', async () => {
    const update = await run([
      'backends',
      'update',
      'bkd_1',
      '--slots',
      '2',
      '--region',
      'cn-west',
    ]);
    expect(update.sent[0]).toMatchObject({
      method: 'PATCH',
      url: 'http://127.0.0.1:8787/provider/v1/backends/bkd_1',
      body: { slots: 2, region: 'cn-west' },
    });
    const drain = await run(['backends', 'drain', 'bkd/1']);
    expect(drain.sent[0]).toMatchObject({
      method: 'PATCH',
      url: 'http://127.0.0.1:8787/provider/v1/backends/bkd%2F1',
      body: { state: 'draining' },
    });
    const remove = await run(['backends', 'remove', 'bkd_1']);
    expect(remove.sent[0]).toMatchObject({ method: 'DELETE', body: undefined });
    const earnings = await run(['earnings', '--from', '2026-11-01T00:00:00Z'], {
      object: 'list',
      data: [],
      total_earned: '0.00',
      total_paid: '0.00',
      unpaid: '1.25',
      currency: 'CNY',
    });
    expect(earnings.sent[0]?.url).toBe(
      'http://127.0.0.1:8787/provider/v1/earnings?from=2026-11-01T00%3A00%3A00Z',
    );
    expect(earnings.output).toBe(
      'no earnings in this range\ntotal earned: 0.00 CNY\ntotal paid: 0.00 CNY\nunpaid (owed now): 1.25 CNY\n',
    );
  });

  it('refuses a bad flag before sending anything, naming the provider command', async () => {
    const { exitCode, sent, errorOutput } = await run(['backends', 'add', '--region', 'x']);
    expect(exitCode).toBe(2);
    expect(sent).toEqual([]);
    expect(errorOutput).toMatch(/^tokenbank provider: --backend-url is required\n/);
    expect(errorOutput).toContain('Usage: tokenbank provider backends add --backend-url URL');
  });
});
