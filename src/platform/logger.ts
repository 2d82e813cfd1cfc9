/**
 * Structured logging as a port. The core logs events with fields; the runtime decides where the
 * lines go. Secrets must never be passed in fields.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export type LogFields = Record<string, string | number | boolean | null | undefined>;

export type Logger = {
  log(level: LogLevel, event: string, fields?: LogFields): void;
};

const levelRank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/**
 * Our credentials by their prefixes (`tbk-`, `tbp-`, `tba-`): a last line of defence, should one
 * ever reach a log field by mistake (an error message quoting a header, say).
 */
const credentialPattern = /\btb[kpa]-[A-Za-z0-9]{8,}/g;
const credentialLengthMin = 12;

function redacted(value: string): string {
  // Most fields are short ids and names: only a text that could hold a credential is searched.
  return value.length >= credentialLengthMin && value.includes('tb')
    ? value.replace(credentialPattern, '[redacted credential]')
    : value;
}

/**
 * The line's time, formatted once per millisecond: a line per request and one per settlement
 * would otherwise each build a Date and its ISO text.
 */
function isoTimeFormatter(): () => string {
  let formattedAtMs = Number.NaN;
  let formatted = '';
  return () => {
    const nowMs = Date.now();
    if (nowMs !== formattedAtMs) {
      formattedAtMs = nowMs;
      formatted = new Date(nowMs).toISOString();
    }
    return formatted;
  };
}

/**
 * One JSON object per event: time, level, event, then the fields that are set, in their order
 * (a field left undefined is left out). Written field by field: the object spread and redacted
 * copy this replaced cost about twice as much on every request.
 */
function jsonLine(time: string, level: LogLevel, event: string, fields: LogFields | undefined) {
  let line = `{"time":"${time}","level":"${level}","event":${JSON.stringify(event)}`;
  for (const name in fields) {
    const value = fields[name];
    if (value !== undefined) {
      const clean = typeof value === 'string' ? redacted(value) : value;
      line += `,${JSON.stringify(name)}:${JSON.stringify(clean)}`;
    }
  }
  return `${line}}`;
}

/** JSON lines to a sink, dropping events below `levelMin`; credentials are redacted. */
export function createJsonLogger(levelMin: LogLevel, write: (line: string) => void): Logger {
  const rankMin = levelRank[levelMin];
  const isoTime = isoTimeFormatter();
  return {
    log(level, event, fields) {
      if (levelRank[level] >= rankMin) {
        write(jsonLine(isoTime(), level, event, fields));
      }
    },
  };
}

export const silentLogger: Logger = { log() {} };
