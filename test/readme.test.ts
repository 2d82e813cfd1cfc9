/**
 * README.md is true: a real `tokenbank demo` started as the README says, the requests of "See the
 * money move" run in their order with the URL and key the demo printed, and the SDK snippet of
 * "Use it from an app" run with the official `openai` package. Every expected figure is read out
 * of README.md itself, so a change that alters a balance, a coupon, a header or the output fails
 * here until the README says so. A step whose description speaks of the storage tick is a read
 * that is asked again until it shows the storage charge, for at most the tick the demo printed.
 * README.zh-CN.md, its Chinese twin, links it and is linked back from their first lines, and has
 * the same sections and the same commands, snippets and figures: only the words differ.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliProcess, projectRoot, startCliProcess } from './support/cli-process.ts';

const run = promisify(execFile);
const readme = readFileSync(join(projectRoot, 'README.md'), 'utf8');
const chineseReadme = readFileSync(join(projectRoot, 'README.zh-CN.md'), 'utf8');

/** The text of a `## heading` section, up to the next one. */
function section(heading: string): string {
  const start = readme.indexOf(`\n## ${heading}\n`);
  expect(start, `README section "${heading}"`).toBeGreaterThan(-1);
  const end = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, end === -1 ? undefined : end);
}

/** The first fenced block of a language in a text. */
function fenced(text: string, language: string): string {
  const block = new RegExp(`\`\`\`${language}\\n([\\s\\S]*?)\`\`\``).exec(text)?.[1];
  expect(block, `a ${language} block`).toBeDefined();
  return block ?? '';
}

/** Every fenced block of a text, indented ones included, in order. */
function fencedBlocks(text: string): { language: string; body: string }[] {
  return [...text.matchAll(/^( *)```(\w*)\n([\s\S]*?)^\1```/gm)].map((match) => ({
    language: match[2] ?? '',
    body: match[3] ?? '',
  }));
}

/** A comment line that describes (translated); `# {json}` and `# x-header: value` are figures. */
function isDescription(line: string): boolean {
  return /^\s*#(\s|$)/.test(line) && !/^# (\{|x-[a-z-]+: )/.test(line);
}

/** A block without its words: its commands, code and figures, trailing comments cut. */
function withoutWords(block: { language: string; body: string }) {
  const lines = block.body
    .split('\n')
    .filter((line) => !isDescription(line))
    .map((line) => line.replace(/\s+# .*$/, '').trimEnd());
  return { language: block.language, lines };
}

type Step = {
  command: string;
  headers: [string, string][];
  bodies: unknown[];
  /** Its description speaks of the storage tick: it answers as shown once a tick has passed. */
  awaitsStorageTick: boolean;
};

/**
 * The shell block as commands and what each answers: a command (continuation lines joined) is
 * followed by `# header: value` lines and `# {json}` lines it must produce; other comments
 * describe it (before it) and are otherwise skipped, as is the `export` line of placeholders.
 */
function stepsOf(block: string): Step[] {
  const steps: Step[] = [];
  const lines = block.split('\n');
  let description = '';
  for (let index = 0; index < lines.length; index += 1) {
    let line = lines[index] ?? '';
    if (line !== '' && !line.startsWith('#') && !line.startsWith('export ')) {
      while (line.endsWith('\\')) {
        index += 1;
        line = `${line.slice(0, -1)}${(lines[index] ?? '').trim()}`;
      }
      const awaitsStorageTick = /storage tick/.test(description);
      steps.push({ command: line, headers: [], bodies: [], awaitsStorageTick });
      description = '';
      continue;
    }
    const step = steps.at(-1);
    const header = /^# (x-[a-z-]+): (\S+)$/.exec(line);
    if (step !== undefined && header !== null) {
      step.headers.push([header[1] ?? '', header[2] ?? '']);
    } else if (step !== undefined && line.startsWith('# {')) {
      step.bodies.push(JSON.parse(line.slice(2)));
    } else if (line.startsWith('# ')) {
      description += ` ${line.slice(2)}`;
    }
  }
  return steps;
}

/** What toMatchObject accepts, as a predicate: the shown fields equal, arrays element by element. */
function shows(actual: unknown, shown: unknown): boolean {
  if (Array.isArray(shown)) {
    return (
      Array.isArray(actual) &&
      actual.length === shown.length &&
      shown.every((item, index) => shows(actual[index], item))
    );
  }
  if (typeof shown === 'object' && shown !== null) {
    const record = actual as Record<string, unknown> | null;
    return (
      typeof actual === 'object' &&
      record !== null &&
      Object.entries(shown).every(([key, value]) => shows(record[key], value))
    );
  }
  return actual === shown;
}

/** `curl -s` prints the body; `curl -si` the status line and headers first. */
function answerOf(output: string): { headers: Map<string, string>; body: unknown } {
  const split = output.indexOf('\r\n\r\n');
  const head = split === -1 ? '' : output.slice(0, split);
  const headers = new Map(
    head
      .split('\r\n')
      .slice(1)
      .map((line) => {
        const colon = line.indexOf(':');
        return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()] as [
          string,
          string,
        ];
      }),
  );
  return { headers, body: JSON.parse(split === -1 ? output : output.slice(split + 4)) };
}

async function answerTo(step: Step) {
  const { stdout } = await run('sh', ['-c', step.command], {
    env: { ...process.env, URL: demo.url, KEY: apiKey },
  });
  return answerOf(stdout);
}

/** The answer of a read-only step that awaits the storage tick, once it shows what the README shows. */
async function answerAfterStorageTick(step: Step) {
  expect(step.command, 'a step asked again is read-only').toMatch(/^curl -s \$URL\/v1\/\S+ -H /);
  expect(step.command).not.toMatch(/ -[dFX] /);
  // The tick, a check of the demo's (every few seconds) and a margin.
  const deadline = Date.now() + storageTickS * 1_000 + 15_000;
  for (;;) {
    const answer = await answerTo(step);
    if (step.bodies.every((body) => shows(answer.body, body)) || Date.now() > deadline) {
      return answer;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Runs a README snippet with the demo's URL and key, as `node NAME.mjs` in the project. */
async function runSnippet(block: string, name: string) {
  const snippet = block
    .replace("'http://127.0.0.1:8787/v1'", `'${demo.url}/v1'`)
    .replace("'tbk-…'", `'${apiKey}'`);
  expect(snippet).toContain(apiKey);
  // Inside the project so that `import 'openai'` resolves, as the README says.
  const scriptPath = join(projectRoot, 'data', `readme-${name}-${process.pid}.mjs`);
  mkdirSync(dirname(scriptPath), { recursive: true });
  writeFileSync(scriptPath, snippet);
  try {
    return await run(process.execPath, [scriptPath], { cwd: projectRoot });
  } finally {
    rmSync(scriptPath, { force: true });
  }
}

let demo: CliProcess;
let apiKey = '';
let storageTickS = 0;

beforeAll(async () => {
  // As the README says to start it, on a free port instead of 8787.
  const command = /^npm ci && npm run demo\b/m.exec(readme);
  expect(command).not.toBeNull();
  demo = await startCliProcess({
    args: ['demo', '--port', '0'],
    listeningPattern: /tokenbank demo is running: (http:\/\/\S+)/,
  });
  apiKey = /^API key \(demo tenant\): +(tbk-\S+)$/m.exec(demo.stdout())?.[1] ?? '';
  expect(apiKey).not.toBe('');
  storageTickS = Number(/^Storage tick: +(\d+) s\b/m.exec(demo.stdout())?.[1]);
  expect(storageTickS).toBeGreaterThan(0);
});

afterAll(async () => {
  await demo?.stop();
  const log = /^Request log \(JSON\): +(\S+)$/m.exec(demo?.stdout() ?? '')?.[1];
  if (log !== undefined) {
    rmSync(dirname(log), { recursive: true, force: true });
  }
});

describe('README.md', () => {
  it('answers the requests of "See the money move" with the figures it shows', async () => {
    const steps = stepsOf(fenced(section('See the money move'), 'sh'));
    expect(steps.map((step) => /\bcurl (-si?) /.exec(step.command)?.[1])).toEqual([
      '-s',
      '-si',
      '-si',
      '-si',
      '-s',
      '-s',
    ]);
    expect(steps.map((step) => step.awaitsStorageTick)).toEqual([
      false,
      false,
      false,
      false,
      false,
      true,
    ]);
    for (const step of steps) {
      const answer = step.awaitsStorageTick
        ? await answerAfterStorageTick(step)
        : await answerTo(step);
      for (const [name, value] of step.headers) {
        expect(answer.headers.get(name), `${name} after: ${step.command}`).toBe(value);
      }
      for (const body of step.bodies) {
        expect(answer.body, step.command).toMatchObject(body as Record<string, unknown>);
      }
    }
    // Every figure shown was checked: the headers of the chat requests, a body per other request.
    expect(steps.flatMap((step) => step.headers)).toHaveLength(8);
    expect(steps.flatMap((step) => step.bodies)).toHaveLength(4);
  }, 120_000);

  it('runs the batch snippet of "Hand over work that can wait" and prints what it says', async () => {
    const text = section('Hand over work that can wait');
    const said = /`node batch\.mjs` prints `([^`]+)`/.exec(text.replace(/\s+/g, ' '));
    expect(said).not.toBeNull();
    const { stdout } = await runSnippet(fenced(text, 'js'), 'batch');
    expect(stdout.trim()).toBe(said?.[1]);
  });

  it('runs the SDK snippet of "Use it from an app" and prints what it says', async () => {
    const text = section('Use it from an app');
    const said = /`node app\.mjs` prints `([^`]+)`, then the (\d+) tokens of the stream/.exec(
      text.replace(/\s+/g, ' '),
    );
    expect(said).not.toBeNull();
    const { stdout } = await runSnippet(fenced(text, 'js'), 'app');
    const [firstLine, ...rest] = stdout.split('\n');
    expect(firstLine).toBe(said?.[1]);
    expect(rest.join('\n').trim().split(/\s+/)).toHaveLength(Number(said?.[2]));
  });
});

describe('README.zh-CN.md', () => {
  it('is linked from the first line of README.md, and links back from its own', () => {
    expect(readme.split('\n')[0]).toContain('(README.zh-CN.md)');
    expect(chineseReadme.split('\n')[0]).toContain('(README.md)');
  });

  it('has the sections, commands, snippets and figures of README.md, in the same order', () => {
    const headings = (text: string) => text.match(/^## /gm)?.length;
    expect(headings(chineseReadme)).toBe(headings(readme));
    const english = fencedBlocks(readme).map(withoutWords);
    expect(english.length).toBeGreaterThan(10);
    expect(english[0]?.lines).toEqual(['npm ci && npm run demo', 'npm ci && npm test', '']);
    expect(fencedBlocks(chineseReadme).map(withoutWords)).toEqual(english);
  });
});
