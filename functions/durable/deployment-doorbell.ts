import { DurableObject } from 'cloudflare:workers';

/**
 * One per deployment_hash: wakes whoever waits for news of that deployment (an agent waiting for a
 * command, a dashboard waiting for a status change). Postgres holds the facts; this object holds
 * only the waiting sockets, accepted with the hibernation API so that idle waiters cost nothing.
 * Losing it (eviction, deploy) loses nothing: waiters time out and read the database again.
 */
export class DeploymentDoorbell extends DurableObject {
  override async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const topic = url.searchParams.get('topic') ?? '';
    if (!/^[a-z]{1,32}$/.test(topic)) return new Response('bad topic', { status: 400 });

    if (url.pathname === '/wait') {
      if (request.headers.get('upgrade') !== 'websocket') return new Response('expected a websocket', { status: 426 });
      const { 0: client, 1: server } = new WebSocketPair();
      this.ctx.acceptWebSocket(server, [topic]);
      return new Response(null, { status: 101, webSocket: client });
    }
    if (url.pathname === '/ring' && request.method === 'POST') {
      let woken = 0;
      for (const socket of this.ctx.getWebSockets(topic)) {
        try {
          socket.send('ring');
          woken++;
        } catch {
          // already closing
        }
      }
      return Response.json({ woken });
    }
    return new Response('not found', { status: 404 });
  }

  override async webSocketMessage(): Promise<void> {
    // Waiters only listen.
  }

  override async webSocketClose(socket: WebSocket, code: number): Promise<void> {
    try {
      socket.close(code === 1005 ? 1000 : code, 'bye');
    } catch {
      // already closed
    }
  }
}
