/**
 * Part 2, memory: the resident memory (VmRSS) of each tokenbank process before, while and after
 * it relays many slow streams at once, round after round. A process that holds steady across
 * rounds frees what a stream took once the stream ended; one that grows leaks. Streams are opened
 * in small batches (a thousand connects at once would overflow the listen backlog and measure
 * SYN retries instead), counted open from their first chunk, and read to `[DONE]`.
 */
import type { Pool } from 'undici';
import {
  chatRequestBody,
  createClientPool,
  type LoadTarget,
  nowNs,
  sendChatRequest,
} from './load-generator.ts';
import { readProcessRssBytes } from './process-usage.ts';
import { type GatewayMemory, readGatewayMemory } from './tokenbank-metrics.ts';

export type MemoryOptions = {
  target: LoadTarget;
  pids: readonly number[];
  streamCount: number;
  roundCount: number;
  /** Pause after a round's streams ended (and their connections closed) before RSS is read. */
  settleMs: number;
  /** Forces a full collection in every process and answers the largest heap used after it. */
  heapUsedAfterCollection: () => Promise<number>;
  onProgress: (line: string) => void;
};

export type MemoryRound = {
  /** Largest RSS of any one process: before the round, while streams were open, after it. */
  beforeRssBytes: number;
  peakRssBytes: number;
  afterRssBytes: number;
  completedCount: number;
  errorCount: number;
  firstError: string | undefined;
  /** Most streams open (first chunk in, not yet ended) at the same time. */
  openCountMax: number;
  /** From the first send until every stream had its first chunk; NaN if some never did. */
  allOpenMs: number;
  /** The gateway's heap and sockets once every stream was open, and after they ended. */
  whileOpen: GatewayMemory | undefined;
  after: GatewayMemory;
  /** Heap used after a forced full collection once the streams ended: what the gateway keeps. */
  heapUsedAfterCollectionBytes: number;
};

const batchSize = 50;
const batchPauseMs = 10;
const sampleIntervalMs = 100;

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function largestRssBytes(pids: readonly number[]): number {
  return Math.max(...pids.map(readProcessRssBytes));
}

async function runRound(options: MemoryOptions): Promise<MemoryRound> {
  const { target, streamCount } = options;
  const pools: Pool[] = target.origins.map((origin) =>
    createClientPool(origin, Math.ceil(streamCount / target.origins.length)),
  );
  const body = chatRequestBody(target.model, true);
  const beforeRssBytes = largestRssBytes(options.pids);
  let peakRssBytes = beforeRssBytes;
  let firstChunkCount = 0;
  let openCount = 0;
  let openCountMax = 0;
  let allOpenAtNs = Number.NaN;
  let whileOpen: Promise<GatewayMemory> | undefined;
  let completedCount = 0;
  let errorCount = 0;
  let firstError: string | undefined;
  const sampler = setInterval(() => {
    peakRssBytes = Math.max(peakRssBytes, largestRssBytes(options.pids));
  }, sampleIntervalMs);
  const startedAtNs = nowNs();
  const onFirstChunk = () => {
    firstChunkCount += 1;
    openCount += 1;
    openCountMax = Math.max(openCountMax, openCount);
    if (firstChunkCount === streamCount) {
      allOpenAtNs = nowNs();
      whileOpen = readGatewayMemory(target.origins);
    }
  };
  const streams: Promise<void>[] = [];
  try {
    for (let index = 0; index < streamCount; index += 1) {
      if (index > 0 && index % batchSize === 0) {
        await pause(batchPauseMs);
      }
      const pool = pools[index % pools.length] as Pool;
      const stream = sendChatRequest(pool, target, body, true, onFirstChunk).then((outcome) => {
        if (outcome.firstChunkAtNs > 0) {
          openCount -= 1;
        }
        if (outcome.ok) {
          completedCount += 1;
        } else {
          errorCount += 1;
          firstError ??= outcome.error;
        }
      });
      streams.push(stream);
    }
    await Promise.all(streams);
  } finally {
    clearInterval(sampler);
    await Promise.all(pools.map((pool) => pool.close()));
  }
  await pause(options.settleMs);
  const after = await readGatewayMemory(target.origins);
  const afterRssBytes = largestRssBytes(options.pids);
  return {
    whileOpen: await whileOpen,
    after,
    heapUsedAfterCollectionBytes: await options.heapUsedAfterCollection(),
    beforeRssBytes,
    peakRssBytes,
    afterRssBytes,
    completedCount,
    errorCount,
    firstError,
    openCountMax,
    allOpenMs: (allOpenAtNs - startedAtNs) / 1e6,
  };
}

const megabytes = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

export async function measureSlowStreamMemory(options: MemoryOptions): Promise<MemoryRound[]> {
  const rounds: MemoryRound[] = [];
  for (let round = 1; round <= options.roundCount; round += 1) {
    const result = await runRound(options);
    rounds.push(result);
    options.onProgress(
      `memory round ${round}/${options.roundCount}: ${result.completedCount}/${options.streamCount} streams ok (${result.openCountMax} open at once), RSS ${megabytes(result.beforeRssBytes)} -> peak ${megabytes(result.peakRssBytes)} -> after ${megabytes(result.afterRssBytes)}; heap used ${megabytes(result.whileOpen?.heapUsedBytes ?? Number.NaN)} open -> ${megabytes(result.after.heapUsedBytes)} after, ${megabytes(result.heapUsedAfterCollectionBytes)} after a forced collection, ${result.after.openSockets} sockets after`,
    );
  }
  return rounds;
}
