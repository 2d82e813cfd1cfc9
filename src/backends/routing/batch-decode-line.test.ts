import { describe, expect, it } from 'vitest';
import { createSeededRandom } from '../../platform/random.ts';
import {
  createBatchDecodeLine,
  decodeLineHalfLifeMs,
  fitDecodeLine,
  recordDecodeSample,
} from './batch-decode-line.ts';

describe('decode line against the batch', () => {
  it('fits nothing before a few samples', () => {
    const line = createBatchDecodeLine();
    recordDecodeSample(line, 4, 12, 0);
    expect(fitDecodeLine(line)).toBeUndefined();
  });

  it("recovers a server's base and per-sequence cost from noisy samples", () => {
    const line = createBatchDecodeLine();
    const random = createSeededRandom(3);
    for (let index = 0; index < 200; index += 1) {
      const batch = random() * 60;
      const noise = (random() - 0.5) * 4;
      recordDecodeSample(line, batch, 10 + 0.3 * batch + noise, index * 250);
    }
    const fit = fitDecodeLine(line);
    expect(fit?.baseMs).toBeCloseTo(10, 0);
    expect(fit?.perSequenceMs).toBeCloseTo(0.3, 1);
  });

  it('is flat at the average when the batch never varied', () => {
    const line = createBatchDecodeLine();
    for (let index = 0; index < 10; index += 1) {
      recordDecodeSample(line, 8, index % 2 === 0 ? 18 : 22, 0);
    }
    expect(fitDecodeLine(line)).toEqual({ baseMs: 20, perSequenceMs: 0 });
  });

  it('never has a bigger batch decode faster per token', () => {
    const line = createBatchDecodeLine();
    for (const batch of [1, 5, 10, 15, 20]) {
      recordDecodeSample(line, batch, 30 - batch, 0);
    }
    expect(fitDecodeLine(line)?.perSequenceMs).toBe(0);
  });

  it('forgets old samples: a server that slowed down is refitted', () => {
    const line = createBatchDecodeLine();
    for (let index = 0; index < 40; index += 1) {
      recordDecodeSample(line, index % 20, 10 + 0.3 * (index % 20), index * 250);
    }
    const laterMs = 10 * decodeLineHalfLifeMs;
    for (let index = 0; index < 40; index += 1) {
      recordDecodeSample(line, index % 20, 50 + 1.5 * (index % 20), laterMs + index * 250);
    }
    const fit = fitDecodeLine(line);
    expect(fit?.baseMs).toBeCloseTo(50, 0);
    expect(fit?.perSequenceMs).toBeCloseTo(1.5, 1);
  });

  it('ignores samples that cannot be right', () => {
    const line = createBatchDecodeLine();
    recordDecodeSample(line, -1, 10, 0);
    recordDecodeSample(line, 2, 0, 0);
    recordDecodeSample(line, Number.NaN, 10, 0);
    expect(line.weight).toBe(0);
  });
});
