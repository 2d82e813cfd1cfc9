/**
 * A worker thread of the routing benchmark: runs the (scenario, router, seed) jobs it is sent and
 * posts each summary back. Scenarios are rebuilt here from their names, so only names cross.
 */
import { parentPort } from 'node:worker_threads';
import { runSimulation } from './run-simulation.ts';
import { type RouterName, scenarios } from './scenarios.ts';

export type SimulationJob = { scenario: string; router: RouterName; seed: number };

const byName = new Map(scenarios().map((scenario) => [scenario.name, scenario]));

parentPort?.on('message', (job: SimulationJob) => {
  const scenario = byName.get(job.scenario);
  if (scenario === undefined) {
    throw new Error(`unknown scenario ${job.scenario}`);
  }
  parentPort?.postMessage(runSimulation(scenario, job.router, job.seed));
});
