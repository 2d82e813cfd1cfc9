/**
 * Which request fields go upstream, per endpoint, and which are refused. The body a backend gets
 * is rebuilt from these fields only: what the gateway meters is then exactly what the backend
 * reads. A field outside the list is dropped, never forwarded as the client wrote it, because a
 * backend may read a field the gateway does not meter (llama.cpp reads `n_predict` before
 * `max_tokens`) or match keys case-insensitively (Go decoders: `{"stream":false,"Stream":true}`
 * streams on Ollama). Those two kinds are refused outright with a 400 naming the field, so a
 * client learns at once that they do nothing here.
 */

/** Fields that change what is metered: their exact spelling is the only one accepted. */
const meteredFields = [
  'model',
  'messages',
  'prompt',
  'input',
  'stream',
  'stream_options',
  'max_tokens',
  'max_completion_tokens',
  'n',
  'best_of',
] as const;

/** Other names servers read for the output length or the number of choices. */
const aliasesOfMetered: Readonly<Record<string, string>> = {
  n_predict: 'max_tokens',
  num_predict: 'max_tokens',
  max_new_tokens: 'max_tokens',
  max_length: 'max_tokens',
  max_output_tokens: 'max_tokens',
  max_gen_len: 'max_tokens',
  num_return_sequences: 'n',
  num_generations: 'n',
  options: 'max_tokens',
};

/** OpenAI's sampling and output-shape fields, and the common extras of open servers. */
const samplingFields = [
  'temperature',
  'top_p',
  'top_k',
  'min_p',
  'stop',
  'seed',
  'presence_penalty',
  'frequency_penalty',
  'repetition_penalty',
  'length_penalty',
  'logit_bias',
  'logprobs',
  'top_logprobs',
  'user',
  'ignore_eos',
  'min_tokens',
  'stop_token_ids',
  'skip_special_tokens',
  'spaces_between_special_tokens',
  'include_stop_str_in_output',
] as const;

const chatFields = [
  ...samplingFields,
  'tools',
  'tool_choice',
  'parallel_tool_calls',
  'functions',
  'function_call',
  'response_format',
  'reasoning_effort',
  'metadata',
  'modalities',
  'prediction',
  'service_tier',
  'store',
  'documents',
  'chat_template_kwargs',
  'add_generation_prompt',
  'continue_final_message',
  'guided_json',
  'guided_regex',
  'guided_choice',
  'guided_grammar',
  'verbosity',
] as const;

const completionFields = [...samplingFields, 'suffix', 'echo'] as const;

const embeddingFields = ['encoding_format', 'dimensions', 'user'] as const;

export type FieldPolicy = {
  /** Unmetered fields forwarded as given. */
  passed: ReadonlySet<string>;
};

export const chatFieldPolicy: FieldPolicy = { passed: new Set(chatFields) };
export const completionFieldPolicy: FieldPolicy = { passed: new Set(completionFields) };
export const embeddingFieldPolicy: FieldPolicy = { passed: new Set(embeddingFields) };

/** Lower case without separators: `MAX_TOKENS`, `maxTokens` and `max-tokens` all read alike. */
function folded(name: string): string {
  return name.toLowerCase().replace(/[-_]/g, '');
}

const meteredByFolded = new Map<string, string>(meteredFields.map((name) => [folded(name), name]));
const meteredSet: ReadonlySet<string> = new Set(meteredFields);

/**
 * The field the gateway refuses in this body, with the field it stands for, or undefined: a
 * spelling of a metered field other than its own, or a known alias of one. `stream_options` is
 * checked one level down, where `include_usage` is metered.
 */
export function refusedField(
  body: Record<string, unknown>,
): { field: string; meteredField: string } | undefined {
  for (const name of Object.keys(body)) {
    if (meteredSet.has(name)) {
      continue;
    }
    const metered = meteredByFolded.get(folded(name)) ?? aliasesOfMetered[name];
    if (metered !== undefined) {
      return { field: name, meteredField: metered };
    }
  }
  const options = body.stream_options;
  if (typeof options === 'object' && options !== null) {
    for (const name of Object.keys(options)) {
      if (name !== 'include_usage' && folded(name) === 'includeusage') {
        return { field: `stream_options.${name}`, meteredField: 'stream_options.include_usage' };
      }
    }
  }
  return undefined;
}

/** The unmetered fields of `body` that go upstream as given. */
export function passedFields(
  body: Record<string, unknown>,
  policy: FieldPolicy,
): Record<string, unknown> {
  const passed: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(body)) {
    if (policy.passed.has(name) && value !== undefined) {
      passed[name] = value;
    }
  }
  return passed;
}
