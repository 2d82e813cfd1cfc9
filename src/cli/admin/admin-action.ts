/**
 * The shape of one `tokenbank admin <resource> <action>` entry: its flags, the request it sends and
 * how its answer is printed. A resource may also run an action straight from its name
 * (`tokenbank admin topup TENANT_ID`). New admin resources are added as one more entry of this
 * shape in `admin-resources.ts`; the parser, help and runner need no change.
 */
import { assert } from '../../assert.ts';
import { UsageError } from '../gateway-flags.ts';
import type { ApiRequest } from './api-client.ts';

export type FlagSpec =
  | { kind: 'string'; placeholder: string; description: string; required?: boolean }
  | { kind: 'boolean'; description: string };

/** What a request builder reads: the positional arguments by name and the action's flags. */
export type ActionInput = {
  argument(name: string): string;
  text(flag: string): string | undefined;
  requiredText(flag: string): string;
  enabled(flag: string): boolean;
  /** A non-negative integer; ranges are the server's to check, so its message is the one shown. */
  integer(flag: string): number | undefined;
  requiredInteger(flag: string): number;
  /** A comma-separated list without empty items. */
  list(flag: string): string[] | undefined;
};

export type AdminAction = {
  summary: string;
  arguments?: readonly string[];
  flags?: Readonly<Record<string, FlagSpec>>;
  /** Extra paragraphs for the action's --help. */
  notes?: string;
  request(input: ActionInput): ApiRequest;
  /** The answer as text; a CSV answer (`response: 'csv'`) arrives as its text. */
  render(body: unknown): string;
  /** Whether a successful answer reports a failure (a ledger check with problems): exit 1. */
  answerFailed?(body: unknown): boolean;
};

export type AdminResource = {
  summary: string;
  actions: Readonly<Record<string, AdminAction>>;
  /**
   * Run when the word after the resource names none of its actions (`topup TENANT_ID`,
   * `ledger TENANT_ID` beside `ledger check`): every positional is then its argument.
   */
  direct?: AdminAction;
};

export type FlagValues = Readonly<Record<string, string | boolean | undefined>>;

/** A path segment from user input: `/`, `?` and `#` in ids or model names stay inside it. */
export function pathSegment(text: string): string {
  return encodeURIComponent(text);
}

const integerPattern = /^\d{1,15}$/;

export function createActionInput(
  action: AdminAction,
  positionals: readonly string[],
  values: FlagValues,
): ActionInput {
  const text = (flag: string): string | undefined => {
    const value = values[flag];
    return typeof value === 'string' ? value : undefined;
  };
  const requiredText = (flag: string): string => {
    const value = text(flag);
    if (value === undefined) {
      throw new UsageError(`--${flag} is required`);
    }
    return value;
  };
  const integer = (flag: string): number | undefined => {
    const value = text(flag);
    if (value === undefined) {
      return undefined;
    }
    if (!integerPattern.test(value)) {
      throw new UsageError(`--${flag} must be a whole number, got "${value}"`);
    }
    return Number(value);
  };
  return {
    argument(name) {
      const value = positionals[(action.arguments ?? []).indexOf(name)];
      assert(value !== undefined, `the action declares no argument ${name}`);
      return value;
    },
    text,
    requiredText,
    enabled: (flag) => values[flag] === true,
    integer,
    requiredInteger(flag) {
      const value = integer(flag);
      if (value === undefined) {
        throw new UsageError(`--${flag} is required`);
      }
      return value;
    },
    list(flag) {
      const value = text(flag);
      if (value === undefined) {
        return undefined;
      }
      const items = value.split(',').map((item) => item.trim());
      if (items.some((item) => item === '')) {
        throw new UsageError(`--${flag} must be items separated by commas, got "${value}"`);
      }
      return items;
    },
  };
}
