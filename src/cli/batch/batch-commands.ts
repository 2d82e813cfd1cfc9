/**
 * What `tokenbank batch` offers: each command's arguments, flags and help, and what it is once
 * read (a BatchCommand the runner acts on). The help and the parser are both written from this
 * table, so a flag added here is documented and accepted in one change.
 */
import type { FlagSpec } from '../admin/admin-action.ts';
import type { CommandDescription } from '../admin/admin-help.ts';

/** The endpoints a batch may run, as the contract lists them. */
export const batchEndpoints = ['/v1/chat/completions', '/v1/embeddings', '/v1/responses'] as const;

export type BatchEndpoint = (typeof batchEndpoints)[number];

/** How long `--wait` polls and how often. */
export type WaitOptions = { intervalMs: number; timeoutMs: number };

export type BatchCommand =
  | {
      kind: 'submit';
      file: string;
      endpoint: BatchEndpoint;
      completionWindow: string;
      metadata: Record<string, string> | undefined;
      wait: WaitOptions | undefined;
    }
  | { kind: 'status'; batchId: string; wait: WaitOptions | undefined }
  | {
      kind: 'results';
      batchId: string;
      outputPath: string | undefined;
      errorsPath: string | undefined;
    }
  | { kind: 'list'; limit: number | undefined; after: string | undefined }
  | { kind: 'cancel'; batchId: string };

export type BatchCommandName = BatchCommand['kind'];

/** A flag of a batch command; a repeatable one is given once per value (`--metadata a=1 --metadata b=2`). */
export type BatchFlagSpec = FlagSpec & { repeatable?: boolean };

export type BatchCommandDescription = CommandDescription & {
  flags?: Readonly<Record<string, BatchFlagSpec>>;
};

export const intervalSecondsDefault = 2;
export const intervalSecondsRange = { min: 0.5, max: 600 } as const;
/** The 24 h completion window and an hour to finalize: by then a batch has ended, one way or another. */
export const waitTimeoutSecondsDefault = 90_000;
export const waitTimeoutSecondsMax = 7 * 24 * 3600;

const waitFlags: Readonly<Record<string, BatchFlagSpec>> = {
  wait: {
    kind: 'boolean',
    description: 'poll until the batch ends, with a progress bar on stderr',
  },
  'interval-s': {
    kind: 'string',
    placeholder: 'S',
    description: `seconds between polls with --wait (default ${intervalSecondsDefault}, ${intervalSecondsRange.min} to ${intervalSecondsRange.max})`,
  },
  'timeout-s': {
    kind: 'string',
    placeholder: 'S',
    description: `give up waiting after S seconds (default ${waitTimeoutSecondsDefault}: 25 hours); the batch runs on`,
  },
};

export const batchCommands: Readonly<Record<BatchCommandName, BatchCommandDescription>> = {
  submit: {
    summary: 'upload a JSONL file of requests and start a batch on it; prints the batch id',
    arguments: ['FILE'],
    flags: {
      endpoint: {
        kind: 'string',
        placeholder: 'PATH',
        description: `what every line calls: ${batchEndpoints.join(', ')}`,
        required: true,
      },
      'completion-window': {
        kind: 'string',
        placeholder: 'W',
        description: 'time the batch may take (default 24h, the only window offered)',
      },
      metadata: {
        kind: 'string',
        placeholder: 'KEY=VALUE',
        description: 'a label kept with the batch; repeat the flag for more',
        repeatable: true,
      },
      ...waitFlags,
    },
    notes: [
      'FILE has one request per line: {"custom_id": "...", "method": "POST", "url": "<the',
      'endpoint>", "body": {...}}. Lines run when capacity is spare and prices are low (off-peak),',
      'and before the completion window ends in any case.',
    ].join('\n'),
  },
  status: {
    summary: 'show a batch: status, request counts, cost, usage, times and file ids',
    arguments: ['BATCH_ID'],
    flags: waitFlags,
    notes: [
      'With --wait the progress bar is redrawn when stderr is a terminal; otherwise one line is',
      'written per change, so logs stay readable.',
    ].join('\n'),
  },
  results: {
    summary: "download a batch's output (and its error lines) to files or stdout",
    arguments: ['BATCH_ID'],
    flags: {
      output: {
        kind: 'string',
        placeholder: 'FILE',
        description: 'write the output lines here (default stdout)',
      },
      errors: {
        kind: 'string',
        placeholder: 'FILE',
        description: 'write the failed lines here (default stdout, after the output)',
      },
    },
    notes: [
      'Both files are JSON lines {id, custom_id, response, error}, matched to the input by',
      'custom_id. With --json a summary of what was written is printed instead: give --output',
      'and --errors.',
    ].join('\n'),
  },
  list: {
    summary: "list this key's tenant's batches, newest first",
    flags: {
      limit: { kind: 'string', placeholder: 'N', description: 'batches per page' },
      after: { kind: 'string', placeholder: 'ID', description: 'the page after this batch' },
    },
  },
  cancel: {
    summary: 'stop a batch: lines not yet started do not run; it ends cancelled',
    arguments: ['BATCH_ID'],
  },
};

export function isBatchCommandName(name: string): name is BatchCommandName {
  return Object.hasOwn(batchCommands, name);
}
