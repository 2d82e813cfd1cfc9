/**
 * Starts a server under test as a child `node` process and stops it for sure. Each server runs
 * alone in its process so the kernel's CPU and memory counters for its pid are its own. The
 * child's stderr and, once it is up, its stdout go to a log file (a gateway that logs each request
 * should pay for writing it, not make the bench pay for reading it); its stdout is watched until
 * it has printed one `listening on URL` line per listener. An exit hook kills any child a failed
 * run left behind.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, createWriteStream, openSync, readFileSync } from 'node:fs';
import { terminate } from '../../test/support/child-process-exit.ts';

export type ChildServer = {
  label: string;
  pid: number;
  /** The URLs from its listening lines, in the order it printed them. */
  urls: string[];
  logPath: string;
  /** SIGTERM, then SIGKILL if it has not exited in time; resolves once it has exited. */
  stop(): Promise<void>;
};

export type StartChildServerOptions = {
  label: string;
  /** Arguments to `node`: flags, then the script and its own arguments. */
  nodeArguments: string[];
  environment?: Record<string, string>;
  cwd: string;
  logPath: string;
  /** Listening lines to wait for. */
  urlCount: number;
  startTimeoutMs: number;
  stopTimeoutMs: number;
};

const listeningPattern = /listening on (http:\/\/[^\s)]+)/g;
/** How much of a failed child's log goes into the error message. */
const logTailCharsMax = 3_000;

const liveChildren = new Set<ChildProcess>();

process.once('exit', () => {
  for (const child of liveChildren) {
    child.kill('SIGKILL');
  }
});

async function stopChild(child: ChildProcess, stopTimeoutMs: number): Promise<void> {
  await terminate(child, stopTimeoutMs);
  liveChildren.delete(child);
}

/** The end of a child's log, for error messages. */
export function logTail(logPath: string): string {
  try {
    return readFileSync(logPath, 'utf8').slice(-logTailCharsMax);
  } catch {
    return '(no log)';
  }
}

export function startChildServer(options: StartChildServerOptions): Promise<ChildServer> {
  const logFd = openSync(options.logPath, 'a');
  const child = spawn(process.execPath, options.nodeArguments, {
    cwd: options.cwd,
    env: { ...process.env, ...options.environment },
    stdio: ['ignore', 'pipe', logFd],
  });
  closeSync(logFd);
  liveChildren.add(child);
  const stdoutLog = createWriteStream(options.logPath, { flags: 'a' });
  child.stdout?.pipe(stdoutLog);
  child.stdout?.setEncoding('utf8');
  let stdoutText = '';

  return new Promise((resolve, reject) => {
    const onStdout = (text: string) => {
      stdoutText += text;
      const urls = [...stdoutText.matchAll(listeningPattern)].map((match) => match[1] ?? '');
      if (urls.length < options.urlCount || child.pid === undefined) {
        return;
      }
      stopWatching();
      resolve({
        label: options.label,
        pid: child.pid,
        urls,
        logPath: options.logPath,
        stop: () => stopChild(child, options.stopTimeoutMs),
      });
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
      fail(`exited before listening (code ${code}, signal ${signal})`);
    const onError = (error: Error) => fail(`could not start: ${error.message}`);
    const timer = setTimeout(
      () => fail(`no listening line within ${options.startTimeoutMs} ms`),
      options.startTimeoutMs,
    );
    function stopWatching(): void {
      clearTimeout(timer);
      child.off('exit', onExit);
      child.off('error', onError);
      child.stdout?.off('data', onStdout);
    }
    function fail(reason: string): void {
      stopWatching();
      void stopChild(child, options.stopTimeoutMs).then(() =>
        reject(
          new Error(`${options.label}: ${reason}\n--- its log ---\n${logTail(options.logPath)}`),
        ),
      );
    }
    child.once('exit', onExit);
    child.once('error', onError);
    child.stdout?.on('data', onStdout);
  });
}
