import { DurableObject } from 'cloudflare:workers';

interface WaiterAttachment {
  /** When the waiting request arrived (ms): the newest request of a waiter wins. */
  arrival: number;
}

/**
 * One per deployment_hash: wakes whoever waits for news of that deployment (an agent waiting for a
 * command, a dashboard waiting for a status change). Postgres holds the facts; this object holds
 * only the waiting sockets, accepted with the hibernation API so that idle waiters cost nothing.
 * Losing it (eviction, deploy) loses nothing: waiters time out and read the database again.
 *
 * A waiter that names itself (`waiter=<agent id>`) holds one wait at a time: a wait that arrived
 * later ends the earlier ones ("superseded"), and one that arrived earlier than a held wait is
 * refused with 409. An agent that lost its connection and polls again so never piles up waits.
 */
export class DeploymentDoorbell extends DurableObject {
  override async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const topic = url.searchParams.get('topic') ?? '';
    if (!/^[a-z]{1,32}$/.test(topic)) return new Response('bad topic', { status: 400 });

    if (url.pathname === '/wait') {
      if (request.headers.get('upgrade') !== 'websocket') return new Response('expected a websocket', { status: 426 });
      const tags = [topic];
      const waiter = url.searchParams.get('waiter');
      const arrival = Number(url.searchParams.get('arrival') ?? Date.now());
      if (waiter !== null) {
        if (!/^[\w-]{1,64}$/.test(waiter) || !Number.isFinite(arrival)) return new Response('bad waiter', { status: 400 });
        const tag = `waiter:${waiter}`;
        const held = this.ctx.getWebSockets(tag);
        if (held.some((socket) => this.arrivalOf(socket) > arrival)) return new Response('superseded', { status: 409 });
        for (const socket of held) {
          if (this.arrivalOf(socket) < arrival) this.send(socket, 'superseded');
        }
        tags.push(tag);
      }
      const { 0: client, 1: server } = new WebSocketPair();
      this.ctx.acceptWebSocket(server, tags);
      server.serializeAttachment({ arrival } satisfies WaiterAttachment);
      return new Response(null, { status: 101, webSocket: client });
    }
    if (url.pathname === '/ring' && request.method === 'POST') {
      let woken = 0;
      for (const socket of this.ctx.getWebSockets(topic)) {
        if (this.send(socket, 'ring')) woken++;
      }
      return Response.json({ woken });
    }
    return new Response('not found', { status: 404 });
  }

  private arrivalOf(socket: WebSocket): number {
    return (socket.deserializeAttachment() as WaiterAttachment | null)?.arrival ?? 0;
  }

  private send(socket: WebSocket, message: 'ring' | 'superseded'): boolean {
    try {
      socket.send(message);
      return true;
    } catch {
      return false; // already closing
    }
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
