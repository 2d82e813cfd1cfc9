import { describe, expect, it } from 'vitest';
import { type Batch, batchSchema } from './batch-object.ts';
import { formatTime, renderBatchList, renderBatchSummary, usageText } from './render-batch.ts';

const completed: Batch = batchSchema.parse({
  id: 'batch_1',
  object: 'batch',
  endpoint: '/v1/chat/completions',
  errors: null,
  input_file_id: 'file-in',
  completion_window: '24h',
  status: 'completed',
  output_file_id: 'file-out',
  error_file_id: 'file-err',
  created_at: 1_764_150_000,
  in_progress_at: 1_764_150_060,
  finalizing_at: null,
  completed_at: '2025-11-26T09:50:00Z',
  failed_at: null,
  expired_at: null,
  cancelling_at: null,
  cancelled_at: null,
  expires_at: 1_764_236_400,
  request_counts: { total: 10, completed: 9, failed: 1 },
  metadata: { job: 'nightly' },
  usage: { input_tokens: 1200, output_tokens: 340, total_tokens: 1540 },
  cost: '0.001234',
});

describe('renderBatchSummary', () => {
  it('shows counts, cost, usage, the times that are set and the file ids', () => {
    expect(renderBatchSummary(completed)).toBe(
      [
        'id:          batch_1',
        'status:      completed',
        'endpoint:    /v1/chat/completions',
        'requests:    10 total, 9 completed, 1 failed',
        'cost:        0.001234',
        'usage:       1200 input + 340 output = 1540 tokens',
        'input file:  file-in',
        'output file: file-out',
        'error file:  file-err',
        'created:     2025-11-26T09:40:00.000Z',
        'in progress: 2025-11-26T09:41:00.000Z',
        'completed:   2025-11-26T09:50:00Z',
        'expires:     2025-11-27T09:40:00.000Z',
        'metadata:    job=nightly',
        'errors:      -',
        '',
      ].join('\n'),
    );
  });

  it('shows what the gateway did not report as "-", never as 0, and validation errors as a table', () => {
    const failed = batchSchema.parse({
      id: 'batch_2',
      status: 'failed',
      errors: {
        object: 'list',
        data: [
          { code: 'invalid_url', message: 'url must be /v1/embeddings', line: 3, param: 'url' },
        ],
      },
    });
    const text = renderBatchSummary(failed);
    expect(text).toContain('requests:    -\n');
    expect(text).toContain('usage:       -\n');
    expect(text).toContain('cost:        -\n');
    expect(text).toContain(
      '\nerrors:\nLINE  CODE         PARAM  MESSAGE\n3     invalid_url  url    url must be /v1/embeddings\n',
    );
  });
});

describe('usageText', () => {
  it('marks a part the gateway left out', () => {
    expect(usageText({ input_tokens: 5 })).toBe('5 input + ? output = ? tokens');
  });
});

describe('formatTime', () => {
  it('reads unix seconds and keeps an RFC 3339 string as written', () => {
    expect(formatTime(0)).toBe('1970-01-01T00:00:00.000Z');
    expect(formatTime('2026-01-01T00:00:00Z')).toBe('2026-01-01T00:00:00Z');
  });
});

describe('renderBatchList', () => {
  it('shows one row per batch and how to get the next page', () => {
    const text = renderBatchList({
      data: [completed, batchSchema.parse({ id: 'batch_2', status: 'validating' })],
      has_more: true,
      last_id: 'batch_2',
    });
    expect(text).toBe(
      [
        'ID       STATUS      ENDPOINT              DONE   FAILED  COST      CREATED',
        'batch_1  completed   /v1/chat/completions  10/10  1       0.001234  2025-11-26T09:40:00.000Z',
        'batch_2  validating  -                     -      -       -         -',
        'more: --after batch_2',
        '',
      ].join('\n'),
    );
  });

  it('says when there are none', () => {
    expect(renderBatchList({ data: [] })).toBe('no batches\n');
  });
});
