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

/** JSON lines to a sink, dropping events below `levelMin`. */
export function createJsonLogger(levelMin: LogLevel, write: (line: string) => void): Logger {
  return {
    log(level, event, fields) {
      if (levelRank[level] < levelRank[levelMin]) {
        return;
      }
      write(JSON.stringify({ time: new Date().toISOString(), level, event, ...fields }));
    },
  };
}

export const silentLogger: Logger = { log() {} };
