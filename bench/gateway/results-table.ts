/**
 * The bench's report, as markdown on stdout so it can be pasted into docs/BENCHMARKS.md: how it
 * was run, the servers side by side (each value also as a ratio to the floor), the raw latencies
 * behind the added ones, the memory rounds, the ledger rate and the targets with pass/miss.
 */
import type { TargetName } from './bench-options.ts';
import type { LedgerThroughput } from './ledger-throughput.ts';
import { formatInteger, formatMegabytes, formatWithRatio } from './number-format.ts';
import type { TargetSummary } from './round-results.ts';
import type { MemoryRound } from './slow-stream-memory.ts';
import type { Verdict } from './target-verdicts.ts';

export type ServerRow = {
  name: TargetName;
  label: string;
  summary: TargetSummary | undefined;
  /** Why there is no summary (Portkey could not be installed or started). */
  unavailableReason: string | undefined;
};

export type ReportInputs = {
  title: string;
  /** Lines of context: command, machine, plan. */
  context: readonly string[];
  servers: readonly ServerRow[];
  concurrency: number;
  memoryRounds: readonly MemoryRound[] | undefined;
  /** tokenbank's RSS right after it started, before any load. */
  tokenbankStartRssBytes: number | undefined;
  streamCount: number;
  ledger: LedgerThroughput | undefined;
  verdicts: readonly Verdict[];
  notes: readonly string[];
};

const reasonCharsMax = 160;

function tableLines(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const alignment = header.map((_, index) => (index === 0 ? '---' : '---:'));
  return [header, alignment, ...rows].map((cells) => `| ${cells.join(' | ')} |`);
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > reasonCharsMax ? `${flat.slice(0, reasonCharsMax)}…` : flat;
}

function serverTables(inputs: ReportInputs): string[] {
  const floor = inputs.servers.find((row) => row.name === 'floor')?.summary;
  const ratioTo = (pick: (summary: TargetSummary) => number) => (summary: TargetSummary) =>
    formatWithRatio(pick(summary), floor === undefined ? Number.NaN : pick(floor));
  const columns = [
    ratioTo((summary) => summary.requestsPerSecond),
    ratioTo((summary) => summary.cpuUsPerRequest),
    ratioTo((summary) => summary.addedLatencyUsP50),
    ratioTo((summary) => summary.addedLatencyUsP99),
    ratioTo((summary) => summary.addedFirstChunkUsP50),
    (summary: TargetSummary) => formatInteger(summary.errorCount),
  ];
  const unavailable = (row: ServerRow, width: number) => [
    row.label,
    `unavailable: ${oneLine(row.unavailableReason ?? 'not started')}`,
    ...Array.from({ length: width - 1 }, () => '–'),
  ];
  const mainRows = inputs.servers.map((row) =>
    row.summary === undefined
      ? unavailable(row, columns.length)
      : [row.label, ...columns.map((column) => column(row.summary as TargetSummary))],
  );
  const rawRows = inputs.servers.map((row) => {
    const summary = row.summary;
    if (summary === undefined) {
      return unavailable(row, 5);
    }
    return [
      row.label,
      formatInteger(summary.latencyUsP50),
      formatInteger(summary.latencyUsP99),
      formatInteger(summary.firstChunkUsP50),
      formatInteger(summary.firstChunkUsP99),
      formatInteger(summary.streamUsP50),
    ];
  });
  return [
    `### Servers (ratio to the floor in brackets)`,
    '',
    ...tableLines(
      [
        'server',
        `req/s (c=${inputs.concurrency})`,
        'server CPU µs/req',
        'added latency p50 µs (c=1)',
        'added latency p99 µs (c=1)',
        'stream first chunk added µs (p50, c=1)',
        'errors',
      ],
      mainRows,
    ),
    '',
    'Raw latencies behind the added ones (c=1, µs, median of the rounds):',
    '',
    ...tableLines(
      [
        'server',
        'latency p50',
        'latency p99',
        'stream first chunk p50',
        'stream first chunk p99',
        'whole stream p50',
      ],
      rawRows,
    ),
  ];
}

function memoryTable(inputs: ReportInputs): string[] {
  const rounds = inputs.memoryRounds;
  if (rounds === undefined) {
    return [];
  }
  const rows = rounds.map((round, index) => [
    String(index + 1),
    formatMegabytes(round.beforeRssBytes),
    formatMegabytes(round.peakRssBytes),
    formatMegabytes(round.afterRssBytes),
    `${formatInteger(round.completedCount)} / ${formatInteger(inputs.streamCount)}`,
    formatInteger(round.openCountMax),
    Number.isFinite(round.allOpenMs) ? `${formatInteger(round.allOpenMs)} ms` : 'never',
    formatMegabytes(round.whileOpen?.heapUsedBytes ?? Number.NaN),
    formatMegabytes(round.after.heapUsedBytes),
    formatMegabytes(round.heapUsedAfterCollectionBytes),
    formatMegabytes(round.after.externalBytes),
    formatInteger(round.after.openSockets),
  ]);
  const firstError = rounds.find((round) => round.firstError !== undefined)?.firstError;
  return [
    `### tokenbank memory with ${formatInteger(inputs.streamCount)} concurrent slow streams`,
    '',
    ...tableLines(
      [
        'round',
        'RSS before',
        'RSS peak while open',
        'RSS after they end',
        'streams completed',
        'open at once (max)',
        'all open after',
        'heap used while open',
        'heap used after',
        'heap kept (after a forced collection)',
        'external after',
        'sockets after',
      ],
      rows,
    ),
    '',
    `RSS of tokenbank right after start, before any request: ${formatMegabytes(inputs.tokenbankStartRssBytes ?? Number.NaN)}. Heap and sockets are tokenbank's own /metrics; heap used counts garbage V8 has not collected yet (it runs a full collection only under pressure). Heap kept is read after the RSS figures, once a full collection forced in tokenbank (the bench preloads bench/gateway/forced-collection-preload.mjs) has run: heap kept that grows round after round is memory tokenbank holds on to.`,
    ...(firstError === undefined ? [] : ['', `First stream error: ${oneLine(firstError)}`]),
  ];
}

function ledgerLines(ledger: LedgerThroughput | undefined): string[] {
  if (ledger === undefined) {
    return [];
  }
  const text = ledger.ok
    ? `${formatInteger(ledger.pairsPerSecond)} reserve+settle pairs/s with group commit (one transaction per operation: ${formatInteger(ledger.baselinePairsPerSecond ?? Number.NaN)}), from bench/ledger/ledger-bench.ts.`
    : `not measured: ${oneLine(ledger.reason)}`;
  return ['### Ledger', '', text];
}

function verdictTable(verdicts: readonly Verdict[]): string[] {
  return [
    '### Targets',
    '',
    ...tableLines(
      ['target', 'measured', 'limit', 'result'],
      verdicts.map((verdict) => [verdict.target, verdict.measured, verdict.limit, verdict.result]),
    ),
  ];
}

export function renderReport(inputs: ReportInputs): string {
  const hasServers = inputs.servers.length > 0;
  const sections = [
    [`## ${inputs.title}`, '', ...inputs.context.map((line) => `- ${line}`)],
    hasServers ? serverTables(inputs) : [],
    memoryTable(inputs),
    ledgerLines(inputs.ledger),
    verdictTable(inputs.verdicts),
    inputs.notes.length === 0 ? [] : ['Notes:', '', ...inputs.notes.map((note) => `- ${note}`)],
  ];
  return `${sections
    .filter((lines) => lines.length > 0)
    .map((lines) => lines.join('\n'))
    .join('\n\n')}\n`;
}
