/**
 * Starts a `tokenbank` command as a real child process for integration tests and stops it for
 * sure. The child runs in its own process group so `stop()` reaches anything it spawned, and an
 * exit hook kills groups a crashed test left behind, so no child outlives the test run.
 */

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { terminate, waitForExit } from './child-process-exit.ts';

export type CliProcess = {
  /** The URL captured from the listening line. */
  url: string;
  process: ChildProcess;
  /** Everything the child wrote to stdout so far. */
  stdout(): string;
  /** Everything the child wrote to stderr so far (its JSON log lines). */
  stderr(): string;
  /** SIGTERM to the process group, SIGKILL if it has not exited in time; resolves once exited. */
  stop(): Promise<void>;
  /** SIGKILL at once, as a crash would; resolves once exited. */
  kill(): Promise<void>;
};

export type StartCliProcessOptions = {
  /** The command and its arguments: `['sim', '--models', 'm1']`. */
  args: string[];
  /**
   * The program and its leading arguments; `tokenbank` (`node bin/tokenbank.mjs`) unless another
   * command is started the same way (`wrangler dev`).
   */
  program?: readonly string[];
  /** A pattern whose first group is the URL the child prints once it listens. */
  listeningPattern: RegExp;
  environment?: Record<string, string>;
  /** How long to wait for the listening line; a loaded machine can take a while. */
  startTimeoutMs?: number;
  /** How long `stop()` waits after SIGTERM before it sends SIGKILL. */
  stopTimeoutMs?: number;
};

export const projectRoot = fileURLToPath(new URL('../..', import.meta.url));
const liveProcessGroups = new Set<number>();

process.once('exit', () => {
  for (const processGroupId of liveProcessGroups) {
    signalProcessGroup(processGroupId, 'SIGKILL');
  }
});

function signalProcessGroup(processGroupId: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-processGroupId, signal);
  } catch {
    // The group is already gone: nothing left to stop.
  }
}

async function stopProcess(child: ChildProcess, stopTimeoutMs: number): Promise<void> {
  const processGroupId = child.pid;
  if (processGroupId === undefined) {
    return;
  }
  await terminate(child, stopTimeoutMs, (signal) => signalProcessGroup(processGroupId, signal));
  // The simulator may have spawned nothing, but its group is gone with it either way.
  signalProcessGroup(processGroupId, 'SIGKILL');
  liveProcessGroups.delete(processGroupId);
}

const tokenbankProgram = [process.execPath, 'bin/tokenbank.mjs'] as const;

/** Runs `node bin/tokenbank.mjs ...args` from the project root; resolves once it listens. */
export function startCliProcess(options: StartCliProcessOptions): Promise<CliProcess> {
  const startTimeoutMs = options.startTimeoutMs ?? 30_000;
  const stopTimeoutMs = options.stopTimeoutMs ?? 5_000;
  const [executable = process.execPath, ...leading] = options.program ?? tokenbankProgram;
  const child = spawn(executable, [...leading, ...options.args], {
    cwd: projectRoot,
    detached: true,
    env: { ...process.env, ...options.environment },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid !== undefined) {
    liveProcessGroups.add(child.pid);
  }
  let stdoutText = '';
  let stderrText = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (text: string) => {
    stderrText += text;
  });
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (text: string) => {
    stdoutText += text;
  });
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
      fail(`exited before listening (code ${code}, signal ${signal})`);
    const onError = (error: Error) => fail(`could not start: ${error.message}`);
    const onStdout = () => {
      const url = options.listeningPattern.exec(stdoutText)?.[1];
      if (url === undefined) {
        return;
      }
      stopWatching();
      resolve({
        url,
        process: child,
        stdout: () => stdoutText,
        stderr: () => stderrText,
        stop: () => stopProcess(child, stopTimeoutMs),
        kill: async () => {
          if (child.pid !== undefined) {
            signalProcessGroup(child.pid, 'SIGKILL');
          }
          await waitForExit(child, stopTimeoutMs);
        },
      });
    };
    const timer = setTimeout(
      () => fail(`no listening line within ${startTimeoutMs} ms`),
      startTimeoutMs,
    );
    function stopWatching(): void {
      clearTimeout(timer);
      child.off('exit', onExit);
      child.off('error', onError);
      child.stdout?.off('data', onStdout);
    }
    function fail(reason: string): void {
      stopWatching();
      void stopProcess(child, stopTimeoutMs);
      const command = [...leading, ...options.args].join(' ');
      reject(new Error(`${command}: ${reason}\nstdout:\n${stdoutText}\nstderr:\n${stderrText}`));
    }
    child.once('exit', onExit);
    child.once('error', onError);
    child.stdout?.on('data', onStdout);
  });
}

export type CliCommandResult = { code: number; stdout: string; stderr: string };

const execFileAsync = promisify(execFile);

/** Runs `program ...args` in the project to its end: its code and output. */
export async function runProgram(
  program: readonly [string, ...string[]],
  args: string[],
  environment: Record<string, string> = {},
): Promise<CliCommandResult> {
  const [command, ...leading] = program;
  try {
    const { stdout, stderr } = await execFileAsync(command, [...leading, ...args], {
      cwd: projectRoot,
      env: { ...process.env, ...environment },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

/** Runs a one-shot `tokenbank ...args` to its end (migrate, admin, --help): its code and output. */
export function runCliCommand(
  args: string[],
  environment: Record<string, string> = {},
): Promise<CliCommandResult> {
  return runProgram([process.execPath, 'bin/tokenbank.mjs'], args, environment);
}
