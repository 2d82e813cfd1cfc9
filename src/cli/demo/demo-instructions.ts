/**
 * What the demo prints once it runs: the web console's address and which credential signs in as
 * whom, the API key, a curl line and an OpenAI SDK snippet that work as printed
 * (test/cli-processes.test.ts runs them), where its store and log are, and how to stop it. All of it goes to stdout in one piece; the request log goes to a file, so nothing
 * interleaves with it.
 */
import { chatModel } from './demo-seed.ts';

export type DemoFacts = {
  baseUrl: string;
  apiKey: string;
  adminToken: string;
  providerToken: string;
  databasePath: string;
  logPath: string;
  processId: number;
  storageTickS: number;
};

export function demoInstructions(facts: DemoFacts): string {
  const { baseUrl, apiKey, adminToken, providerToken } = facts;
  return `
tokenbank demo is running: ${baseUrl}

Web console:            ${baseUrl}/console
  Sign in as the demo tenant with the API key, as the operator with the admin token, or as
  the GPU provider with the provider token (kept in that browser tab only).

API key (demo tenant):  ${apiKey}
Admin token:            ${adminToken}
Provider token:         ${providerToken}
Store (SQLite):         ${facts.databasePath}
Request log (JSON):     ${facts.logPath}
Storage tick:           ${facts.storageTickS} s (stored files are charged once a tick)

Try it with curl:
  curl -s ${baseUrl}/v1/chat/completions -H 'Authorization: Bearer ${apiKey}' -H 'Content-Type: application/json' -d '{"model":"${chatModel}","messages":[{"role":"user","content":"Hello"}],"max_tokens":16}'

Or with the OpenAI SDK (save as demo.mjs in the repository root, where 'openai' is installed; node demo.mjs):
  import OpenAI from 'openai';
  const client = new OpenAI({ baseURL: '${baseUrl}/v1', apiKey: '${apiKey}' });
  const stream = await client.chat.completions.create({
    model: '${chatModel}', stream: true, max_tokens: 24,
    messages: [{ role: 'user', content: 'Hello' }],
  });
  for await (const chunk of stream) process.stdout.write(chunk.choices[0]?.delta?.content ?? '');

Watch the balance and coupons move (coupons of each kind pay first, the prepaid balance after):
  curl -s ${baseUrl}/v1/account -H 'Authorization: Bearer ${apiKey}'

Admin CLI (from the repository root):
  TOKENBANK_URL=${baseUrl} TOKENBANK_ADMIN_TOKEN=${adminToken} npx tokenbank admin backends list

Stop it with Ctrl-C, or: kill ${facts.processId}
`;
}
