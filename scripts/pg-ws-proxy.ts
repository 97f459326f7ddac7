// WebSocket-to-TCP proxy for the Neon serverless driver: each WebSocket carries one Postgres
// connection to the `address` given in its query string (host:port). Neon runs the same kind of
// proxy in front of its databases; locally it lets workerd reach a plain PostgreSQL. Upgrades that carry an Origin header (from a
// web page) are refused.
//
// With `pool` on it also does what Neon's pooler (PgBouncer, session mode) does in production: a
// Worker opens a connection per request, and a new PostgreSQL backend costs ~10 ms of CPU (a fork),
// more than the request itself. When a client leaves with its backend idle, the backend is reset
// (DISCARD ALL) and kept; the next client with the same StartupMessage gets it, answered with the
// startup messages the backend first sent. Only backends that PostgreSQL let in without a password
// are kept (the next client would have been let in too); anything else is forwarded as it comes.
import { createServer, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { createRequire } from 'node:module';
import type { WebSocket, WebSocketServer as WebSocketServerType } from 'ws';
import { PgMessageSplitter, queryMessage, startupCode, TERMINATE, type PgMessage } from './pg-protocol.ts';

// Loaded through require: under vite's SSR resolution `import 'ws'` lands on its browser stub.
const { WebSocketServer } = createRequire(import.meta.url)('ws') as { WebSocketServer: typeof WebSocketServerType };

/** StartupMessage's protocol version 3.0; anything else (SSL, GSSENC, cancel) is forwarded as is. */
const PROTOCOL_3 = 196608;

export interface PgWsProxy {
  port: number;
  /** host:port to put in `neonConfig.wsProxy` */
  address: string;
  /** Backends opened and reused since the start, and kept idle now (all 0 without `pool`). */
  stats(): { opened: number; reused: number; idle: number };
  close(): Promise<void>;
}

export interface PgPoolOptions {
  /** Idle backends kept per database and user (default 50). */
  maxIdle?: number;
  /** An idle backend is closed after this long (default 30 s). */
  idleTimeoutMs?: number;
}

export interface PgWsProxyOptions {
  port?: number;
  host?: string;
  /** Only these Postgres addresses may be reached through the proxy (host:port). */
  allowedTargets?: readonly string[];
  /** Keep and reuse backends between clients (see above); off by default. */
  pool?: boolean | PgPoolOptions;
}

/** One PostgreSQL connection, served to one client at a time. */
class Backend {
  readonly socket: Socket;
  readonly key: string;
  /** What the server answered the StartupMessage with, up to its first ReadyForQuery. */
  startupResponse: Buffer | undefined;
  /** Status byte of the last ReadyForQuery: I idle, T in a transaction, E failed transaction. */
  status = 'I';
  closed = false;
  readonly #splitter = new PgMessageSplitter('server');
  #listener: ((chunk: Buffer, messages: PgMessage[]) => void) | undefined;
  #onClose: (() => void) | undefined;

  /** `key` is the StartupMessage it was opened with; none for a piped connection, whose bytes are not read. */
  constructor(host: string, port: number, key?: string) {
    this.key = key ?? '';
    this.socket = connect({ host, port });
    this.socket.setNoDelay(true);
    this.socket.on('data', (chunk: Buffer) => {
      const messages = key === undefined ? [] : this.#splitter.push(chunk);
      for (const message of messages) if (message.type === 'Z') this.status = String.fromCharCode(message.bytes[5]!);
      // Nothing is expected while idle in the pool: a server that speaks then (a shutdown notice,
      // a changed setting) has a backend not worth keeping.
      if (this.#listener) this.#listener(chunk, messages);
      else this.destroy();
    });
    this.socket.on('error', () => this.destroy());
    this.socket.on('close', () => {
      this.closed = true;
      this.#onClose?.();
    });
  }

  /** Who gets what the server sends, and is told when the connection closes; none while idle. */
  attach(listener: ((chunk: Buffer, messages: PgMessage[]) => void) | undefined, onClose?: () => void): void {
    this.#listener = listener;
    this.#onClose = onClose;
  }

  get idleBetweenMessages(): boolean {
    return this.#splitter.buffered === 0;
  }

  destroy(): void {
    this.#listener = undefined;
    this.socket.destroy();
  }
}

class BackendPool {
  readonly #idle = new Map<string, Backend[]>();
  readonly #maxIdle: number;
  readonly #idleTimeoutMs: number;
  readonly #timers = new Map<Backend, NodeJS.Timeout>();
  opened = 0;
  reused = 0;

  constructor(options: PgPoolOptions) {
    this.#maxIdle = options.maxIdle ?? 50;
    this.#idleTimeoutMs = options.idleTimeoutMs ?? 30_000;
  }

  take(key: string): Backend | undefined {
    const list = this.#idle.get(key);
    for (let backend = list?.pop(); backend; backend = list?.pop()) {
      clearTimeout(this.#timers.get(backend));
      this.#timers.delete(backend);
      // Destroyed while idle (it spoke unasked) but its 'close' not seen yet: not for a client.
      if (backend.socket.destroyed) continue;
      this.reused++;
      return backend;
    }
    return undefined;
  }

  /** Resets a backend its client left idle, and keeps it if that works. */
  giveBack(backend: Backend): void {
    if (backend.closed) return;
    const discard = () => {
      backend.attach(undefined);
      backend.destroy();
    };
    let failed = false;
    backend.attach(
      (_chunk, messages) => {
        for (const message of messages) {
          if (message.type === 'E') failed = true;
          if (message.type !== 'Z') continue;
          const list = this.#idle.get(backend.key) ?? [];
          if (failed || backend.status !== 'I' || list.length >= this.#maxIdle || !backend.idleBetweenMessages) return discard();
          backend.attach(undefined, () => this.#forget(backend));
          list.push(backend);
          this.#idle.set(backend.key, list);
          const timer = setTimeout(() => {
            this.#forget(backend);
            backend.socket.end(TERMINATE);
          }, this.#idleTimeoutMs);
          timer.unref();
          this.#timers.set(backend, timer);
        }
      },
      discard,
    );
    backend.socket.write(queryMessage('DISCARD ALL'));
  }

  #forget(backend: Backend): void {
    clearTimeout(this.#timers.get(backend));
    this.#timers.delete(backend);
    const list = this.#idle.get(backend.key);
    const index = list?.indexOf(backend) ?? -1;
    if (index >= 0) list!.splice(index, 1);
  }

  get idleCount(): number {
    let count = 0;
    for (const list of this.#idle.values()) count += list.length;
    return count;
  }

  closeAll(): void {
    for (const list of this.#idle.values()) for (const backend of list) backend.destroy();
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#idle.clear();
    this.#timers.clear();
  }
}

/**
 * One client's WebSocket. Unpooled (or for anything but a plain StartupMessage) the bytes are piped
 * both ways unread; pooled, the client's messages are read to know when its backend is idle and
 * can be kept: no query in flight, no transaction open, no half-sent extended-protocol batch.
 */
function serveClient(ws: WebSocket, host: string, port: number, pool: BackendPool | undefined): void {
  const splitter = new PgMessageSplitter('client');
  let backend: Backend | undefined;
  let piped = false;
  let startupDone = false;
  let poolable = pool !== undefined;
  let awaitingReady = 0; // ReadyForQuery messages still owed for the client's Query/Sync/FunctionCall
  let unsynced = false; // extended-protocol messages sent since the last Sync
  let left = false;

  const closeClient = (code: number, reason?: string) => {
    if (ws.readyState === ws.OPEN) ws.close(code, reason);
  };
  const startup: Buffer[] = [];
  const fromServer = (chunk: Buffer, messages: PgMessage[]) => {
    if (ws.readyState === ws.OPEN) ws.send(chunk);
    for (const message of messages) {
      if (startupDone) {
        if (message.type === 'Z') awaitingReady--;
        continue;
      }
      startup.push(message.bytes);
      // AuthenticationOk is Int32 0; any other request means a password: not ours to keep.
      if (message.type === 'R' && message.bytes.readInt32BE(5) !== 0) poolable = false;
      if (message.type === 'E') poolable = false;
      if (message.type === 'Z') {
        startupDone = true;
        if (poolable) backend!.startupResponse = Buffer.concat(startup);
        startup.length = 0;
      }
    }
  };
  const onBackendClose = () => closeClient(1000);
  const onBackendError = () => closeClient(1011, 'database connection failed');

  const open = (key: string) => {
    const opened = new Backend(host, port, key);
    opened.socket.on('error', onBackendError);
    opened.attach(fromServer, onBackendClose);
    if (pool) pool.opened++;
    return opened;
  };

  const leave = () => {
    if (left) return;
    left = true;
    if (!backend) return;
    const done = backend;
    backend = undefined;
    done.socket.off('error', onBackendError);
    const idle = poolable && startupDone && awaitingReady === 0 && !unsynced && splitter.buffered === 0 && done.status === 'I';
    if (pool && idle && !done.closed) pool.giveBack(done);
    else done.destroy();
  };

  ws.on('message', (data: Buffer) => {
    if (left) return;
    if (piped) {
      backend!.socket.write(data);
      return;
    }
    // One write for all the messages of one WebSocket frame.
    const corked = backend?.socket;
    corked?.cork();
    try {
      for (const message of splitter.push(data)) {
        if (!backend) {
          if (!pool || message.type !== '' || startupCode(message) !== PROTOCOL_3) {
            // Not a plain StartupMessage (SSL or GSSENC negotiation, a cancel request), or no pool:
            // pipe everything from here on.
            piped = true;
            poolable = false;
            backend = new Backend(host, port);
            backend.socket.on('error', onBackendError);
            backend.attach((chunk) => ws.readyState === ws.OPEN && ws.send(chunk), onBackendClose);
            backend.socket.write(message.bytes);
            continue;
          }
          const key = `${host}:${port}\0${message.bytes.toString('base64')}`;
          const reused = pool.take(key);
          if (reused) {
            backend = reused;
            startupDone = true;
            reused.socket.on('error', onBackendError);
            reused.attach(fromServer, onBackendClose);
            ws.send(reused.startupResponse!);
          } else {
            backend = open(key);
            backend.socket.write(message.bytes);
          }
          continue;
        }
        if (piped) {
          backend.socket.write(message.bytes);
          continue;
        }
        switch (message.type) {
          case 'X': // Terminate: the client is done; its backend may serve the next one.
            leave();
            ws.close(1000);
            return;
          case 'Q':
          case 'F':
            awaitingReady++;
            break;
          case 'S':
            awaitingReady++;
            unsynced = false;
            break;
          case 'P':
          case 'B':
          case 'D':
          case 'E':
          case 'C':
            unsynced = true;
            break;
          case 'H':
            break;
          default: // COPY data or anything unexpected: do not keep this backend.
            poolable = false;
        }
        backend.socket.write(message.bytes);
      }
      if (piped && splitter.buffered > 0) backend!.socket.write(splitter.takeRest());
    } finally {
      corked?.uncork();
    }
  });
  ws.on('close', leave);
  ws.on('error', leave);
}

export async function startPgWsProxy(options: PgWsProxyOptions = {}): Promise<PgWsProxy> {
  const host = options.host ?? '127.0.0.1';
  const pool = options.pool ? new BackendPool(options.pool === true ? {} : options.pool) : undefined;
  const server: Server = createServer((_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain' }).end('WebSocket upgrade required\n');
  });
  // A browser puts an Origin header on every WebSocket it opens, and a web page may open one to any
  // loopback port: refused, or a page visited during `npm start` could reach the password-less
  // local database. workerd's Neon driver and Node clients send none.
  const wss = new WebSocketServer({
    server,
    verifyClient: (info: { req: { headers: Record<string, string | string[] | undefined> } }, done: (ok: boolean, code?: number, message?: string) => void) => {
      const fromPage = info.req.headers.origin !== undefined || info.req.headers['sec-websocket-origin'] !== undefined;
      done(!fromPage, 403, 'WebSocket upgrades from web pages (with an Origin header) are refused');
    },
  });
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
    ws.on('close', () => sockets.delete(ws));
    serveClient(ws, match[1]!, Number(match[2]), pool);
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
    stats: () => ({ opened: pool?.opened ?? 0, reused: pool?.reused ?? 0, idle: pool?.idleCount ?? 0 }),
    close: () =>
      new Promise<void>((resolve) => {
        for (const ws of sockets) ws.terminate();
        pool?.closeAll();
        wss.close();
        server.close(() => resolve());
      }),
  };
}
