// Vitest's own process talks to each workerd test runtime over one WebSocket, opened by Miniflare's
// copy of the `ws` package, which offers permessage-deflate; workerd accepts. Every module of the
// graph (some MB, for each runtime) and every RPC message is then deflated by one side and inflated
// by the other: a sixth of vitest's CPU in a run, on loopback where compression saves nothing. This
// makes that `ws` open its client sockets without the offer. It must run before Miniflare loads
// (vitest.config.ts imports the Cloudflare plugin after it); it changes nothing in the service.
import { createRequire } from 'node:module';

type WebSocketClass = new (address: unknown, protocols?: unknown, options?: Record<string, unknown>) => object;

const requireFromMiniflare = createRequire(createRequire(import.meta.url).resolve('miniflare'));
const wsPath = requireFromMiniflare.resolve('ws');
const WebSocket = requireFromMiniflare('ws') as WebSocketClass;

class WebSocketWithoutCompression extends WebSocket {
  constructor(address: unknown, protocols?: unknown, options?: Record<string, unknown>) {
    // ws also takes (address, options).
    if (protocols !== null && typeof protocols === 'object' && !Array.isArray(protocols)) {
      options = protocols as Record<string, unknown>;
      protocols = undefined;
    }
    super(address, protocols, address === null ? options : { ...options, perMessageDeflate: false });
  }
}

const cached = requireFromMiniflare.cache[wsPath];
if (!cached) throw new Error(`tests/runner-socket.ts: ${wsPath} is not loaded`);
cached.exports = WebSocketWithoutCompression;
