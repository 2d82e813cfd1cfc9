/**
 * Part 2, ledger: reserve+settle pairs per second of the production SQLite ledger, taken from
 * `bench/ledger/ledger-bench.ts` run as a child (the same code `npm run bench:ledger` runs, so
 * the two can never disagree). It runs after every server has stopped, so it has the machine.
 * The child's table is read for its group-commit row.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export type LedgerThroughput =
  | { ok: true; pairsPerSecond: number; baselinePairsPerSecond: number | undefined }
  | { ok: false; reason: string };

const projectRoot = fileURLToPath(new URL('../..', import.meta.url));
const ledgerTimeoutMs = 120_000;
const productionRowPattern = /^\|\s*group commit[^|]*\|\s*([\d,.]+)\s*\|/m;
const baselineRowPattern = /^\|\s*one transaction per operation[^|]*\|\s*([\d,.]+)\s*\|/m;

function rowValue(text: string, pattern: RegExp): number | undefined {
  const match = pattern.exec(text);
  return match?.[1] === undefined ? undefined : Number(match[1].replaceAll(',', ''));
}

export function measureLedgerThroughput(
  pairCount: number,
  roundCount: number,
): Promise<LedgerThroughput> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'bench/ledger/ledger-bench.ts',
        '--pairs',
        String(pairCount),
        '--rounds',
        String(roundCount),
      ],
      { cwd: projectRoot, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      stdout += text;
    });
    child.stderr.setEncoding('utf8').on('data', (text: string) => {
      stderr += text;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), ledgerTimeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      const pairsPerSecond = rowValue(stdout, productionRowPattern);
      if (code !== 0 || pairsPerSecond === undefined) {
        resolve({
          ok: false,
          reason: `ledger bench exited (${code ?? signal}) without a group-commit row: ${stderr.slice(-1000)}`,
        });
        return;
      }
      resolve({
        ok: true,
        pairsPerSecond,
        baselinePairsPerSecond: rowValue(stdout, baselineRowPattern),
      });
    });
  });
}
