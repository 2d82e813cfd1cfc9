/**
 * Fault injection for the simulator: parses `KIND[:SHARE]` rules and decides, per request, which
 * faults hit it. Decisions come from a seeded `Random` so a test or a benchmark that sends the same
 * requests in the same order sees the same faults.
 */

import type { Random } from '../platform/random.ts';

export const faultKinds = ['refuse', 'hang', 'fast-503', '429', 'cut', 'no-usage', 'slow'] as const;

export type FaultKind = (typeof faultKinds)[number];

/** A fault and the fraction of requests it hits, in (0, 1]. */
export type FaultRule = { kind: FaultKind; share: number };

/** Faults that replace the answer entirely; the first one drawn (in rule order) wins. */
export type ImmediateFault = 'refuse' | 'hang' | 'fast-503' | '429';

/** What happens to one request. */
export type FaultDecision = {
  immediate: ImmediateFault | null;
  /** End the body half-way without a proper ending. */
  cut: boolean;
  /** Leave `usage` out of the JSON body and send no usage chunk. */
  noUsage: boolean;
  /** Prefill and decode ten times slower. */
  slow: boolean;
};

export type FaultRulesParseResult =
  | { ok: true; rules: FaultRule[] }
  | { ok: false; message: string };

export const noFaults: FaultDecision = { immediate: null, cut: false, noUsage: false, slow: false };

const immediateKinds: ReadonlySet<FaultKind> = new Set(['refuse', 'hang', 'fast-503', '429']);

function isFaultKind(text: string): text is FaultKind {
  return (faultKinds as readonly string[]).includes(text);
}

function isImmediateFault(kind: FaultKind): kind is ImmediateFault {
  return immediateKinds.has(kind);
}

/** Parses one `KIND[:SHARE]` rule, for example `fast-503:0.25` or `cut`. */
export function parseFaultRule(text: string): FaultRulesParseResult {
  const separatorIndex = text.indexOf(':');
  const kindText = separatorIndex === -1 ? text : text.slice(0, separatorIndex);
  const shareText = separatorIndex === -1 ? '1' : text.slice(separatorIndex + 1);
  if (!isFaultKind(kindText)) {
    return {
      ok: false,
      message: `invalid fault "${text}": KIND must be one of ${faultKinds.join(', ')}`,
    };
  }
  // Number('') is 0 and Number(' 1') is 1, so insist on a plain decimal before converting.
  const share = /^(\d+(\.\d*)?|\.\d+)$/.test(shareText) ? Number(shareText) : Number.NaN;
  if (!(share > 0 && share <= 1)) {
    return {
      ok: false,
      message: `invalid fault "${text}": SHARE must be a number in (0, 1], for example ${kindText}:0.5`,
    };
  }
  return { ok: true, rules: [{ kind: kindText, share }] };
}

/** Parses every rule, failing on the first invalid one. */
export function parseFaultRules(texts: readonly string[]): FaultRulesParseResult {
  const rules: FaultRule[] = [];
  for (const text of texts) {
    const parsed = parseFaultRule(text);
    if (!parsed.ok) {
      return parsed;
    }
    rules.push(...parsed.rules);
  }
  return { ok: true, rules };
}

/** The canonical `KIND:SHARE` text of a rule, as `GET /sim/faults` shows it. */
export function formatFaultRule(rule: FaultRule): string {
  return `${rule.kind}:${rule.share}`;
}

/**
 * Draws one number per rule, always, so that the decision for request N does not depend on which
 * faults earlier requests happened to get.
 */
export function decideFaults(rules: readonly FaultRule[], random: Random): FaultDecision {
  if (rules.length === 0) {
    return noFaults;
  }
  const decision: FaultDecision = { ...noFaults };
  for (const rule of rules) {
    const hit = random() < rule.share;
    if (!hit) {
      continue;
    }
    if (isImmediateFault(rule.kind)) {
      decision.immediate ??= rule.kind;
    } else if (rule.kind === 'cut') {
      decision.cut = true;
    } else if (rule.kind === 'no-usage') {
      decision.noUsage = true;
    } else {
      decision.slow = true;
    }
  }
  return decision;
}

/**
 * The fault kinds a decision actually applies, for counting in `/sim/stats`: an immediate fault
 * replaces the answer, so any body faults drawn with it have no effect and are not counted.
 */
export function appliedFaultKinds(decision: FaultDecision): FaultKind[] {
  if (decision.immediate !== null) {
    return [decision.immediate];
  }
  const kinds: FaultKind[] = [];
  if (decision.cut) {
    kinds.push('cut');
  }
  if (decision.noUsage) {
    kinds.push('no-usage');
  }
  if (decision.slow) {
    kinds.push('slow');
  }
  return kinds;
}

/** The live fault rules of one simulator, replaceable while it runs (`POST /sim/faults`). */
export type FaultPlan = {
  rules(): readonly FaultRule[];
  replace(rules: readonly FaultRule[]): void;
  decide(): FaultDecision;
};

export function createFaultPlan(initialRules: readonly FaultRule[], random: Random): FaultPlan {
  let currentRules: readonly FaultRule[] = [...initialRules];
  return {
    rules: () => currentRules,
    replace(rules) {
      currentRules = [...rules];
    },
    decide: () => decideFaults(currentRules, random),
  };
}
