/**
 * The console's language (Chinese or English) and how it writes times. Chinese is the default
 * when the browser asks for it; a choice made in the console is remembered in localStorage (a
 * preference, not a secret). Times are shown in the user's own timezone, as the browser knows it.
 */
import { type MessageId, messages } from './messages.ts';

export type Language = 'en' | 'zh';

const languageStorageKey = 'tokenbank.console.language';

let current: Language = 'en';

/** The language a browser asking for `preferred` (navigator.languages) gets by default. */
export function defaultLanguage(preferred: readonly string[]): Language {
  const first = preferred.find((tag) => /^(zh|en)\b/i.test(tag));
  return first?.toLowerCase().startsWith('zh') === true ? 'zh' : 'en';
}

export function initialLanguage(): Language {
  const stored = localStorage.getItem(languageStorageKey);
  if (stored === 'en' || stored === 'zh') {
    return stored;
  }
  return defaultLanguage(
    navigator.languages.length > 0 ? navigator.languages : [navigator.language],
  );
}

export function setLanguage(language: Language, remember: boolean): void {
  current = language;
  document.documentElement.lang = language === 'zh' ? 'zh-CN' : 'en';
  if (remember) {
    localStorage.setItem(languageStorageKey, language);
  }
}

export function language(): Language {
  return current;
}

/** The message in the current language, with `{name}` filled from `values`. */
export function t(id: MessageId, values: Record<string, string | number> = {}): string {
  return messages[id][current].replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in values ? String(values[name]) : whole,
  );
}

function locale(): string {
  return current === 'zh' ? 'zh-CN' : 'en';
}

/** An RFC 3339 time (or Unix seconds) in the user's timezone; null is "never". */
export function formatTime(time: string | number | null): string {
  if (time === null) {
    return t('never');
  }
  const date = typeof time === 'number' ? new Date(time * 1000) : new Date(time);
  return new Intl.DateTimeFormat(locale(), { dateStyle: 'medium', timeStyle: 'short' }).format(
    date,
  );
}

/** A count of tokens or requests, grouped for reading (never money: that stays a string). */
export function formatCount(count: number): string {
  return new Intl.NumberFormat(locale()).format(count);
}

const couponKindMessages: Record<string, MessageId> = {
  compute: 'couponKind_compute',
  storage: 'couponKind_storage',
  transport: 'couponKind_transport',
};

/** A coupon kind (or meter kind) in words; a kind this console does not know shows as it is. */
export function couponKindText(kind: string): string {
  const id = couponKindMessages[kind];
  return id === undefined ? kind : t(id);
}
