import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { limitsSchema } from '../../config.ts';
import { chatCompletionSchema, completionSchema, embeddingSchema } from './openai-requests.ts';
import {
  isPlainChatBody,
  isPlainCompletionBody,
  isPlainEmbeddingBody,
} from './plain-request-bodies.ts';

const limits = limitsSchema.parse({ messagesCountMax: 4, embeddingInputsMax: 3 });

/** Values near every bound the schemas check, and of every JSON type. */
const edgeValue = fc.constantFrom<unknown>(
  undefined,
  null,
  true,
  false,
  0,
  -0,
  1,
  1.5,
  -1,
  127,
  128,
  129,
  limits.outputTokensMax,
  limits.outputTokensMax + 1,
  2 ** 53,
  '',
  'm',
  'x'.repeat(64),
  'x'.repeat(65),
  'x'.repeat(256),
  'x'.repeat(257),
  '😀'.repeat(128),
  '😀'.repeat(129),
  [],
  ['a'],
  ['a', 'b', 'c', 'd'],
  ['a', 'b', 'c', 'd', 'e'],
  [1, 2],
  [[1, 2]],
  ['a', 1],
  {},
  { include_usage: true },
  { include_usage: 'yes' },
  { role: 'user', content: 'hi' },
);

/** Mostly a value the field takes in a common body, else an edge value. */
function mostly(common: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
  return fc.oneof({ arbitrary: common, weight: 5 }, { arbitrary: edgeValue, weight: 1 });
}

const message = mostly(
  fc.record({ role: mostly(fc.constantFrom('user', 'system')), content: fc.constant('hi') }),
);

const texts = mostly(fc.oneof(fc.string(), fc.array(fc.string(), { minLength: 1, maxLength: 3 })));

/** Bodies with every checked field absent, common, or at or past one of its bounds. */
function bodies(promptField: string, prompt: fc.Arbitrary<unknown>) {
  return fc.record(
    {
      model: mostly(fc.constant('bench-model')),
      [promptField]: prompt,
      stream: mostly(fc.boolean()),
      stream_options: mostly(fc.record({ include_usage: fc.boolean() }, { requiredKeys: [] })),
      max_tokens: mostly(fc.integer({ min: 1, max: 4096 })),
      max_completion_tokens: mostly(fc.integer({ min: 1, max: 4096 })),
      n: mostly(fc.integer({ min: 1, max: 4 })),
      best_of: mostly(fc.integer({ min: 1, max: 4 })),
      temperature: fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), edgeValue),
    },
    { requiredKeys: [] },
  );
}

const cases = [
  {
    name: 'chat',
    schema: chatCompletionSchema(limits),
    isPlain: isPlainChatBody,
    bodies: bodies('messages', mostly(fc.array(message, { minLength: 1, maxLength: 5 }))),
    typical: {
      model: 'bench-model',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: [{ type: 'text', text: 'hi' }] },
      ],
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: 64,
      temperature: 0.2,
    },
  },
  {
    name: 'completions',
    schema: completionSchema(limits),
    isPlain: isPlainCompletionBody,
    bodies: bodies('prompt', texts),
    typical: { model: 'bench-model', prompt: 'Once upon a time', max_tokens: 16, n: 2, best_of: 3 },
  },
  {
    name: 'embeddings',
    schema: embeddingSchema(limits),
    isPlain: isPlainEmbeddingBody,
    bodies: bodies('input', texts),
    typical: { model: 'bench-model', input: ['one', 'two'], encoding_format: 'float' },
  },
] as const;

describe.each(cases)('the plain $name body check', (testCase) => {
  it('passes the common body, which its schema accepts unchanged', () => {
    expect(testCase.isPlain(testCase.typical, limits)).toBe(true);
    expect(testCase.schema.parse(testCase.typical)).toEqual(testCase.typical);
  });

  it('passes only bodies its schema accepts, and as the schema would return them', () => {
    let passedCount = 0;
    fc.assert(
      fc.property(testCase.bodies, (body) => {
        if (!testCase.isPlain(body, limits)) {
          return;
        }
        passedCount += 1;
        const parsed = testCase.schema.safeParse(body);
        expect(parsed.success).toBe(true);
        expect(parsed.data).toEqual(body);
      }),
      { seed: 20261206, numRuns: 20_000 },
    );
    // The generated bodies must reach the pass side too, or this would check nothing.
    expect(passedCount).toBeGreaterThan(100);
  });

  it('refuses what is not a JSON object', () => {
    for (const value of [null, [], 'body', 1, [testCase.typical]]) {
      expect(testCase.isPlain(value, limits)).toBe(false);
    }
  });
});
