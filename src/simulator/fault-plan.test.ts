import { describe, expect, it } from 'vitest';
import { createSeededRandom } from '../platform/random.ts';
import {
  appliedFaultKinds,
  createFaultPlan,
  decideFaults,
  formatFaultRule,
  parseFaultRule,
  parseFaultRules,
} from './fault-plan.ts';

describe('parseFaultRule', () => {
  const validCases = [
    { name: 'kind alone means every request', text: 'refuse', kind: 'refuse', share: 1 },
    { name: 'kind with share', text: 'fast-503:0.5', kind: 'fast-503', share: 0.5 },
    { name: 'numeric kind', text: '429:0.25', kind: '429', share: 0.25 },
    { name: 'share without leading zero', text: 'cut:.1', kind: 'cut', share: 0.1 },
    { name: 'share of exactly one', text: 'no-usage:1', kind: 'no-usage', share: 1 },
    { name: 'slow', text: 'slow:1.0', kind: 'slow', share: 1 },
    { name: 'hang', text: 'hang:0.001', kind: 'hang', share: 0.001 },
  ];
  for (const testCase of validCases) {
    it(`accepts ${testCase.name}`, () => {
      expect(parseFaultRule(testCase.text)).toEqual({
        ok: true,
        rules: [{ kind: testCase.kind, share: testCase.share }],
      });
    });
  }

  const invalidCases = [
    { name: 'an unknown kind', text: 'explode', expected: 'KIND must be one of' },
    { name: 'an empty string', text: '', expected: 'KIND must be one of' },
    { name: 'a kind in the wrong case', text: 'REFUSE', expected: 'KIND must be one of' },
    { name: 'a zero share', text: 'cut:0', expected: 'SHARE must be a number in (0, 1]' },
    { name: 'a share above one', text: 'cut:1.5', expected: 'SHARE must be a number in (0, 1]' },
    { name: 'a negative share', text: 'cut:-0.5', expected: 'SHARE must be a number in (0, 1]' },
    { name: 'an empty share', text: 'cut:', expected: 'SHARE must be a number in (0, 1]' },
    { name: 'a word as share', text: 'cut:half', expected: 'SHARE must be a number in (0, 1]' },
    { name: 'a percentage', text: 'cut:50%', expected: 'SHARE must be a number in (0, 1]' },
  ];
  for (const testCase of invalidCases) {
    it(`rejects ${testCase.name} with a message naming the rule`, () => {
      const parsed = parseFaultRule(testCase.text);
      expect(parsed.ok).toBe(false);
      if (!parsed.ok) {
        expect(parsed.message).toContain(testCase.expected);
        expect(parsed.message).toContain(`"${testCase.text}"`);
      }
    });
  }
});

describe('parseFaultRules', () => {
  it('keeps the order of the rules', () => {
    expect(parseFaultRules(['slow:0.5', 'refuse'])).toEqual({
      ok: true,
      rules: [
        { kind: 'slow', share: 0.5 },
        { kind: 'refuse', share: 1 },
      ],
    });
  });

  it('fails on the first invalid rule', () => {
    const parsed = parseFaultRules(['slow', 'nope', 'also-bad']);
    expect(parsed).toMatchObject({ ok: false, message: expect.stringContaining('"nope"') });
  });

  it('formats rules back to KIND:SHARE', () => {
    expect(formatFaultRule({ kind: 'fast-503', share: 0.5 })).toBe('fast-503:0.5');
  });
});

describe('decideFaults', () => {
  it('applies nothing without rules', () => {
    expect(decideFaults([], createSeededRandom(1))).toEqual({
      immediate: null,
      cut: false,
      noUsage: false,
      slow: false,
    });
  });

  it('lets the first immediate rule in order win and ignores body faults drawn with it', () => {
    const decision = decideFaults(
      [
        { kind: 'cut', share: 1 },
        { kind: '429', share: 1 },
        { kind: 'refuse', share: 1 },
      ],
      createSeededRandom(1),
    );
    expect(decision.immediate).toBe('429');
    expect(appliedFaultKinds(decision)).toEqual(['429']);
  });

  it('combines body faults', () => {
    const decision = decideFaults(
      [
        { kind: 'cut', share: 1 },
        { kind: 'no-usage', share: 1 },
        { kind: 'slow', share: 1 },
      ],
      createSeededRandom(1),
    );
    expect(decision).toEqual({ immediate: null, cut: true, noUsage: true, slow: true });
    expect(appliedFaultKinds(decision)).toEqual(['cut', 'no-usage', 'slow']);
  });

  it('hits about SHARE of requests, and the same ones for the same seed', () => {
    const decide = (seed: number) => {
      const plan = createFaultPlan([{ kind: 'fast-503', share: 0.3 }], createSeededRandom(seed));
      return Array.from({ length: 2000 }, () => plan.decide().immediate === 'fast-503');
    };
    const hits = decide(7);
    const hitCount = hits.filter(Boolean).length;
    expect(hitCount).toBeGreaterThan(500);
    expect(hitCount).toBeLessThan(700);
    expect(decide(7)).toEqual(hits);
    expect(decide(8)).not.toEqual(hits);
  });
});

describe('createFaultPlan', () => {
  it('replaces its rules while running', () => {
    const plan = createFaultPlan([{ kind: 'slow', share: 1 }], createSeededRandom(1));
    expect(plan.decide().slow).toBe(true);
    plan.replace([]);
    expect(plan.rules()).toEqual([]);
    expect(plan.decide().slow).toBe(false);
  });
});
