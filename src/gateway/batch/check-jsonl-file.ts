/**
 * What an uploaded batch input must be before it is stored: UTF-8 text of JSON lines, at least one
 * line and at most `linesMax`. The file is read in slices (UTF-8 decoded in streaming mode, lines
 * found with the native indexOf), so a file of 100 MB never becomes one string. Each line's JSON
 * is read when a batch runs it; blank lines are not counted.
 */
import { GatewayError } from '../../errors.ts';

/** Bytes validated per slice: large enough for native speed, small enough to hold no big string. */
const sliceBytes = 1024 * 1024;

const newline = 0x0a;

/** Space, tab and carriage return: a line of only these is blank. */
function isBlankByte(byte: number | undefined): boolean {
  return byte === 0x20 || byte === 0x09 || byte === 0x0d;
}

function invalidFile(message: string): GatewayError {
  return new GatewayError('invalid_request', message, { param: 'file' });
}

/** Throws unless `content` is valid UTF-8 from end to end. */
function checkUtf8(content: Uint8Array): void {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  try {
    for (let offset = 0; offset < content.byteLength; offset += sliceBytes) {
      decoder.decode(content.subarray(offset, offset + sliceBytes), { stream: true });
    }
    decoder.decode();
  } catch {
    throw invalidFile('The file is not valid UTF-8 text; a batch input file is UTF-8 JSON lines.');
  }
}

/** Lines holding anything but spaces, tabs and carriage returns. */
function countLines(content: Uint8Array): number {
  let lines = 0;
  let start = 0;
  while (start < content.byteLength) {
    const found = content.indexOf(newline, start);
    const end = found === -1 ? content.byteLength : found;
    let first = start;
    while (first < end && isBlankByte(content[first])) {
      first += 1;
    }
    if (first < end) {
      lines += 1;
    }
    start = end + 1;
  }
  return lines;
}

/** Refuses (400, param `file`) an empty file, too many lines, or bytes that are not UTF-8. */
export function checkJsonlFile(content: Uint8Array, linesMax: number): { lineCount: number } {
  if (content.byteLength === 0) {
    throw invalidFile('The file is empty; a batch input file holds one request per line.');
  }
  const lineCount = countLines(content);
  if (lineCount === 0) {
    throw invalidFile(
      'The file has only blank lines; a batch input file holds one request per line.',
    );
  }
  if (lineCount > linesMax) {
    throw invalidFile(
      `The file has ${lineCount} lines; a batch input file may have at most ${linesMax} (batchLinesMax).`,
    );
  }
  checkUtf8(content);
  return { lineCount };
}
