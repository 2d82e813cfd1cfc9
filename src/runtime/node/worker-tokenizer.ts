/**
 * The Tokenizer port over a worker thread running tiktoken (tokenizer-worker.ts). One worker per
 * process, started on the first long count and shared by every tokenizer in it (tests build many
 * gateways in one process; each would otherwise load its own ~60 MB of BPE ranks). Counts queue
 * in order; past
 * `queueLengthMax` waiting, or if the worker fails, a count is answered at once with the byte
 * estimate (an upper estimate: metering/estimate-prompt-tokens.ts) and the overflow is logged,
 * so a flood of huge texts costs neither the event loop nor unbounded memory.
 */
import { Worker } from 'node:worker_threads';
import type { TiktokenEncoding } from 'tiktoken';
import { estimateTextTokens } from '../../metering/estimate-prompt-tokens.ts';
import type { Logger } from '../../platform/logger.ts';
import type { Tokenizer } from '../../platform/tokenizer.ts';
import { createEncodingCounter } from './tiktoken-tokenizer.ts';
import type { CountAnswer, CountMessage } from './tokenizer-worker.ts';

/**
 * The worker runs the compiled tokenizer-worker.js beside this file when tokenbank runs from its
 * build (dist/). Run from source (tests, benches), it loads the TypeScript module the way tsx's
 * register does, since loader flags in a worker's execArgv do not reach its entry module on Node
 * 20; tsx is then a devDependency that is installed. Messages posted before the module is loaded
 * wait in the worker's port.
 */
function workerSource(): string {
  if (!import.meta.url.endsWith('.ts')) {
    return `import(${JSON.stringify(new URL('./tokenizer-worker.js', import.meta.url).href)});`;
  }
  return `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})
  .then(({ register }) => { register(); return import(${JSON.stringify(
    new URL('./tokenizer-worker.ts', import.meta.url).href,
  )}); });`;
}

type Waiter = { resolve: (tokens: number) => void; text: string };

type CountingThread = {
  count(text: string, encoding: TiktokenEncoding): Promise<number>;
  readonly waitingCount: number;
};

function startCountingThread(
  onFailure: (message: string) => void,
  onExit: () => void,
): CountingThread {
  const worker = new Worker(workerSource(), { eval: true });
  const waiting = new Map<number, Waiter>();
  // Referenced only while a count is awaited: an idle tokenizer never keeps a process alive, and
  // a process never exits with a count still owed (a settlement waiting on it).
  const holdWhileWaiting = () => (waiting.size > 0 ? worker.ref() : worker.unref());
  let nextId = 0;
  const failAll = (message: string) => {
    onFailure(message);
    for (const waiter of waiting.values()) {
      waiter.resolve(estimateTextTokens(waiter.text));
    }
    waiting.clear();
    holdWhileWaiting();
  };
  worker.on('message', (answer: CountAnswer) => {
    const waiter = waiting.get(answer.id);
    waiting.delete(answer.id);
    holdWhileWaiting();
    if (waiter === undefined) {
      return;
    }
    if ('error' in answer) {
      onFailure(answer.error);
      waiter.resolve(estimateTextTokens(waiter.text));
      return;
    }
    waiter.resolve(answer.tokens);
  });
  worker.on('error', (error) => failAll(String(error)));
  worker.on('exit', () => {
    failAll('the tokenizer worker exited');
    // The next count starts a new worker rather than waiting on this one forever.
    onExit();
  });
  holdWhileWaiting();
  return {
    get waitingCount() {
      return waiting.size;
    },
    count(text, encoding) {
      const id = nextId;
      nextId += 1;
      const message: CountMessage = { id, text, encoding };
      return new Promise<number>((resolve) => {
        waiting.set(id, { resolve, text });
        holdWhileWaiting();
        worker.postMessage(message);
      });
    },
  };
}

let sharedThread: CountingThread | undefined;

export function createWorkerTokenizer(options: {
  encodingDefault: TiktokenEncoding;
  modelEncodings: Readonly<Record<string, TiktokenEncoding>>;
  queueLengthMax: number;
  /** Texts up to this long are counted on the calling thread: microseconds, no round trip. */
  inlineCharsMax: number;
  logger: Logger;
}): Tokenizer {
  let countInline: ((text: string, encoding: TiktokenEncoding) => number) | undefined;
  const encodingOf = (model: string) => options.modelEncodings[model] ?? options.encodingDefault;
  const countShortText = (text: string, model: string): number | undefined => {
    if (text.length > options.inlineCharsMax) {
      return undefined;
    }
    countInline ??= createEncodingCounter();
    return countInline(text, encodingOf(model));
  };
  const thread = () => {
    sharedThread ??= startCountingThread(
      (message) => options.logger.log('error', 'tokenizer_failed', { message }),
      () => {
        sharedThread = undefined;
      },
    );
    return sharedThread;
  };
  return {
    countShortText,
    countTokens(text, model) {
      const short = countShortText(text, model);
      if (short !== undefined) {
        return Promise.resolve(short);
      }
      const counting = thread();
      if (counting.waitingCount >= options.queueLengthMax) {
        options.logger.log('warn', 'tokenizer_queue_full', { waiting: counting.waitingCount });
        return Promise.resolve(estimateTextTokens(text));
      }
      return counting.count(text, encodingOf(model));
    },
  };
}
