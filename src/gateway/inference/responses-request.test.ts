import { describe, expect, it } from 'vitest';
import { limitsSchema } from '../../config.ts';
import { GatewayError } from '../../errors.ts';
import { responsesRequestOf } from './responses-request.ts';

const limits = limitsSchema.parse({ messagesCountMax: 4 });

function refusal(body: Record<string, unknown>): GatewayError {
  try {
    responsesRequestOf({ model: 'm', input: 'hi', ...body }, limits);
  } catch (error) {
    if (error instanceof GatewayError) {
      return error;
    }
    throw error;
  }
  throw new Error(`the body was accepted: ${JSON.stringify(body)}`);
}

describe('responsesRequestOf', () => {
  it('turns a string input and instructions into a chat request with a system message first', () => {
    const { chat, settings } = responsesRequestOf(
      {
        model: 'm',
        input: 'Say hello.',
        instructions: 'Be brief.',
        max_output_tokens: 12,
        temperature: 0.5,
        top_p: 0.9,
        user: 'u-1',
        metadata: { order: '42' },
        store: false,
      },
      limits,
    );
    expect(chat.endpoint.path).toBe('/chat/completions');
    expect(chat.model).toBe('m');
    expect(chat.stream).toBe(false);
    expect(chat.outputTokensAsked).toBe(12);
    expect(chat.outputField).toBe('max_tokens');
    expect(chat.forwardedFields).toEqual({
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Say hello.' },
      ],
      temperature: 0.5,
      top_p: 0.9,
      user: 'u-1',
    });
    expect(settings).toMatchObject({
      model: 'm',
      instructions: 'Be brief.',
      max_output_tokens: 12,
      temperature: 0.5,
      top_p: 0.9,
      metadata: { order: '42' },
      user: 'u-1',
      tools: [],
      tool_choice: 'auto',
    });
  });

  it('asks a stream for its usage chunk and keeps it for response.completed', () => {
    const { chat } = responsesRequestOf({ model: 'm', input: 'hi', stream: true }, limits);
    expect(chat.stream).toBe(true);
    expect(chat.usageWithheld).toBe(false);
  });

  it('maps message items: one text part as a string, several parts and images as chat parts', () => {
    const { chat } = responsesRequestOf(
      {
        model: 'm',
        input: [
          { role: 'developer', content: 'Rules.' },
          { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'One.' }] },
          {
            id: 'msg_1',
            type: 'message',
            role: 'assistant',
            status: 'completed',
            content: [{ type: 'output_text', text: 'Two.', annotations: [] }],
          },
          {
            role: 'user',
            content: [
              { type: 'input_text', text: 'Look:' },
              { type: 'input_image', image_url: 'https://example.com/a.png', detail: 'low' },
            ],
          },
        ],
      },
      limits,
    );
    expect(chat.forwardedFields.messages).toEqual([
      { role: 'system', content: 'Rules.' },
      { role: 'user', content: 'One.' },
      { role: 'assistant', content: 'Two.' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Look:' },
          { type: 'image_url', image_url: { url: 'https://example.com/a.png', detail: 'low' } },
        ],
      },
    ]);
    expect(chat.prompt.imageCount).toBe(1);
  });

  it('maps a JSON schema text format and a reasoning effort to their chat fields', () => {
    const schema = { type: 'object', properties: { a: { type: 'string' } } };
    const { chat, settings } = responsesRequestOf(
      {
        model: 'm',
        input: 'hi',
        text: { format: { type: 'json_schema', name: 'answer', schema, strict: true } },
        reasoning: { effort: 'low' },
        tools: [],
        tool_choice: 'none',
      },
      limits,
    );
    expect(chat.forwardedFields.response_format).toEqual({
      type: 'json_schema',
      json_schema: { name: 'answer', schema, strict: true },
    });
    expect(chat.forwardedFields.reasoning_effort).toBe('low');
    expect(settings.reasoning).toEqual({ effort: 'low', summary: null });
    expect(settings.tool_choice).toBe('none');
  });

  it.each([
    { name: 'a built-in tool', body: { tools: [{ type: 'web_search' }] }, param: 'tools' },
    { name: 'a function tool', body: { tools: [{ type: 'function', name: 'f' }] }, param: 'tools' },
    { name: 'a required tool choice', body: { tool_choice: 'required' }, param: 'tool_choice' },
    {
      name: 'a stored response',
      body: { previous_response_id: 'resp_1' },
      param: 'previous_response_id',
    },
    { name: 'a conversation', body: { conversation: 'conv_1' }, param: 'conversation' },
    { name: 'a background run', body: { background: true }, param: 'background' },
    {
      name: 'a reasoning summary',
      body: { reasoning: { summary: 'auto' } },
      param: 'reasoning.summary',
    },
    { name: 'an unknown field', body: { truncation: 'auto' }, param: 'truncation' },
    { name: 'a misspelt cap', body: { max_tokens: 5 }, param: 'max_tokens' },
    { name: 'a cap of zero', body: { max_output_tokens: 0 }, param: 'max_output_tokens' },
    {
      name: 'a tool call output item',
      body: { input: [{ type: 'function_call_output', call_id: 'c', output: 'x' }] },
      param: 'input.0.type',
    },
    {
      name: 'a file part',
      body: { input: [{ role: 'user', content: [{ type: 'input_file', file_id: 'file-1' }] }] },
      param: 'input.0.content.0.type',
    },
    {
      name: 'an image by file id',
      body: {
        input: [
          {
            role: 'user',
            content: [{ type: 'input_image', image_url: 'https://x/a.png', file_id: 'f' }],
          },
        ],
      },
      param: 'input.0.content.0.file_id',
    },
    {
      name: 'more items than messagesCountMax',
      body: { input: Array.from({ length: 5 }, () => ({ role: 'user', content: 'x' })) },
      param: 'input',
    },
    {
      name: 'seventeen metadata pairs',
      body: {
        metadata: Object.fromEntries(Array.from({ length: 17 }, (_, index) => [`k${index}`, 'v'])),
      },
      param: 'metadata',
    },
    { name: 'an empty input', body: { input: [] }, param: 'input' },
    { name: 'a missing model', body: { model: undefined }, param: 'model' },
  ])('refuses $name with a 400 naming $param', ({ body, param }) => {
    const error = refusal(body);
    expect(error.code).toBe('invalid_request');
    expect(error.status).toBe(400);
    expect(error.param).toBe(param);
  });

  it('says why a refused feature is refused', () => {
    expect(refusal({ tools: [{ type: 'web_search' }] }).message).toMatch(/tools are not supported/);
    expect(refusal({ previous_response_id: 'resp_1' }).message).toMatch(/stores no responses/);
  });
});
