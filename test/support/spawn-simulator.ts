/**
 * Starts `tokenbank sim` as a real child process for integration tests (see cli-process.ts for
 * how it is started and stopped for sure).
 *
 * @example
 * const simulator = await startSimulatorProcess(['--models', 'm1']);
 * try { await fetch(`${simulator.url}/models`); } finally { await simulator.stop(); }
 */
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
