import { describe, expect, it } from 'vitest';
import { promptContentOf } from './prompt-content.ts';

describe('promptContentOf', () => {
  it('takes every string of the body but the model, nested keys included', () => {
    const content = promptContentOf({
      model: 'secret-model-name',
      messages: [{ role: 'user', content: 'hello' }],
      tools: [
        {
          type: 'function',
          function: { name: 'lookup', parameters: { city: { type: 'string' } } },
        },
      ],
      response_format: { type: 'json_schema', json_schema: { name: 'answer' } },
      stop: ['END'],
      documents: [{ text: 'a long document' }],
    });
    const texts = new Set(content.texts);
    for (const expected of [
      'hello',
      'user',
      'lookup',
      'city',
      'answer',
      'END',
      'a long document',
    ]) {
      expect(
        [...texts].some((text) => text.includes(expected)),
        expected,
      ).toBe(true);
    }
    expect([...texts].some((text) => text.includes('secret-model-name'))).toBe(false);
  });

  it('counts image parts apart and does not read their bytes as text', () => {
    const content = promptContentOf({
      model: 'm',
      messages: [
        {
          role: 'user',
          content: [
            {
              type: 'image_url',
              image_url: { url: `data:image/png;base64,${'A'.repeat(10_000)}` },
            },
            { type: 'input_image', image_url: 'https://example.com/a.png' },
          ],
        },
      ],
    });
    expect(content.imageCount).toBe(2);
    expect(content.texts.join('').length).toBeLessThan(100);
  });

  it('counts a million token ids without overflowing the call stack', () => {
    const ids = Array.from({ length: 1_000_000 }, (_, index) => index % 50_000);
    expect(promptContentOf({ model: 'm', prompt: ids }).tokenIdCount).toBe(1_000_000);
    expect(promptContentOf({ model: 'm', input: [[1, 2], [3]] }).tokenIdCount).toBe(3);
  });
});
