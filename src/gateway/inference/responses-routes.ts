/**
 * POST /v1/responses: OpenAI's Responses API for API keys, answered by the chat backends through
 * answerResponses. The body is read and parsed here (size and depth bounded like every body);
 * what it may hold is answerResponses' business, so a body read from elsewhere is held to the
 * same rules.
 */
import type { Hono } from 'hono';
import { z } from 'zod';
import type { Limits } from '../../config.ts';
import type { HonoEnv } from '../../deps.ts';
import { requireClient } from '../middleware/authenticate.ts';
import { parseJsonObject } from '../middleware/json-body.ts';
import { type RouteDoc, routeDocsFor } from '../openapi/route-doc.ts';
import { answerResponses } from './answer-responses.ts';
import { inferenceCallOf } from './inference-routes.ts';
import { responsesBodySchema, responsesInputItems } from './responses-request.ts';

export function registerResponsesRoutes(app: Hono<HonoEnv>): void {
  app.post('/v1/responses', requireClient, async (c) => {
    const deps = c.get('deps');
    const { limits } = deps.config;
    const bytes = await deps.request.readBody(c, limits.requestBodyBytesMax);
    return answerResponses(inferenceCallOf(c), parseJsonObject(bytes, limits.jsonDepthMax));
  });
}

export function responsesRouteDocs(limits: Limits): RouteDoc[] {
  return [
    routeDocsFor('apiKey')(
      'post',
      '/v1/responses',
      "OpenAI's Responses API, answered by chat backends",
      {
        // JSON Schema shows a preprocess by its result: say that a string alone is taken too.
        body: responsesBodySchema(limits).extend({
          input: z.union([z.string(), responsesInputItems(limits)]),
        }),
        successTypes: ['application/json', 'text/event-stream'],
      },
    ),
  ];
}
