/**
 * The tokenizer's worker thread: counts what the gateway's thread sends it, one message at a
 * time and at the lowest priority, so a megabyte of Chinese text (1.5 s of BPE) delays other
 * counts but never a request.
 * Messages are `{id, text, encoding}`; answers `{id, tokens}` or `{id, error}`.
 */
import { setPriority } from 'node:os';
import { parentPort } from 'node:worker_threads';
import type { TiktokenEncoding } from 'tiktoken';
import { createEncodingCounter } from './tiktoken-tokenizer.ts';

export type CountMessage = { id: number; text: string; encoding: TiktokenEncoding };
export type CountAnswer = { id: number; tokens: number } | { id: number; error: string };

/**
 * The lowest scheduling priority, for this thread only (Linux keeps a nice value per thread):
 * on a machine whose cores are busy, serving requests comes before counting tokens. Where the
 * system refuses, counting runs at normal priority.
 */
function yieldToRequests(): void {
  try {
    setPriority(19);
  } catch {
    // Not permitted here: a normal priority only costs latency under load.
  }
}

yieldToRequests();
const count = createEncodingCounter();
const port = parentPort;
if (port === null) {
  throw new Error('tokenizer-worker.ts runs only as a worker thread');
}
port.on('message', (message: CountMessage) => {
  try {
    port.postMessage({ id: message.id, tokens: count(message.text, message.encoding) });
  } catch (error) {
    port.postMessage({ id: message.id, error: String(error) });
  }
});
