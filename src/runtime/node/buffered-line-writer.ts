/**
 * Log lines written once per event-loop turn instead of once each. Writes to stderr are
 * synchronous on Linux (one system call per line), and a gateway logs a line per request; here
 * the lines of a turn go out together, and whatever is pending is written before the process
 * exits. A hard kill loses at most the lines of the turn it interrupted: logs, never money.
 */

export type LineWriter = {
  write(line: string): void;
  /** Writes what is pending; the writer still takes lines afterwards. */
  flush(): void;
  /** Writes what is pending and stops waiting for the process to exit. */
  close(): void;
};

export function createBufferedLineWriter(
  writeText: (text: string) => void,
  /** Past this many pending bytes, the lines go out at once rather than at the end of the turn. */
  pendingBytesMax: number,
): LineWriter {
  let pending: string[] = [];
  let pendingBytes = 0;
  let scheduled = false;

  const flush = () => {
    scheduled = false;
    if (pending.length === 0) {
      return;
    }
    const text = `${pending.join('\n')}\n`;
    pending = [];
    pendingBytes = 0;
    writeText(text);
  };

  process.once('exit', flush);
  return {
    close() {
      flush();
      process.off('exit', flush);
    },
    write(line) {
      pending.push(line);
      pendingBytes += line.length + 1;
      if (pendingBytes >= pendingBytesMax) {
        flush();
        return;
      }
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    flush,
  };
}
