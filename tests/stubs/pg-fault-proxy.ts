// A WebSocket-to-TCP proxy for the Neon driver (like scripts/pg-ws-proxy.ts) that can stop the
// database in the middle of a request: armed with cut_after=N, it forwards the first N Postgres
// protocol messages the clients send (counted over every connection, from the arming on), and on
// the next one closes that connection and every other; the database then stays unreachable (new
// connections are closed at once) until the proxy is armed again or disarmed.
//
// Armed with lose_answer=N instead, it forwards the N-th message and then cuts at once, so the
// database acts on it but its answer never reaches the client (a COMMIT done, the caller told nothing).
//
// Control (plain HTTP on the same port):
//   POST /__arm[?cut_after=N | ?lose_answer=N]  resets the count; with neither it only counts
//   POST /__disarm             forwards everything again (the count goes on)
//   GET  /__state              {"messages": <count since arming>, "cut": <true once cut>, "types": "<type letters>"}
import { createServer, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { createRequire } from 'node:module';
import type { WebSocket, WebSocketServer as WebSocketServerType } from 'ws';
import { PgMessageSplitter } from '../../scripts/pg-protocol.ts';

// Loaded through require: under vite's SSR resolution `import 'ws'` lands on its browser stub.
const { WebSocketServer } = createRequire(import.meta.url)('ws') as { WebSocketServer: typeof WebSocketServerType };

export interface PgFaultProxy {
  /** host:port, for the Worker's DATABASE_WS_PROXY setting. */
  address: string;
  /** http://host:port, for the control endpoints. */
  controlUrl: string;
  close(): Promise<void>;
}

export async function startPgFaultProxy(host = '127.0.0.1'): Promise<PgFaultProxy> {
  let cutAfter: number | undefined;
  let loseAnswer: number | undefined;
  let messages = 0;
  let types = '';
  let cut = false;
  const connections = new Set<{ ws: WebSocket; tcp: Socket }>();

  /** With `flush`, what was already forwarded still reaches the database before its end. */
  const cutEverything = (flush = false) => {
    cut = true;
    for (const { ws, tcp } of connections) {
      if (flush) tcp.end();
      else tcp.destroy();
      ws.terminate();
    }
    connections.clear();
  };

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://proxy');
    const reply = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json', connection: 'close' }).end(JSON.stringify(body));
    if (req.method === 'POST' && url.pathname === '/__arm') {
      const limit = url.searchParams.get('cut_after');
      const lose = url.searchParams.get('lose_answer');
      if ([limit, lose].some((value) => value !== null && !/^\d{1,6}$/.test(value))) return reply(400, { error: 'cut_after and lose_answer are counts' });
      cutAfter = limit === null ? undefined : Number(limit);
      loseAnswer = lose === null ? undefined : Number(lose);
      messages = 0;
      types = '';
      cut = false;
      return reply(200, { armed: true, cut_after: cutAfter ?? null });
    }
    if (req.method === 'POST' && url.pathname === '/__disarm') {
      cutAfter = undefined;
      loseAnswer = undefined;
      cut = false;
      return reply(200, { armed: false });
    }
    if (req.method === 'GET' && url.pathname === '/__state') return reply(200, { messages, cut, types });
    return reply(426, { error: 'WebSocket upgrade required' });
  });
  const wss = new WebSocketServer({ server });

  wss.on('connection', (ws, req) => {
    const target = /^(.+):(\d{1,5})$/.exec(new URL(req.url ?? '/', 'http://proxy').searchParams.get('address') ?? '');
    if (!target || cut) {
      ws.terminate();
      return;
    }
    const tcp = connect({ host: target[1], port: Number(target[2]) });
    tcp.setNoDelay(true);
    const connection = { ws, tcp };
    connections.add(connection);
    const splitter = new PgMessageSplitter('client');
    const queued: Buffer[] = [];
    let connected = false;
    const write = (bytes: Buffer) => (connected ? tcp.write(bytes) : queued.push(bytes));

    tcp.on('connect', () => {
      connected = true;
      for (const bytes of queued) tcp.write(bytes);
      queued.length = 0;
    });
    tcp.on('data', (data) => {
      if (ws.readyState === ws.OPEN) ws.send(data);
    });
    tcp.on('error', () => ws.terminate());
    tcp.on('close', () => {
      if (ws.readyState === ws.OPEN) ws.close(1000);
    });
    ws.on('message', (data: Buffer) => {
      for (const message of splitter.push(data)) {
        if (cut) return;
        if (cutAfter !== undefined && messages >= cutAfter) return cutEverything();
        messages++;
        types += message.type || '0'; // '0': an untyped startup-phase message
        write(message.bytes);
        if (messages === loseAnswer) return cutEverything(true);
      }
    });
    ws.on('close', () => {
      connections.delete(connection);
      tcp.destroy();
    });
    ws.on('error', () => tcp.destroy());
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    address: `${host}:${port}`,
    controlUrl: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const { ws, tcp } of connections) {
          tcp.destroy();
          ws.terminate();
        }
        wss.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
