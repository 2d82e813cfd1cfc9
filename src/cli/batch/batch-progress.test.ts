import { describe, expect, it } from 'vitest';
import type { Batch } from './batch-object.ts';
import { createProgressReporter, renderProgressLine } from './batch-progress.ts';

function batch(status: string, completed?: number, failed = 0, total = 10): Batch {
  return {
    id: 'batch_1',
    status,
    ...(completed === undefined ? {} : { request_counts: { total, completed, failed } }),
  };
}

describe('renderProgressLine', () => {
  it.each([
    {
      name: 'a batch whose size is not known yet',
      batch: batch('validating'),
      line: '[------------------------]     -  validating',
    },
    {
      name: 'a batch that has not started',
      batch: batch('in_progress', 0),
      line: '[------------------------]    0%  0/10 done, 0 failed  in_progress',
    },
    {
      name: 'failed requests as done',
      batch: batch('in_progress', 3, 1),
      line: '[#########---------------]   40%  4/10 done, 1 failed  in_progress',
    },
    {
      name: 'rounding down until every request is done',
      batch: batch('in_progress', 2, 0, 3),
      line: '[################--------]   66%  2/3 done, 0 failed  in_progress',
    },
    {
      name: 'a full bar',
      batch: batch('completed', 10),
      line: '[########################]  100%  10/10 done, 0 failed  completed',
    },
    {
      name: 'counts beyond the total, clamped',
      batch: batch('finalizing', 12),
      line: '[########################]  100%  10/10 done, 0 failed  finalizing',
    },
    {
      name: 'control characters in a status',
      batch: batch('odd\u001b[2J', 1),
      line: '[##----------------------]   10%  1/10 done, 0 failed  odd\\u001b[2J',
    },
  ])('renders $name', ({ batch: shown, line }) => {
    expect(renderProgressLine(shown)).toBe(line);
  });
});

function recorder(terminal: boolean) {
  const writes: string[] = [];
  const reporter = createProgressReporter((text) => writes.push(text), terminal);
  return { writes, reporter };
}

describe('createProgressReporter', () => {
  it('writes a line per change when stderr is not a terminal', () => {
    const { writes, reporter } = recorder(false);
    reporter.show(batch('in_progress', 1));
    reporter.show(batch('in_progress', 1));
    reporter.show(batch('in_progress', 2));
    reporter.note('poll failed');
    reporter.show(batch('in_progress', 2));
    reporter.finish();
    expect(writes).toEqual([
      '[##----------------------]   10%  1/10 done, 0 failed  in_progress\n',
      '[####--------------------]   20%  2/10 done, 0 failed  in_progress\n',
      'poll failed\n',
    ]);
  });

  it('redraws one line on a terminal and ends it when finished', () => {
    const { writes, reporter } = recorder(true);
    reporter.show(batch('in_progress', 1));
    reporter.note('poll failed');
    reporter.show(batch('completed', 10));
    reporter.finish();
    const bar = '[##----------------------]   10%  1/10 done, 0 failed  in_progress';
    expect(writes).toEqual([
      `\r${bar}\u001b[K`,
      '\n',
      'poll failed\n',
      bar,
      '\r[########################]  100%  10/10 done, 0 failed  completed\u001b[K',
      '\n',
    ]);
  });

  it('writes nothing on a terminal when nothing was shown', () => {
    const { writes, reporter } = recorder(true);
    reporter.finish();
    expect(writes).toEqual([]);
  });
});
