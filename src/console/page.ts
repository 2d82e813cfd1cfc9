/**
 * What a console page is: a function that reads what it needs from the API with the signed-in
 * credential and returns its element. The shell (console.ts) shows "loading" until it resolves
 * and the gateway's message if it fails.
 */
import type { ApiClient } from './api-client.ts';
import { element } from './dom.ts';
import { t } from './i18n.ts';
import type { MessageId } from './messages.ts';
import type { Session } from './session.ts';

export type PageContext = {
  api: ApiClient;
  session: Session;
  /** Shows the page again with fresh reads (after a write). */
  refresh: () => void;
};

export type Page = {
  /** The hash the page is found at (#tenant). */
  id: string;
  title: MessageId;
  render(context: PageContext): Promise<HTMLElement>;
};

/** The message of a failure, as the user should read it. */
export function failureText(error: unknown): string {
  return t('failed', { message: error instanceof Error ? error.message : String(error) });
}

/** Money as the API wrote it, with the currency: never reformatted, never rounded. */
export function money(amount: string, currency: string): HTMLElement {
  return element('span', { class: 'money' }, `${amount} ${currency}`);
}

/** A reference for a write the user makes once: the same form sent twice is one operation. */
export function freshReference(prefix: string): string {
  const random = new Uint32Array(2);
  crypto.getRandomValues(random);
  return `${prefix}-${Date.now().toString(36)}-${[...random].map((n) => n.toString(36)).join('')}`;
}
