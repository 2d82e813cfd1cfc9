/**
 * Who a family of API commands speaks for: `tokenbank admin` (the operator, admin token),
 * `tokenbank provider` (a compute provider, its provider token) and `tokenbank batch` (a tenant's
 * app, its API key). The parser, help, connection and runner in this folder serve admin and
 * provider, which differ only in their name, summary, credential and command table; batch has
 * commands of its own (`cli/batch/`) and shares the connection, client, help and rendering.
 */

export type Credential = {
  /** The environment variable holding the token. */
  variable: string;
  /** The flag that gives it instead (`token` for --token) and its value in the help (`T`). */
  flag: string;
  placeholder: string;
  /** What the token is called in messages: `admin token`. */
  label: string;
  /** Where a user gets one, for the message when it is missing. */
  origin: string;
};

export type CommandFamily = {
  /** The word after `tokenbank`. */
  command: string;
  /** The first line of the family's help. */
  summary: string;
  credential: Credential;
  /** The help's exit status line, when the family's commands have more outcomes than done/failed. */
  exitStatus?: string;
};

export const adminFamily: CommandFamily = {
  command: 'admin',
  summary: 'The admin API of a tokenbank gateway from the terminal.',
  credential: {
    variable: 'TOKENBANK_ADMIN_TOKEN',
    flag: 'token',
    placeholder: 'T',
    label: 'admin token',
    origin: 'tokenbank serve prints one on its first start',
  },
};

export const providerFamily: CommandFamily = {
  command: 'provider',
  summary:
    "A compute provider's API of a tokenbank gateway from the terminal: its own backends and earnings.",
  credential: {
    variable: 'TOKENBANK_PROVIDER_TOKEN',
    flag: 'token',
    placeholder: 'T',
    label: 'provider token',
    origin: 'the operator creates one with tokenbank admin providers create',
  },
};

export const batchFamily: CommandFamily = {
  command: 'batch',
  summary: "Batches of requests through the gateway's Batch API, with a tenant's API key.",
  credential: {
    variable: 'TOKENBANK_API_KEY',
    flag: 'key',
    placeholder: 'K',
    label: 'API key',
    origin: 'the operator creates one with tokenbank admin keys create',
  },
  exitStatus: [
    'Exit status: 0 done, 1 the request failed, 2 usage error, 3 the batch failed, expired or was',
    'cancelled, 4 it has not finished (no results yet, or --wait gave up).',
  ].join('\n'),
};
