import { once } from 'node:events';
import { createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ResponseClientSignal } from './node-ports.ts';

const servers: ReturnType<typeof createServer>[] = [];

afterEach(() => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    server.close();
  }
});

/** A real server holding one client's request open, and that client. */
async function openRequest() {
  const server = createServer();
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const client = request({ host: '127.0.0.1', port, method: 'POST', path: '/' });
  client.on('error', () => {});
  client.flushHeaders();
  const [, response] = (await once(server, 'request')) as [IncomingMessage, ServerResponse];
  return { client, response };
}

describe('ResponseClientSignal', () => {
  it('aborts, once, when the client leaves before the answer is complete', async () => {
    const { client, response } = await openRequest();
    const signal = new ResponseClientSignal(response);
    const calls: string[] = [];
    signal.addEventListener('abort', () => calls.push('first'), { once: true });
    signal.addEventListener('abort', () => calls.push('second'));
    expect(signal.aborted).toBe(false);
    client.destroy();
    await once(response, 'close');
    expect(signal.aborted).toBe(true);
    expect(calls).toEqual(['first', 'second']);
  });

  it('does not abort when the answer was complete', async () => {
    const { response } = await openRequest();
    const signal = new ResponseClientSignal(response);
    const calls: string[] = [];
    signal.addEventListener('abort', () => calls.push('aborted'));
    response.end('done');
    await once(response, 'close');
    expect(signal.aborted).toBe(false);
    expect(calls).toEqual([]);
  });

  it('forgets a removed listener, and only that one', async () => {
    const { client, response } = await openRequest();
    const signal = new ResponseClientSignal(response);
    const calls: string[] = [];
    const removed = () => calls.push('removed');
    signal.addEventListener('abort', removed);
    signal.addEventListener('abort', () => calls.push('kept'));
    signal.removeEventListener('abort', removed);
    client.destroy();
    await once(response, 'close');
    expect(calls).toEqual(['kept']);
  });

  it('reads a client already gone as aborted, without calling a late listener', async () => {
    const { client, response } = await openRequest();
    client.destroy();
    await once(response, 'close');
    const signal = new ResponseClientSignal(response);
    const calls: string[] = [];
    signal.addEventListener('abort', () => calls.push('late'));
    expect(signal.aborted).toBe(true);
    expect(calls).toEqual([]);
  });
});
