/**
 * How a backend's decode pace depends on its batch (DESIGN.md §5): a continuous-batching server
 * runs one step per output token of every sequence it decodes, and a step takes longer the more
 * sequences it holds, so the time between two tokens is about `base + perSequence x batch`. The
 * line is fitted per backend and model by least squares over recent samples, each the time between
 * tokens and the batch it was measured at between two scrapes; older samples fade with a
 * half-life, so a backend that changes (a new GPU, a slower engine) is refitted.
 *
 * The slope is what a new request costs the others: each sequence already decoding there waits
 * `perSequence` longer for each of its tokens while the new one runs. One inter-token average
 * cannot say that. Samples taken at nearly the same batch cannot either, so the slope is shrunk
 * towards 0 by a ridge of one sequence squared: then the line is flat at the recent average.
 */
import { decayFactor } from './decaying-average.ts';

/** Decayed sums of the samples: weight, batch, time, batch², batch x time. */
export type BatchDecodeLine = {
  weight: number;
  batchSum: number;
  interTokenSum: number;
  batchSquaredSum: number;
  productSum: number;
  updatedAtMs: number;
  /** The line through the samples so far, refitted at each sample (routing reads it often). */
  fit: DecodeLineFit | undefined;
};

/** A fitted line: the time between tokens at `batch` is `baseMs + perSequenceMs x batch`. */
export type DecodeLineFit = { baseMs: number; perSequenceMs: number };

/** Samples lose half their weight in this time (120 scrapes at the default 250 ms). */
export const decodeLineHalfLifeMs = 30_000;
/** Shrinks the slope when the batch barely varied: variance is in sequences². */
const slopeRidgeSequencesSquared = 1;
/** Fewer samples than this (in weight) fit nothing yet. */
const fitWeightMin = 4;

export function createBatchDecodeLine(): BatchDecodeLine {
  return {
    weight: 0,
    batchSum: 0,
    interTokenSum: 0,
    batchSquaredSum: 0,
    productSum: 0,
    updatedAtMs: 0,
    fit: undefined,
  };
}

/** Adds a sample: `interTokenMs` measured while `batch` sequences decoded on average. */
export function recordDecodeSample(
  line: BatchDecodeLine,
  batch: number,
  interTokenMs: number,
  atMs: number,
): void {
  if (!Number.isFinite(batch) || !Number.isFinite(interTokenMs) || batch < 0 || interTokenMs <= 0) {
    return;
  }
  const factor = decayFactor(atMs - line.updatedAtMs, decodeLineHalfLifeMs);
  line.weight = line.weight * factor + 1;
  line.batchSum = line.batchSum * factor + batch;
  line.interTokenSum = line.interTokenSum * factor + interTokenMs;
  line.batchSquaredSum = line.batchSquaredSum * factor + batch * batch;
  line.productSum = line.productSum * factor + batch * interTokenMs;
  line.updatedAtMs = Math.max(line.updatedAtMs, atMs);
  line.fit = fitDecodeLine(line);
}

/**
 * The line through the samples, its slope never negative (a bigger batch is never faster per
 * token); undefined with too few samples. Decay scales every sum alike, so it is read without it.
 */
export function fitDecodeLine(line: BatchDecodeLine): DecodeLineFit | undefined {
  if (line.weight < fitWeightMin) {
    return undefined;
  }
  const batchMean = line.batchSum / line.weight;
  const interTokenMean = line.interTokenSum / line.weight;
  const variance = Math.max(0, line.batchSquaredSum / line.weight - batchMean * batchMean);
  const covariance = line.productSum / line.weight - batchMean * interTokenMean;
  const perSequenceMs = Math.max(0, covariance / (variance + slopeRidgeSequencesSquared));
  return {
    baseMs: Math.max(0, interTokenMean - perSequenceMs * batchMean),
    perSequenceMs,
  };
}
