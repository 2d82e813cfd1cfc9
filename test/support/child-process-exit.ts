/**
 * Ending a child process for sure, shared by every helper that starts one (`tokenbank` commands,
 * redis-server, the benchmark's servers): wait for its exit within a bound, and stop it with
 * SIGTERM, then SIGKILL when it does not go in time.
 */
import type { ChildProcess } from 'node:child_process';

export function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** True once the child has exited; false when `timeoutMs` passed first. */
export function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (hasExited(child)) {
    return Promise.resolve(true);
  }
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/**
 * SIGTERM, then SIGKILL if the child has not exited within `stopTimeoutMs`; resolves once it
 * exited (or the second wait ran out). `sendSignal` delivers each signal: to the child itself by
 * default, or to its whole process group.
 */
export async function terminate(
  child: ChildProcess,
  stopTimeoutMs: number,
  sendSignal: (signal: NodeJS.Signals) => void = (signal) => child.kill(signal),
): Promise<void> {
  if (hasExited(child)) {
    return;
  }
  sendSignal('SIGTERM');
  if (!(await waitForExit(child, stopTimeoutMs))) {
    sendSignal('SIGKILL');
    await waitForExit(child, stopTimeoutMs);
  }
}
