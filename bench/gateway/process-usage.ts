/**
 * What a server process costs, read from the kernel rather than reported by the server: CPU time
 * (user + system, all threads) from /proc/<pid>/stat and resident memory from /proc/<pid>/status.
 * Reading from outside works the same for every server under test, Portkey included, and counts
 * the server's own CPU only, never the load generator's that shares the machine. Linux only.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Clock ticks per second of utime/stime; 100 on every common Linux, asked once to be sure. */
function readClockTicksPerSecond(): number {
  try {
    const text = execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim();
    const ticks = Number(text);
    return Number.isInteger(ticks) && ticks > 0 ? ticks : 100;
  } catch {
    return 100;
  }
}

const clockTicksPerSecond = readClockTicksPerSecond();

/** Fields of /proc/<pid>/stat counted from the one after the command name's closing ')'. */
const utimeFieldIndex = 11;
const stimeFieldIndex = 12;

/** CPU time the process has used so far (user + system, every thread), in microseconds. */
export function readProcessCpuUs(pid: number): number {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name may hold spaces and parentheses; the fields after its last ')' are fixed.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[utimeFieldIndex]) + Number(fields[stimeFieldIndex]);
  if (!Number.isFinite(ticks)) {
    throw new Error(`unreadable /proc/${pid}/stat`);
  }
  return (ticks * 1_000_000) / clockTicksPerSecond;
}

/** Summed CPU time of several processes (replicas of one server), in microseconds. */
export function readProcessesCpuUs(pids: readonly number[]): number {
  let totalUs = 0;
  for (const pid of pids) {
    totalUs += readProcessCpuUs(pid);
  }
  return totalUs;
}

/** Resident set size of the process now (VmRSS), in bytes. */
export function readProcessRssBytes(pid: number): number {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(text);
  if (match?.[1] === undefined) {
    throw new Error(`no VmRSS in /proc/${pid}/status`);
  }
  return Number(match[1]) * 1024;
}

/** Fields of the `cpu` line of /proc/stat that count busy time: user, nice, system, irq, softirq. */
const busyFieldIndexes = [0, 1, 2, 5, 6];

/**
 * CPU time every process on the machine has used so far, all cores together, in microseconds
 * (time stolen by the hypervisor not included). Minus the bench's own processes over a window, it
 * tells how much other work shared the machine while a number was taken.
 */
export function readMachineBusyCpuUs(): number {
  const firstLine = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  const fields = firstLine.trim().split(/\s+/).slice(1).map(Number);
  const ticks = busyFieldIndexes.reduce((total, index) => total + (fields[index] ?? 0), 0);
  return (ticks * 1_000_000) / clockTicksPerSecond;
}

/** CPU time of this (the bench's) process so far, every thread, in microseconds. */
export function readOwnCpuUs(): number {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
}

/** True when this machine exposes per-process CPU and memory the way the bench reads them. */
export function processUsageReadable(): boolean {
  try {
    readProcessCpuUs(process.pid);
    readProcessRssBytes(process.pid);
    return Number.isFinite(readMachineBusyCpuUs());
  } catch {
    return false;
  }
}
