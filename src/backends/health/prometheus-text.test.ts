import { describe, expect, it } from 'vitest';
import { parsePrometheusText } from './prometheus-text.ts';

describe('parsePrometheusText', () => {
  it('reads names, labels and values, and skips comments and blank lines', () => {
    const text = [
      '# HELP vllm:num_requests_running Number of requests in model execution batches.',
      '# TYPE vllm:num_requests_running gauge',
      '',
      'vllm:num_requests_running{model_name="qwen",engine="0"} 3',
      'vllm:num_requests_running{model_name="qwen",engine="1"} 4.5 1712345678000',
      'tgi_queue_size 2',
    ].join('\n');
    expect(parsePrometheusText(text)).toEqual([
      { name: 'vllm:num_requests_running', labels: { model_name: 'qwen', engine: '0' }, value: 3 },
      {
        name: 'vllm:num_requests_running',
        labels: { model_name: 'qwen', engine: '1' },
        value: 4.5,
      },
      { name: 'tgi_queue_size', labels: {}, value: 2 },
    ]);
  });

  it('unescapes label values and tolerates a trailing comma and spaces', () => {
    const text = 'm{path="a\\"b\\\\c\\nd", other = "x",} 1\r\n';
    expect(parsePrometheusText(text)).toEqual([
      { name: 'm', labels: { path: 'a"b\\c\nd', other: 'x' }, value: 1 },
    ]);
  });

  it('keeps only the families asked for', () => {
    const text = 'a 1\nb 2\nc 3';
    expect(parsePrometheusText(text, new Set(['b'])).map((sample) => sample.name)).toEqual(['b']);
  });

  it.each([
    ['NaN value', 'm NaN'],
    ['missing value', 'm{a="b"}'],
    ['unterminated labels', 'm{a="b" 1'],
    ['unquoted label value', 'm{a=b} 1'],
    ['text value', 'm one'],
  ])('skips a malformed line: %s', (_case, line) => {
    expect(parsePrometheusText(`${line}\nok 1`)).toEqual([{ name: 'ok', labels: {}, value: 1 }]);
  });

  it('reads infinities', () => {
    expect(parsePrometheusText('m +Inf\nn -Inf').map((sample) => sample.value)).toEqual([
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
    ]);
  });
});
