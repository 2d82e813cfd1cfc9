import { describe, expect, it } from 'vitest';
import { couponKindText, defaultLanguage, t } from './i18n.ts';
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

  it('fills placeholders and names coupon kinds, showing an unknown kind as it is', () => {
    expect(t('signedInAs', { kind: 'tenant' })).toBe('Signed in as tenant');
    expect(couponKindText('storage')).toBe('Storage');
    expect(couponKindText('gpu-minutes')).toBe('gpu-minutes');
  });
});
