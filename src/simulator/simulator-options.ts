/**
 * Every knob of the simulated GPU server, validated once by one zod schema. The CLI, the demo and
 * tests all build a simulator from these options, so defaults and limits live here and nowhere else.
 */

import { z } from 'zod';
import { parseFaultRules } from './fault-plan.ts';

const mebibyte = 1024 * 1024;

export const simulatorOptionsSchema = z
  .object({
    /** Model ids served; requests for any other model get 404. */
    models: z.array(z.string().min(1)).min(1),
    /** Label only: reported in `/sim/stats` so multi-region demos can tell servers apart. */
    region: z.string().min(1).default('local'),
    /** Sequences generated at once; further requests wait in a FIFO queue. */
    slots: z.int().min(1).max(4096).default(8),
    prefillTokensPerSecond: z.number().positive().max(1e9).default(2000),
    decodeTokensPerSecond: z.number().positive().max(1e9).default(40),
    /** Fixed delay before the first token, on top of queueing and prefill. */
    latencyMs: z.number().min(0).max(600_000).default(0),
    /** Each delay is scaled by a seeded factor in [1 - fraction, 1 + fraction]. */
    latencyJitterFraction: z.number().min(0).max(1).default(0.1),
    seed: z.int().default(1),
    /** `KIND[:SHARE]` rules, see fault-plan.ts. */
    faults: z.array(z.string()).default([]),
    embeddingDimensions: z.int().min(1).max(4096).default(16),
    /**
     * The length of every answer the model ends by itself (its end-of-sequence): a request's
     * `max_tokens` below it cuts the answer there (finish_reason "length").
     */
    outputTokensDefault: z.int().min(0).default(64),
    /** Requests asking for more output tokens than this get 400. */
    outputTokensMax: z.int().min(1).max(1_000_000).default(4096),
    requestBodyBytesMax: z
      .int()
      .min(1024)
      .default(4 * mebibyte),
    /** Requests beyond this many waiting get 503 with `Retry-After` instead of queueing. */
    waitingQueueLengthMax: z.int().min(0).max(1_000_000).default(1024),
  })
  .superRefine((options, context) => {
    const parsedFaults = parseFaultRules(options.faults);
    if (!parsedFaults.ok) {
      context.addIssue({ code: 'custom', path: ['faults'], message: parsedFaults.message });
    }
    if (options.outputTokensDefault > options.outputTokensMax) {
      context.addIssue({
        code: 'custom',
        path: ['outputTokensDefault'],
        message: `must not exceed outputTokensMax (${options.outputTokensMax})`,
      });
    }
  });

/** What callers pass: everything but `models` has a default. */
export type SimulatorOptionsInput = z.input<typeof simulatorOptionsSchema>;

/** Validated options with every default filled in. */
export type SimulatorOptions = z.output<typeof simulatorOptionsSchema>;

/** Validates options, throwing one readable message that names each bad option. */
export function parseSimulatorOptions(input: SimulatorOptionsInput): SimulatorOptions {
  const parsed = simulatorOptionsSchema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const optionName = issue.path.map(String).join('.') || 'options';
      return `${optionName}: ${issue.message}`;
    });
    throw new Error(`invalid simulator options: ${problems.join('; ')}`);
  }
  return parsed.data;
}
