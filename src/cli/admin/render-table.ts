/**
 * Text rendering of admin API answers for a terminal: aligned tables for lists and `key: value`
 * lines for one record. The values come from the server and may hold anything a client typed, so
 * control characters are escaped before they reach the terminal (a tenant name must not be able
 * to move the cursor or recolour the screen).
 */

export type JsonRecord = Record<string, unknown>;

export type Column = { header: string; value(row: JsonRecord): unknown };

export function isRecord(value: unknown): value is JsonRecord {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The items of a `{object: "list", data: [...]}` answer. */
export function listItems(body: unknown): JsonRecord[] {
  if (!isRecord(body) || !Array.isArray(body.data)) {
    return [];
  }
  return body.data.filter(isRecord);
}

/** A column showing one field of each row. */
export function column(header: string, field: string): Column {
  return { header, value: (row) => row[field] };
}

export function escapeControlCharacters(text: string): string {
  return text.replace(
    /\p{Cc}/gu,
    (character) => `\\u${(character.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`,
  );
}

/** One JSON value as text: null is "-", lists join with commas, objects become key=value pairs. */
export function formatValue(value: unknown): string {
  if (value === null || value === undefined) {
    return '-';
  }
  if (Array.isArray(value)) {
    return value.length === 0 ? '-' : value.map(formatValue).join(',');
  }
  if (isRecord(value)) {
    return Object.entries(value)
      .map(([key, item]) => `${escapeControlCharacters(key)}=${formatValue(item)}`)
      .join(' ');
  }
  return escapeControlCharacters(String(value));
}

/** Columns padded to their widest cell, two spaces apart, a header line first. */
export function renderTable(rows: readonly JsonRecord[], columns: readonly Column[]): string {
  const lines = [
    columns.map((each) => each.header),
    ...rows.map((row) => columns.map((each) => formatValue(each.value(row)))),
  ];
  const widths = columns.map((_, index) =>
    Math.max(...lines.map((line) => line[index]?.length ?? 0)),
  );
  const text = lines.map((line) =>
    line
      .map((cell, index) => cell.padEnd(widths[index] ?? 0))
      .join('  ')
      .trimEnd(),
  );
  return `${text.join('\n')}\n`;
}

/** A list as a table, or one line saying it is empty. */
export function renderList(body: unknown, columns: readonly Column[], noun: string): string {
  const rows = listItems(body);
  return rows.length === 0 ? `no ${noun}\n` : renderTable(rows, columns);
}

/**
 * One record as aligned `key: value` lines, in the server's field order so that fields added to
 * the API appear without a change here. Lists of records (a tenant's coupons) follow as tables.
 */
export function renderRecord(body: unknown): string {
  if (!isRecord(body)) {
    return `${formatValue(body)}\n`;
  }
  const entries = Object.entries(body).filter(([key]) => key !== 'object');
  const scalars = entries.filter(([, value]) => !isRecordList(value));
  const width = Math.max(0, ...scalars.map(([key]) => key.length + 1));
  const lines = scalars.map(
    ([key, value]) => `${`${escapeControlCharacters(key)}:`.padEnd(width)} ${formatValue(value)}`,
  );
  const tables = entries.flatMap(([key, value]) =>
    isRecordList(value) ? [`\n${escapeControlCharacters(key)}:\n${renderAnyRecords(value)}`] : [],
  );
  return `${lines.join('\n')}\n${tables.join('')}`;
}

/**
 * An answer that carries a secret shown only this once (an API key, a provider token): the secret
 * alone on its own line where it is easy to copy, then the rest of the record.
 */
export function renderSecretRecord(body: unknown, field: string, label: string): string {
  const record = isRecord(body) ? body : {};
  const rest = Object.fromEntries(Object.entries(record).filter(([key]) => key !== field));
  return [
    `${label} (shown only once: store it now, it cannot be shown again):`,
    '',
    `    ${formatValue(record[field])}`,
    '',
    renderRecord(rest),
  ].join('\n');
}

function isRecordList(value: unknown): value is JsonRecord[] {
  return Array.isArray(value) && value.length > 0 && value.every(isRecord);
}

/** Records of unknown shape: one column per field seen, in first-seen order. */
function renderAnyRecords(rows: JsonRecord[]): string {
  const fields = [...new Set(rows.flatMap((row) => Object.keys(row)))].filter(
    (field) => field !== 'object',
  );
  return renderTable(
    rows,
    fields.map((field) => column(escapeControlCharacters(field).toUpperCase(), field)),
  );
}
