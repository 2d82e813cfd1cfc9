/**
 * Starts `tokenbank sim` as a real child process for integration tests (see cli-process.ts for
 * how it is started and stopped for sure), and drives a running one through its `/sim/*`
 * control endpoints: its fault rules and its stats.
 *
 * @example
 * const simulator = await startSimulatorProcess(['--models', 'm1']);
 * try { await fetch(`${simulator.url}/models`); } finally { await simulator.stop(); }
 */
import { expect } from 'vitest';
import type { SimulatorStats } from '../../src/simulator/simulator-metrics.ts';
import { type CliProcess, type StartCliProcessOptions, startCliProcess } from './cli-process.ts';

export type SimulatorProcess = CliProcess & {
  /** The same server without the `/v1` path: `/metrics`, `/health` and `/sim/*` live here. */
  origin: string;
};

export async function startSimulatorProcess(
  args: string[],
  options: Pick<StartCliProcessOptions, 'startTimeoutMs' | 'stopTimeoutMs'> = {},
): Promise<SimulatorProcess> {
  const started = await startCliProcess({
    ...options,
    args: ['sim', '--port', '0', ...args],
    listeningPattern: /tokenbank sim listening on (http:\/\/\S+)/,
  });
  return { ...started, origin: started.url.replace(/\/v1$/, '') };
}

/** Replaces the simulator's fault rules (`["KIND[:SHARE]", ...]`); `[]` clears them. */
export async function setSimulatorFaults(
  simulator: SimulatorProcess,
  faults: string[],
): Promise<void> {
  const response = await fetch(`${simulator.origin}/sim/faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ faults }),
  });
  expect(response.status).toBe(200);
}

/** What the simulator has counted so far (`GET /sim/stats`). */
export async function readSimulatorStats(simulator: SimulatorProcess): Promise<SimulatorStats> {
  return (await (await fetch(`${simulator.origin}/sim/stats`)).json()) as SimulatorStats;
}
