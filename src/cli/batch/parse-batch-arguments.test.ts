import { describe, expect, it } from 'vitest';
import { parseBatchArguments } from './parse-batch-arguments.ts';

function run(argv: string[]) {
  const parsed = parseBatchArguments(argv);
  if (parsed.kind !== 'run') {
    throw new Error(`expected a command, got ${parsed.kind}: ${JSON.stringify(parsed)}`);
  }
  return parsed;
}

function usageError(argv: string[]): string {
  const parsed = parseBatchArguments(argv);
  if (parsed.kind !== 'usage-error') {
    throw new Error(`expected a usage error, got ${parsed.kind}`);
  }
  return parsed.message;
}

describe('parseBatchArguments', () => {
  it('reads submit with its defaults', () => {
    expect(run(['submit', 'requests.jsonl', '--endpoint', '/v1/embeddings'])).toEqual({
      kind: 'run',
      command: {
        kind: 'submit',
        file: 'requests.jsonl',
        endpoint: '/v1/embeddings',
        completionWindow: '24h',
        metadata: undefined,
        wait: undefined,
      },
      global: { url: undefined, token: undefined, json: false },
      helpCommand: 'tokenbank batch submit --help',
    });
  });

  it('reads repeated metadata, --wait with its interval and bound, and global flags anywhere', () => {
    const parsed = run([
      '--url',
      'http://gateway.test',
      'submit',
      '--metadata',
      'job=nightly',
      'requests.jsonl',
      '--metadata',
      'query=a=b',
      '--endpoint',
      '/v1/chat/completions',
      '--wait',
      '--interval-s',
      '0.5',
      '--timeout-s',
      '60',
      '--key',
      'tbk-flag',
      '--json',
    ]);
    expect(parsed.command).toMatchObject({
      file: 'requests.jsonl',
      metadata: { job: 'nightly', query: 'a=b' },
      wait: { intervalMs: 500, timeoutMs: 60_000 },
    });
    expect(parsed.global).toEqual({ url: 'http://gateway.test', token: 'tbk-flag', json: true });
  });

  it('waits every 2 s for at most 25 hours by default', () => {
    expect(run(['status', 'batch_1', '--wait']).command).toEqual({
      kind: 'status',
      batchId: 'batch_1',
      wait: { intervalMs: 2000, timeoutMs: 90_000_000 },
    });
  });

  it('reads results, list and cancel', () => {
    expect(run(['results', 'batch_1', '--output', 'out.jsonl']).command).toEqual({
      kind: 'results',
      batchId: 'batch_1',
      outputPath: 'out.jsonl',
      errorsPath: undefined,
    });
    expect(run(['list', '--limit', '5', '--after', 'batch_9']).command).toEqual({
      kind: 'list',
      limit: 5,
      after: 'batch_9',
    });
    expect(run(['cancel', 'batch_1']).command).toEqual({ kind: 'cancel', batchId: 'batch_1' });
  });

  it.each([
    { name: 'no command', argv: [], message: 'missing command' },
    { name: 'an unknown command', argv: ['start'], message: 'unknown command "start"' },
    { name: 'no file', argv: ['submit', '--endpoint', '/v1/embeddings'], message: 'missing FILE' },
    { name: 'no endpoint', argv: ['submit', 'f.jsonl'], message: '--endpoint is required' },
    {
      name: 'an endpoint batches do not run',
      argv: ['submit', 'f.jsonl', '--endpoint', '/v1/completions'],
      message:
        '--endpoint must be one of /v1/chat/completions, /v1/embeddings, /v1/responses, got "/v1/completions"',
    },
    {
      name: 'metadata without a key',
      argv: ['submit', 'f', '--endpoint', '/v1/embeddings', '--metadata', '=x'],
      message: '--metadata takes KEY=VALUE, got "=x"',
    },
    {
      name: 'a metadata key twice',
      argv: [
        'submit',
        'f',
        '--endpoint',
        '/v1/embeddings',
        '--metadata',
        'a=1',
        '--metadata',
        'a=2',
      ],
      message: '--metadata gives "a" twice',
    },
    {
      name: 'an interval without --wait',
      argv: ['status', 'batch_1', '--interval-s', '5'],
      message: '--interval-s and --timeout-s go with --wait',
    },
    {
      name: 'an interval too short',
      argv: ['status', 'batch_1', '--wait', '--interval-s', '0.1'],
      message: '--interval-s must be 0.5 to 600 seconds, got "0.1"',
    },
    {
      name: 'an interval that is not a number',
      argv: ['status', 'batch_1', '--wait', '--interval-s', '2s'],
      message: '--interval-s must be 0.5 to 600 seconds, got "2s"',
    },
    {
      name: 'a zero timeout',
      argv: ['status', 'batch_1', '--wait', '--timeout-s', '0'],
      message: '--timeout-s must be 1 to 604800 seconds, got "0"',
    },
    {
      name: 'a limit that is not a number',
      argv: ['list', '--limit', 'ten'],
      message: '--limit must be a whole number, got "ten"',
    },
    {
      name: 'one file for output and errors',
      argv: ['results', 'batch_1', '--output', 'a', '--errors', 'a'],
      message: '--output and --errors must be different files',
    },
    {
      name: 'a JSON summary with lines going to stdout too',
      argv: ['results', 'batch_1', '--output', 'a', '--json'],
      message:
        'with --json the summary goes to stdout: write the lines to files with --output and --errors',
    },
    {
      name: 'an unknown flag',
      argv: ['cancel', 'batch_1', '--force'],
      message: "Unknown option '--force'",
    },
    {
      name: 'an extra argument',
      argv: ['cancel', 'batch_1', 'batch_2'],
      message: 'unexpected argument "batch_2"',
    },
    {
      name: 'an admin token flag',
      argv: ['list', '--token', 'x'],
      message: "Unknown option '--token'",
    },
  ])('refuses $name', ({ argv, message }) => {
    expect(usageError(argv)).toBe(message);
  });

  it('shows the list of commands, and each command with its flags', () => {
    const top = parseBatchArguments(['--help']);
    expect(top.kind === 'help' && top.text).toContain('submit FILE');
    const submit = parseBatchArguments(['submit', '--help']);
    expect(submit.kind === 'help' && submit.text).toContain(
      'Usage: tokenbank batch submit FILE --endpoint PATH [--completion-window W] [--metadata KEY=VALUE] [--wait]',
    );
    expect(submit.kind === 'help' && submit.text).toContain('--key K');
  });
});
