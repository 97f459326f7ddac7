// tests/runner-socket.ts: vitest's sockets to its workerd test runtimes go without permessage-deflate.
// It works by replacing the `ws` that Miniflare requires at run time; these fail when that stops being
// true (Miniflare bundling its own copy, or the replacement offering the extension again).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import '../runner-socket.ts';

const requireFromMiniflare = createRequire(createRequire(import.meta.url).resolve('miniflare'));

type ClientSocket = { extensions: string; once(event: string, listener: (...args: unknown[]) => void): void; close(): void };
type ClientClass = new (address: string, options?: Record<string, unknown>) => ClientSocket;

describe('the runner socket', () => {
  it('Miniflare requires `ws` when it runs, so the replacement reaches the socket it opens to the runner', () => {
    const miniflare = readFileSync(createRequire(import.meta.url).resolve('miniflare'), 'utf8');
    expect(miniflare).toMatch(/require\("ws"\)/);
  });

  it("Miniflare's `ws` client no longer offers permessage-deflate to a server that would take it, and still connects", async () => {
    const WebSocket = requireFromMiniflare('ws') as ClientClass & { WebSocketServer: new (options: Record<string, unknown>) => { address(): AddressInfo; once(event: string, listener: (...args: unknown[]) => void): void; close(): void } };
    const server = new WebSocket.WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: true });
    await new Promise((resolve) => server.once('listening', resolve));
    const offered = new Promise<string | undefined>((resolve) => server.once('headers', (_headers, request) => resolve((request as { headers: Record<string, string> }).headers['sec-websocket-extensions'])));
    try {
      // As Miniflare calls it (address, protocols, options), and as (address, options).
      for (const client of [new WebSocket(`ws://127.0.0.1:${server.address().port}`, { headers: {} }), new (WebSocket as unknown as new (a: string, p: undefined, o: object) => ClientSocket)(`ws://127.0.0.1:${server.address().port}`, undefined, {})]) {
        await new Promise((resolve, reject) => {
          client.once('open', resolve);
          client.once('error', reject);
        });
        expect(client.extensions).toBe('');
        client.close();
      }
      expect(await offered).toBeUndefined();
    } finally {
      server.close();
    }
  });
});
