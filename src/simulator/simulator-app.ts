/**
 * The composition root of one simulated GPU server: validates options, builds its scheduler, fault
 * plan and counters, and mounts the routes. Runtime-neutral: a runtime adapter serves `app.fetch`
 * (see runtime/node/serve-simulator.ts) and tests call `app.request` without any socket.
 *
 * @example
 * const simulator = createSimulatorApp({ models: ['m1'], decodeTokensPerSecond: 100_000 });
 * const response = await simulator.app.request('/v1/models');
 */

import { Hono } from 'hono';
import { systemClock } from '../platform/clock.ts';
import { silentLogger } from '../platform/logger.ts';
import { createSeededRandom } from '../platform/random.ts';
import { createControlRoutes } from './control-routes.ts';
import {
  createFaultPlan,
  type FaultRulesParseResult,
  formatFaultRule,
  parseFaultRules,
} from './fault-plan.ts';
import { createInferenceRoutes } from './inference-routes.ts';
import type { SimulatorContext, SimulatorPorts } from './simulator-context.ts';
import { simulatorErrorResponse } from './simulator-error.ts';
import { createSimulatorMetrics, type SimulatorStats } from './simulator-metrics.ts';
import {
  parseSimulatorOptions,
  type SimulatorOptions,
  type SimulatorOptionsInput,
} from './simulator-options.ts';
import { createSlotScheduler } from './slot-scheduler.ts';

export type SimulatorApp = {
  app: Hono;
  /** The validated options with defaults filled in. */
  options: SimulatorOptions;
  /** The live fault rules as `KIND:SHARE` strings. */
  faults(): string[];
  /** Replaces the fault rules, as `POST /sim/faults` does; invalid rules change nothing. */
  replaceFaults(faults: readonly string[]): FaultRulesParseResult;
  stats(): SimulatorStats;
};

/** Separates the timing stream from the fault stream while both follow the one `seed` option. */
const timingSeedOffset = 0x9e3779b9;

/** Throws on invalid options (a programmer or operator error, reported once at start). */
export function createSimulatorApp(
  optionsInput: SimulatorOptionsInput,
  ports: SimulatorPorts = {},
): SimulatorApp {
  const options = parseSimulatorOptions(optionsInput);
  const context = createSimulatorContext(options, ports);
  const app = new Hono();
  app.route('/v1', createInferenceRoutes(context));
  app.route('/', createControlRoutes(context));
  app.notFound((c) =>
    simulatorErrorResponse({
      status: 404,
      message: `No route for ${c.req.method} ${c.req.path} on this simulator.`,
      type: 'invalid_request_error',
      code: 'not_found',
      param: null,
    }),
  );
  app.onError((error) => {
    context.logger.log('error', 'sim-request-failed', { message: error.message });
    return simulatorErrorResponse({
      status: 500,
      message: 'The simulator failed unexpectedly.',
      type: 'server_error',
      code: 'internal_error',
      param: null,
    });
  });
  return {
    app,
    options,
    faults: () => context.faultPlan.rules().map(formatFaultRule),
    replaceFaults(faults) {
      const parsed = parseFaultRules(faults);
      if (parsed.ok) {
        context.faultPlan.replace(parsed.rules);
      }
      return parsed;
    },
    stats: () => context.metrics.stats(),
  };
}

function createSimulatorContext(
  options: SimulatorOptions,
  ports: SimulatorPorts,
): SimulatorContext {
  const parsedFaults = parseFaultRules(options.faults);
  // The options schema already rejected invalid faults, so this only guards the invariant.
  if (!parsedFaults.ok) {
    throw new Error(parsedFaults.message);
  }
  const scheduler = createSlotScheduler({
    slotCount: options.slots,
    waitingQueueLengthMax: options.waitingQueueLengthMax,
  });
  return {
    options,
    clock: ports.clock ?? systemClock,
    logger: ports.logger ?? silentLogger,
    refuseConnection: ports.refuseConnection ?? refuseWithBrokenBody,
    timingRandom: createSeededRandom(options.seed ^ timingSeedOffset),
    scheduler,
    faultPlan: createFaultPlan(parsedFaults.rules, createSeededRandom(options.seed)),
    metrics: createSimulatorMetrics({
      region: options.region,
      models: options.models,
      slotCount: options.slots,
      scheduler,
    }),
  };
}

/**
 * The `refuse` fault where no socket is reachable (in-process `app.request`, or a runtime without
 * an adapter port): a body that fails on first read, the nearest a portable Response gets to a
 * connection closed without an answer. Reading it rejects, as a network error would.
 */
function refuseWithBrokenBody(): Response {
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.error(new Error('Simulated fault refuse: the connection was closed unanswered.'));
    },
  });
  return new Response(body, { status: 200, headers: { 'transfer-encoding': 'chunked' } });
}
