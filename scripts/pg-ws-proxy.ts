// WebSocket-to-TCP proxy for the Neon serverless driver: each WebSocket carries one Postgres
// connection to the `address` given in its query string (host:port). Neon runs the same kind of
// proxy in front of its databases; locally it lets workerd reach a plain PostgreSQL or PGlite.
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { createRequire } from 'node:module';
import type { WebSocket, WebSocketServer as WebSocketServerType } from 'ws';

// Loaded through require: under vite's SSR resolution `import 'ws'` lands on its browser stub.
const { WebSocketServer } = createRequire(import.meta.url)('ws') as { WebSocketServer: typeof WebSocketServerType };

export interface PgWsProxy {
  port: number;
  /** host:port to put in `neonConfig.wsProxy` */
  address: string;
  close(): Promise<void>;
}

export interface PgWsProxyOptions {
  port?: number;
  host?: string;
  /** Only these Postgres addresses may be reached through the proxy (host:port). */
  allowedTargets?: readonly string[];
}

export async function startPgWsProxy(options: PgWsProxyOptions = {}): Promise<PgWsProxy> {
  const host = options.host ?? '127.0.0.1';
  const server: Server = createServer((_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain' }).end('WebSocket upgrade required\n');
  });
  const wss = new WebSocketServer({ server });
  const sockets = new Set<WebSocket>();

  wss.on('connection', (ws, req) => {
    const url = new URL(req.url ?? '/', 'http://proxy');
    const target = url.searchParams.get('address') ?? '';
    const match = /^(.+):(\d{1,5})$/.exec(target);
    if (!match || (options.allowedTargets && !options.allowedTargets.includes(target))) {
      ws.close(1008, 'address not allowed');
      return;
    }
    sockets.add(ws);
    const tcp = connect({ host: match[1], port: Number(match[2]) });
    tcp.setNoDelay(true);
    const pending: Buffer[] = [];
    let connected = false;
    tcp.on('connect', () => {
      connected = true;
      for (const chunk of pending) tcp.write(chunk);
      pending.length = 0;
    });
    tcp.on('data', (data) => {
      if (ws.readyState === ws.OPEN) ws.send(data);
    });
    tcp.on('error', () => ws.close(1011, 'database connection failed'));
    tcp.on('close', () => {
      if (ws.readyState === ws.OPEN) ws.close(1000);
    });
    ws.on('message', (data: Buffer) => {
      if (connected) tcp.write(data);
      else pending.push(data);
    });
    ws.on('close', () => {
      sockets.delete(ws);
      tcp.destroy();
    });
    ws.on('error', () => tcp.destroy());
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    port,
    address: `${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const ws of sockets) ws.terminate();
        wss.close();
        server.close(() => resolve());
      }),
  };
}
