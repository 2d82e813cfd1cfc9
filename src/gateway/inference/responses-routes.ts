/**
 * POST /v1/responses: OpenAI's Responses API for API keys, answered by the chat backends through
 * answerResponses. The body is read and parsed here (size and depth bounded like every body);
 * what it may hold is answerResponses' business, so a body read from elsewhere is held to the
 * same rules.
 */
import type { Hono } from 'hono';
import type { HonoEnv } from '../../deps.ts';
import { requireClient } from '../middleware/authenticate.ts';
import { parseJsonObject } from '../middleware/json-body.ts';
import { answerResponses } from './answer-responses.ts';
import { inferenceCallOf } from './inference-routes.ts';

export function registerResponsesRoutes(app: Hono<HonoEnv>): void {
  app.post('/v1/responses', requireClient, async (c) => {
    const deps = c.get('deps');
    const { limits } = deps.config;
    const bytes = await deps.request.readBody(c, limits.requestBodyBytesMax);
    return answerResponses(inferenceCallOf(c), parseJsonObject(bytes, limits.jsonDepthMax));
  });
}
