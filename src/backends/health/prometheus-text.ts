/**
 * A small reader of the Prometheus text exposition format, enough for the load gauges of
 * inference servers: one sample per line, `name{label="value",...} value [timestamp]`, comments
 * and blank lines skipped, label values unescaped. A client library would parse far more than the
 * three or four series the router reads (research/routing.md §6.9); malformed lines are skipped,
 * never guessed at.
 */

export type PrometheusSample = {
  name: string;
  labels: Record<string, string>;
  value: number;
};

const namePattern = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;

/** Samples of the families in `names` (all when omitted), in the order they appear. */
export function parsePrometheusText(text: string, names?: ReadonlySet<string>): PrometheusSample[] {
  const samples: PrometheusSample[] = [];
  for (const rawLine of text.split('\n')) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#')) {
      continue;
    }
    const name = namePattern.exec(line)?.[0];
    if (name === undefined || (names !== undefined && !names.has(name))) {
      continue;
    }
    const sample = parseSampleLine(line, name);
    if (sample !== undefined) {
      samples.push(sample);
    }
  }
  return samples;
}

function parseSampleLine(line: string, name: string): PrometheusSample | undefined {
  let position = name.length;
  let labels: Record<string, string> = {};
  if (line[position] === '{') {
    const parsed = parseLabels(line, position + 1);
    if (parsed === undefined) {
      return undefined;
    }
    labels = parsed.labels;
    position = parsed.end;
  }
  const fields = line.slice(position).trim().split(/\s+/);
  const value = parseSampleValue(fields[0] ?? '');
  return value === undefined ? undefined : { name, labels, value };
}

/** Reads `label="value",...}` from `start`; returns the labels and the index after the brace. */
function parseLabels(
  line: string,
  start: number,
): { labels: Record<string, string>; end: number } | undefined {
  const labels: Record<string, string> = {};
  let position = start;
  for (;;) {
    while (line[position] === ' ' || line[position] === ',') {
      position += 1;
    }
    if (line[position] === '}') {
      return { labels, end: position + 1 };
    }
    const equals = line.indexOf('=', position);
    let quote = equals + 1;
    while (line[quote] === ' ') {
      quote += 1;
    }
    if (equals === -1 || line[quote] !== '"') {
      return undefined;
    }
    const labelName = line.slice(position, equals).trim();
    const read = readQuoted(line, quote + 1);
    if (read === undefined) {
      return undefined;
    }
    labels[labelName] = read.value;
    position = read.end;
  }
}

/** Reads an escaped label value up to its closing quote. */
function readQuoted(line: string, start: number): { value: string; end: number } | undefined {
  let value = '';
  for (let position = start; position < line.length; position += 1) {
    const character = line[position];
    if (character === '"') {
      return { value, end: position + 1 };
    }
    if (character === '\\') {
      const escaped = line[position + 1];
      value += escaped === 'n' ? '\n' : (escaped ?? '');
      position += 1;
    } else {
      value += character;
    }
  }
  return undefined;
}

function parseSampleValue(text: string): number | undefined {
  if (text === 'NaN' || text === '') {
    return undefined;
  }
  if (text === '+Inf' || text === 'Inf') {
    return Number.POSITIVE_INFINITY;
  }
  if (text === '-Inf') {
    return Number.NEGATIVE_INFINITY;
  }
  const value = Number(text);
  return Number.isNaN(value) ? undefined : value;
}
