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

function redacted(fields: LogFields | undefined): LogFields | undefined {
  if (fields === undefined) {
    return undefined;
  }
  const clean: LogFields = {};
  for (const [name, value] of Object.entries(fields)) {
    // Most fields are short ids and names: only a text that could hold a credential is searched.
    clean[name] =
      typeof value === 'string' && value.length >= credentialLengthMin && value.includes('tb')
        ? value.replace(credentialPattern, '[redacted credential]')
        : value;
  }
  return clean;
}

/** JSON lines to a sink, dropping events below `levelMin`; credentials are redacted. */
export function createJsonLogger(levelMin: LogLevel, write: (line: string) => void): Logger {
  return {
    log(level, event, fields) {
      if (levelRank[level] < levelRank[levelMin]) {
        return;
      }
      write(JSON.stringify({ time: new Date().toISOString(), level, event, ...redacted(fields) }));
    },
  };
}

export const silentLogger: Logger = { log() {} };
