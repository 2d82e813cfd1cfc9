/**
 * The progress of a batch on stderr while `--wait` polls: a bar of requests done (completed or
 * failed) out of the total, the percentage, the counts and the status. On a terminal the one line
 * is redrawn in place; anywhere else (a log file, CI) a line is written only when something
 * changed, so a day-long wait leaves a readable log rather than thousands of identical lines.
 */
import { escapeControlCharacters } from '../admin/render-table.ts';
import { type Batch, doneCount } from './batch-object.ts';

const barWidthCharacters = 24;

/** `[##########--------------]  41%  10/24 done, 1 failed  in_progress`. */
export function renderProgressLine(batch: Batch): string {
  const status = escapeControlCharacters(batch.status);
  const counts = batch.request_counts;
  if (counts === null || counts === undefined || counts.total <= 0) {
    // Validating: the number of requests is not known yet.
    return `[${'-'.repeat(barWidthCharacters)}]     -  ${status}`;
  }
  const done = Math.min(doneCount(counts), counts.total);
  const filled = Math.floor((done * barWidthCharacters) / counts.total);
  const percent = Math.floor((done * 100) / counts.total);
  const bar = `${'#'.repeat(filled)}${'-'.repeat(barWidthCharacters - filled)}`;
  return `[${bar}]  ${`${percent}%`.padStart(4)}  ${done}/${counts.total} done, ${counts.failed} failed  ${status}`;
}

export type ProgressReporter = {
  show(batch: Batch): void;
  /** A message between progress lines (a poll that failed and will be tried again). */
  note(text: string): void;
  /** Ends the progress display; what follows starts on a line of its own. */
  finish(): void;
};

/** Erases from the cursor to the end of the line (ECMA-48 EL), after a carriage return. */
const redrawPrefix = '\r';
const eraseLineEnd = '\u001b[K';

export function createProgressReporter(
  writeError: (text: string) => void,
  terminal: boolean,
): ProgressReporter {
  let last: string | undefined;
  const endLine = () => {
    if (terminal && last !== undefined) {
      writeError('\n');
    }
  };
  return {
    show(batch) {
      const line = renderProgressLine(batch);
      if (terminal) {
        writeError(`${redrawPrefix}${line}${eraseLineEnd}`);
      } else if (line !== last) {
        writeError(`${line}\n`);
      }
      last = line;
    },
    note(text) {
      endLine();
      writeError(`${text}\n`);
      if (terminal && last !== undefined) {
        writeError(last);
      }
    },
    finish() {
      endLine();
      last = undefined;
    },
  };
}
