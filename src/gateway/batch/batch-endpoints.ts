/**
 * What each endpoint a batch may name does with a line's body: read it exactly as the endpoint
 * reads an HTTP request (so a line the endpoint would refuse fails the batch at validation, not
 * hours later), and answer it through the same inference path as an interactive request. Lines
 * never stream: their answer is written to a file, not relayed.
 */
import type { Limits } from '../../config.ts';
import type { BatchRecord } from '../../db/batch-store.ts';
import { GatewayError } from '../../errors.ts';
import { answerResponses } from '../inference/answer-responses.ts';
import {
  type InferenceEndpoint,
  type InferenceRequest,
  inferenceEndpoints,
  inferenceRequestOf,
} from '../inference/inference-request.ts';
import { answerInference, type InferenceCall } from '../inference/inference-routes.ts';
import { responsesRequestOf } from '../inference/responses-request.ts';
import { validateJson } from '../middleware/json-body.ts';

export type BatchEndpoint = BatchRecord['endpoint'];

export type BatchEndpointRule = {
  /** Reads a line's body as the endpoint would; throws the GatewayError it would answer. */
  read(body: Record<string, unknown>): void;
  answer(call: InferenceCall, body: Record<string, unknown>): Promise<Response>;
};

function refuseStream(body: Record<string, unknown>): void {
  if (body.stream === true) {
    throw new GatewayError('invalid_request', 'A batch line cannot stream: set stream to false.', {
      param: 'stream',
    });
  }
}

function inferenceRule(endpoint: InferenceEndpoint, limits: Limits): BatchEndpointRule {
  const schema = endpoint.schema(limits);
  const requestOf = (body: Record<string, unknown>): InferenceRequest => {
    refuseStream(body);
    return inferenceRequestOf(endpoint, validateJson(body, schema), limits);
  };
  return {
    read: (body) => {
      requestOf(body);
    },
    answer: (call, body) => answerInference(call, requestOf(body)),
  };
}

function endpointAt(path: InferenceEndpoint['path']): InferenceEndpoint {
  const endpoint = inferenceEndpoints.find((candidate) => candidate.path === path);
  if (endpoint === undefined) {
    throw new Error(`no inference endpoint ${path}`);
  }
  return endpoint;
}

export function createBatchEndpointRules(limits: Limits): Record<BatchEndpoint, BatchEndpointRule> {
  return {
    '/v1/chat/completions': inferenceRule(endpointAt('/chat/completions'), limits),
    '/v1/embeddings': inferenceRule(endpointAt('/embeddings'), limits),
    '/v1/responses': {
      read: (body) => {
        refuseStream(body);
        responsesRequestOf(body, limits);
      },
      answer: (call, body) => {
        refuseStream(body);
        return answerResponses(call, body);
      },
    },
  };
}
