/**
 * Who a family of API commands speaks for: `tokenbank admin` (the operator, admin token) and
 * `tokenbank provider` (a compute provider, its provider token). The parser, help, connection and
 * runner in this folder serve both; a family differs only in its name, its summary, its
 * credential and its command table.
 */

export type Credential = {
  /** The environment variable holding the token. */
  variable: string;
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
};

export const adminFamily: CommandFamily = {
  command: 'admin',
  summary: 'The admin API of a tokenbank gateway from the terminal.',
  credential: {
    variable: 'TOKENBANK_ADMIN_TOKEN',
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
    label: 'provider token',
    origin: 'the operator creates one with tokenbank admin providers create',
  },
};
