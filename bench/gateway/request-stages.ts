/**
 * The stages of one tokenbank request, for the profile's per-stage table: each CPU sample is
 * charged to the stage of the innermost frame on its stack that belongs to one (a project file
 * by its path, or a package), so a better-sqlite3 call made while settling counts as the ledger
 * and undici's parsing of the backend's answer as the upstream call. Samples with no such frame
 * are the HTTP server, hono and the event loop around them.
 */

type StagePattern = { stage: string; pattern: RegExp };

/** First match wins on a frame, so narrower patterns come before wider ones. */
const stagePatterns: readonly StagePattern[] = [
  { stage: 'auth', pattern: /\/(middleware\/authenticate|platform\/credential-cache)\./ },
  {
    stage: 'body read + validation',
    pattern:
      /\/(middleware\/(json-body|request-body)|inference\/(inference-request|openai-requests))\.|\/zod\//,
  },
  {
    stage: 'prompt estimate',
    pattern:
      /\/metering\/(estimate-prompt-tokens|prompt-content)\.|inference\/output-tokens-allowed\./,
  },
  {
    stage: 'verification sample',
    pattern: /\/runtime\/node\/(tiktoken-tokenizer|worker-tokenizer)\.|\/tiktoken\//,
  },
  {
    stage: 'usage parse',
    pattern:
      /\/metering\/(usage|final-usage|stream-usage-tap|event-splitter|delivered-text(-buffer)?)\./,
  },
  {
    stage: 'routing',
    pattern:
      /\/backends\/(routing|health|backend-pool|capacity-wait-queue|attempt-tracker)|inference\/(select-candidates|route-prices)\./,
  },
  {
    stage: 'ledger (reserve + settle, group commit)',
    pattern:
      /\/runtime\/node\/sqlite\/|\/billing\/|better-sqlite3|inference\/(admission|record-settlement)\./,
  },
  { stage: 'metrics', pattern: /\/runtime\/node\/prometheus-metrics\.|\/prom-client\// },
  {
    stage: 'logging',
    pattern: /\/(middleware\/request-log|platform\/logger|runtime\/node\/buffered-line-writer)\./,
  },
  {
    stage: 'upstream call + relay',
    pattern:
      /\/runtime\/node\/undici-upstream\.|\/backends\/upstream\/|\/undici\/|node:deps\/undici|inference\/(forward-with-retries|upstream-body|forwarded-fields|relay-event-stream|transport-meter)\./,
  },
];

export const outsideStages = 'HTTP server, hono, event loop (no stage on the stack)';

/** The stage of one frame's URL (or a V8 pseudo-frame's empty URL), if it has one. */
export function stageOfUrl(url: string): string | undefined {
  if (url === '') {
    return undefined;
  }
  return stagePatterns.find((entry) => entry.pattern.test(url))?.stage;
}
