import { describe, expect, it } from 'vitest';
import { defaultLanguage } from './i18n.ts';
import { messages } from './messages.ts';

describe('console language', () => {
  it('is Chinese when the browser asks for Chinese first, English otherwise', () => {
    expect(defaultLanguage(['zh-CN', 'en'])).toBe('zh');
    expect(defaultLanguage(['zh-TW'])).toBe('zh');
    expect(defaultLanguage(['en-US', 'zh-CN'])).toBe('en');
    expect(defaultLanguage(['fr-FR', 'zh'])).toBe('zh');
    expect(defaultLanguage(['fr-FR'])).toBe('en');
  });

  it('has every message in both languages, with the same placeholders', () => {
    for (const [id, message] of Object.entries(messages)) {
      expect(message.en.length, id).toBeGreaterThan(0);
      expect(message.zh.length, id).toBeGreaterThan(0);
      const placeholders = (text: string) =>
        [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
      expect(placeholders(message.zh), id).toEqual(placeholders(message.en));
    }
  });
});
