/**
 * Where a server's CPU went, from the V8 CPU profile `node --cpu-prof` writes on exit: self time
 * by function and by area (npm package, node internal, or project file), counting only samples
 * taken inside the given load windows so start-up and idle gaps do not blur the picture. Profile
 * timestamps and process.hrtime share the monotonic clock, so windows taken in the bench process
 * apply directly.
 */
import { readFileSync } from 'node:fs';
import { outsideStages, stageOfUrl } from './request-stages.ts';

type CallFrame = { functionName: string; url: string; lineNumber: number };
type ProfileNode = { id: number; callFrame: CallFrame; children?: number[] };
type CpuProfile = {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
};

/** The project's code: its sources (tests, tsx) and their build (the bin). */
const projectSources = ['src/', 'dist/'];

export type TimeWindowUs = { startUs: number; endUs: number };

export type ProfileShare = { name: string; selfUs: number; share: number };

export type ProfileSummary = {
  /** Sampled time inside the windows that was not idle. */
  busyUs: number;
  idleUs: number;
  byArea: ProfileShare[];
  byFunction: ProfileShare[];
  /** Inclusive time (self + callees) of the project's own functions: where the stages cost. */
  byProjectFunctionTotal: ProfileShare[];
  /** Every busy sample charged to one request stage (request-stages.ts). */
  byStage: ProfileShare[];
};

/** The npm package, `node:<area>`, project-relative file, or V8 pseudo-frame a frame belongs to. */
function areaOf(frame: CallFrame, projectRoot: string): string {
  const { url } = frame;
  if (url === '') {
    return frame.functionName.startsWith('(') ? frame.functionName : '(native)';
  }
  const packageAt = url.lastIndexOf('node_modules/');
  if (packageAt >= 0) {
    const parts = url.slice(packageAt + 'node_modules/'.length).split('/');
    return parts[0]?.startsWith('@') === true ? `${parts[0]}/${parts[1]}` : (parts[0] ?? url);
  }
  if (url.startsWith('node:')) {
    return url
      .replace(/^node:internal\//, 'node:')
      .split('/')
      .slice(0, 2)
      .join('/');
  }
  const path = url.replace(/^file:\/\//, '');
  return path.startsWith(projectRoot) ? path.slice(projectRoot.length) : path;
}

/**
 * A function's name and where it lives. Project files are named by file alone (tsx's or tsc's
 * output lines do not match the source); library lines are kept.
 */
function functionOf(frame: CallFrame, projectRoot: string): string {
  const name = frame.functionName === '' ? '(anonymous)' : frame.functionName;
  if (frame.url === '') {
    return name;
  }
  const area = areaOf(frame, projectRoot);
  return frame.url.includes(projectRoot)
    ? `${name} ${area}`
    : `${name} ${area}:${frame.lineNumber + 1}`;
}

function ranked(totals: Map<string, number>, busyUs: number, count: number): ProfileShare[] {
  return [...totals]
    .sort((left, right) => right[1] - left[1])
    .slice(0, count)
    .map(([name, selfUs]) => ({ name, selfUs, share: busyUs === 0 ? 0 : selfUs / busyUs }));
}

export function summarizeCpuProfile(
  profilePath: string,
  windows: readonly TimeWindowUs[],
  /** Absolute, with a trailing slash: stripped from project file names. */
  projectRoot: string,
  entriesMax: number,
): ProfileSummary {
  const profile = JSON.parse(readFileSync(profilePath, 'utf8')) as CpuProfile;
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const parents = new Map<number, number>();
  for (const node of profile.nodes) {
    for (const child of node.children ?? []) {
      parents.set(child, node.id);
    }
  }
  const byProjectFunctionTotal = new Map<string, number>();
  const byArea = new Map<string, number>();
  const byFunction = new Map<string, number>();
  const byStage = new Map<string, number>();
  let busyUs = 0;
  let idleUs = 0;
  let atUs = profile.startTime;
  for (let index = 0; index < profile.samples.length; index += 1) {
    const deltaUs = profile.timeDeltas[index] ?? 0;
    atUs += deltaUs;
    if (!windows.some((window) => atUs >= window.startUs && atUs <= window.endUs)) {
      continue;
    }
    const frame = nodes.get(profile.samples[index] ?? -1)?.callFrame;
    if (frame === undefined) {
      continue;
    }
    if (frame.functionName === '(idle)') {
      idleUs += deltaUs;
      continue;
    }
    busyUs += deltaUs;
    const area = areaOf(frame, projectRoot);
    byArea.set(area, (byArea.get(area) ?? 0) + deltaUs);
    const name = functionOf(frame, projectRoot);
    byFunction.set(name, (byFunction.get(name) ?? 0) + deltaUs);
    // Each project function on the sample's stack counts once, however deep it recurses; the
    // innermost frame with a stage names the sample's stage.
    const onStack = new Set<string>();
    let stage: string | undefined;
    for (
      let id: number | undefined = profile.samples[index];
      id !== undefined;
      id = parents.get(id)
    ) {
      const stackFrame = nodes.get(id)?.callFrame;
      if (stackFrame === undefined) {
        continue;
      }
      stage ??= stageOfUrl(stackFrame.url);
      if (projectSources.some((folder) => stackFrame.url.includes(`${projectRoot}${folder}`))) {
        onStack.add(functionOf(stackFrame, projectRoot));
      }
    }
    byStage.set(stage ?? outsideStages, (byStage.get(stage ?? outsideStages) ?? 0) + deltaUs);
    for (const stackName of onStack) {
      byProjectFunctionTotal.set(stackName, (byProjectFunctionTotal.get(stackName) ?? 0) + deltaUs);
    }
  }
  return {
    busyUs,
    idleUs,
    byArea: ranked(byArea, busyUs, entriesMax),
    byFunction: ranked(byFunction, busyUs, entriesMax),
    byProjectFunctionTotal: ranked(byProjectFunctionTotal, busyUs, entriesMax),
    byStage: ranked(byStage, busyUs, byStage.size),
  };
}
