/**
 * The state one simulator instance shares between its routes: options, ports, the slot scheduler,
 * the fault plan and the counters. Built once by `createSimulatorApp` and passed down explicitly,
 * so two simulators in one process (the demo runs three) never share anything.
 */

import type { Context } from 'hono';
import type { Clock } from '../platform/clock.ts';
import type { Logger } from '../platform/logger.ts';
import type { Random } from '../platform/random.ts';
import type { FaultPlan } from './fault-plan.ts';
import type { SimulatorMetrics } from './simulator-metrics.ts';
import type { SimulatorOptions } from './simulator-options.ts';
import type { SlotScheduler } from './slot-scheduler.ts';

/**
 * Drops the client's connection without any HTTP response (the `refuse` fault). Only a runtime
 * adapter can reach the socket; it returns the Response its server should treat as already sent.
 */
export type RefuseConnection = (c: Context) => Response;

export type SimulatorPorts = {
  clock?: Clock;
  logger?: Logger;
  refuseConnection?: RefuseConnection;
};

export type SimulatorContext = {
  options: SimulatorOptions;
  clock: Clock;
  logger: Logger;
  refuseConnection: RefuseConnection;
  /** Draws latency jitter; separate from the fault draws so jitter never shifts fault decisions. */
  timingRandom: Random;
  scheduler: SlotScheduler;
  faultPlan: FaultPlan;
  metrics: SimulatorMetrics;
};
