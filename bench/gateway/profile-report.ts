/**
 * The `--profile` section of the report: tokenbank's main-thread CPU profile summarized over the
 * throughput windows (self time by area and function, and inclusive time of the project's own
 * functions), per request. The profile is copied out of the work folder so it can still be opened
 * as a flame chart (Chrome DevTools, speedscope) after the run.
 */
import { copyFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type ProfileShare,
  summarizeCpuProfile,
  type TimeWindowUs,
} from './cpu-profile-summary.ts';
import { formatInteger } from './number-format.ts';

const functionEntriesMax = 25;
const areaEntriesMax = 15;

/** Node names profiles CPU.<date>.<time>.<pid>.<thread>.<sequence>.cpuprofile; thread 0 is main. */
function isMainThreadProfile(fileName: string): boolean {
  return /\.\d+\.0\.\d+\.cpuprofile$/.test(fileName);
}

function profileTable(title: string, entries: readonly ProfileShare[], requestCount: number) {
  const perRequest = (selfUs: number) =>
    requestCount === 0 ? 'n/a' : (selfUs / requestCount).toFixed(1);
  return [
    `| ${title} | share of busy | µs/req |`,
    '|---|---:|---:|',
    ...entries.map(
      (entry) =>
        `| ${entry.name.replaceAll('|', '\\|')} | ${(entry.share * 100).toFixed(1)}% | ${perRequest(entry.selfUs)} |`,
    ),
  ];
}

export function renderProfileReport(
  profileDirectory: string,
  windows: readonly TimeWindowUs[],
  requestCount: number,
  projectRoot: string,
): string {
  const files = readdirSync(profileDirectory).filter(isMainThreadProfile);
  const sections: string[] = [];
  for (const file of files) {
    const keptPath = join(tmpdir(), `tokenbank-bench-${file}`);
    copyFileSync(join(profileDirectory, file), keptPath);
    const summary = summarizeCpuProfile(keptPath, windows, projectRoot, functionEntriesMax);
    sections.push(
      [
        '### tokenbank CPU profile (main thread, throughput windows only)',
        '',
        `Profile kept at ${keptPath}. Main thread busy ${formatInteger(summary.busyUs / 1000)} ms, idle ${formatInteger(summary.idleUs / 1000)} ms, over ${formatInteger(requestCount)} requests (all replicas; µs/req divides by all of them).`,
        '',
        ...profileTable('request stage (innermost on the stack)', summary.byStage, requestCount),
        '',
        ...profileTable('self time by area', summary.byArea.slice(0, areaEntriesMax), requestCount),
        '',
        ...profileTable('self time by function', summary.byFunction, requestCount),
        '',
        ...profileTable(
          'total time (with callees) of project functions',
          summary.byProjectFunctionTotal,
          requestCount,
        ),
      ].join('\n'),
    );
  }
  return sections.join('\n\n');
}
