import { describe, expect, it } from 'vitest';
import { limitsSchema } from '../../config.ts';
import { type ResponseIdentity, readChatAnswer, responseOfChatAnswer } from './responses-answer.ts';
import { responsesRequestOf } from './responses-request.ts';

const encoder = new TextEncoder();

function testIdentity(body: Record<string, unknown> = {}): ResponseIdentity {
  const { settings } = responsesRequestOf(
    { model: 'm', input: 'hi', ...body },
    limitsSchema.parse({}),
  );
  return { id: 'resp_1', messageId: 'msg_1', createdAtS: 1_700_000_000, settings };
}

function chatBytes(body: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(body));
}

const chatCompletion = (finishReason: string, usage?: Record<string, unknown>) => ({
  id: 'chatcmpl-1',
  object: 'chat.completion',
  choices: [
    {
      index: 0,
      message: { role: 'assistant', content: 'Hello there.' },
      finish_reason: finishReason,
    },
  ],
  ...(usage === undefined ? {} : { usage }),
});

describe('responseOfChatAnswer', () => {
  it('builds a completed response with its message, usage and the echoed settings', () => {
    const answer = readChatAnswer(
      chatBytes(
        chatCompletion('stop', {
          prompt_tokens: 9,
          completion_tokens: 3,
          total_tokens: 12,
          prompt_tokens_details: { cached_tokens: 4 },
          completion_tokens_details: { reasoning_tokens: 1 },
        }),
      ),
    );
    const response = responseOfChatAnswer(
      testIdentity({ instructions: 'Be kind.', metadata: { a: 'b' } }),
      answer,
    );
    expect(response).toMatchObject({
      id: 'resp_1',
      object: 'response',
      created_at: 1_700_000_000,
      status: 'completed',
      error: null,
      incomplete_details: null,
      model: 'm',
      instructions: 'Be kind.',
      metadata: { a: 'b' },
      output: [
        {
          type: 'message',
          id: 'msg_1',
          status: 'completed',
          role: 'assistant',
          content: [{ type: 'output_text', text: 'Hello there.', annotations: [] }],
        },
      ],
      usage: {
        input_tokens: 9,
        input_tokens_details: { cached_tokens: 4 },
        output_tokens: 3,
        output_tokens_details: { reasoning_tokens: 1 },
        total_tokens: 12,
      },
    });
  });

  it('marks an answer cut by its length incomplete for max_output_tokens', () => {
    const response = responseOfChatAnswer(
      testIdentity(),
      readChatAnswer(chatBytes(chatCompletion('length'))),
    );
    expect(response.status).toBe('incomplete');
    expect(response.incomplete_details).toEqual({ reason: 'max_output_tokens' });
    expect(response.output[0]?.status).toBe('incomplete');
  });

  it('leaves out usage the backend did not report, and counts it never as 0', () => {
    const none = responseOfChatAnswer(
      testIdentity(),
      readChatAnswer(chatBytes(chatCompletion('stop'))),
    );
    expect(none.usage).toBeUndefined();
    const plain = responseOfChatAnswer(
      testIdentity(),
      readChatAnswer(chatBytes(chatCompletion('stop', { prompt_tokens: 2, completion_tokens: 1 }))),
    );
    expect(plain.usage).toEqual({
      input_tokens: 2,
      input_tokens_details: {},
      output_tokens: 1,
      output_tokens_details: {},
      total_tokens: 3,
    });
  });

  it('delivers the text of a 2xx answer that is not JSON, as the gateway billed it', () => {
    const answer = readChatAnswer(encoder.encode('plain words'));
    expect(answer).toEqual({ text: 'plain words', finishReason: undefined, reported: undefined });
    expect(responseOfChatAnswer(testIdentity(), answer).output[0]?.content[0]?.text).toBe(
      'plain words',
    );
  });
});
