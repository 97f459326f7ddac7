// A WebSocket-to-TCP proxy for the Neon driver (like scripts/pg-ws-proxy.ts) that can stop the
// database in the middle of a request: armed with cut_after=N, it forwards the first N Postgres
// protocol messages the clients send (counted over every connection, from the arming on), and on
// the next one closes that connection and every other; the database then stays unreachable (new
// connections are closed at once) until the proxy is armed again or disarmed.
//
// Armed with lose_answer=N instead, it forwards the N-th message and then cuts at once, so the
// database acts on it but its answer never reaches the client (a COMMIT done, the caller told nothing).
//
// Sessions: a connection whose StartupMessage names an application_name that was armed as a session
// (`?session=<name>` on the control endpoints; the request's DATABASE_URL carries
// `?application_name=<name>`) is counted and cut with that session's own state, apart from every other
// connection, so several requests can each be cut at their own message at the same time. Connections
// without a session (or with one not armed, or disarmed) follow the proxy-wide state as before.
//
// Control (plain HTTP on the same port):
//   POST /__arm[?cut_after=N | ?lose_answer=N][&session=S]  resets the count; with neither it only counts
//   POST /__disarm[?session=S]  forwards everything again (the count goes on); a session is forgotten
//   GET  /__state[?session=S]   {"messages": <count since arming>, "cut": <true once cut>, "types": "<type letters>"}
//   GET  /__settled?session=S   answers once every database connection of the session is closed (the
//                               database is done with all it was sent, a COMMIT whose answer was lost too)
import { createServer, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { createRequire } from 'node:module';
import type { WebSocket, WebSocketServer as WebSocketServerType } from 'ws';
import { PgMessageSplitter, startupCode, type PgMessage } from '../../scripts/pg-protocol.ts';

// Loaded through require: under vite's SSR resolution `import 'ws'` lands on its browser stub.
const { WebSocketServer } = createRequire(import.meta.url)('ws') as { WebSocketServer: typeof WebSocketServerType };

export interface PgFaultProxy {
  /** host:port, for the Worker's DATABASE_WS_PROXY setting. */
  address: string;
  /** http://host:port, for the control endpoints. */
  controlUrl: string;
  close(): Promise<void>;
}

const PROTOCOL_3 = 196608;

/** The application_name a StartupMessage asks for, if any. */
function applicationName(message: PgMessage): string | undefined {
  if (message.type !== '' || message.bytes.length < 8 || startupCode(message) !== PROTOCOL_3) return undefined;
  const fields = message.bytes.subarray(8).toString('utf8').split('\0');
  for (let index = 0; index + 1 < fields.length; index += 2) {
    if (fields[index] === 'application_name') return fields[index + 1];
  }
  return undefined;
}

/** One arming's state: what it counts, where it cuts, and the connections it cuts. */
interface Fault {
  cutAfter?: number;
  loseAnswer?: number;
  messages: number;
  types: string;
  cut: boolean;
  connections: Set<Connection>;
  /** Its connections' sockets to the database not closed yet (see /__settled). */
  sockets: Set<Socket>;
}

interface Connection {
  ws: WebSocket;
  tcp: Socket;
  /** Cut after its last message went out: the database is left to finish with it. */
  flushing?: boolean;
}

const newFault = (): Fault => ({ messages: 0, types: '', cut: false, connections: new Set(), sockets: new Set() });

/** How long /__settled waits for the database to close a connection before it answers 504. */
const SETTLE_TIMEOUT_MS = 10_000;

/** With `flush`, what was already forwarded still reaches the database before its end. */
function cutEverything(fault: Fault, flush = false): void {
  fault.cut = true;
  for (const connection of fault.connections) {
    if (flush) {
      // The database reads what was sent, answers into the void, sees the end and closes.
      connection.flushing = true;
      connection.tcp.end();
      setTimeout(() => connection.tcp.destroy(), SETTLE_TIMEOUT_MS).unref();
    } else connection.tcp.destroy();
    connection.ws.terminate();
  }
  fault.connections.clear();
}

export async function startPgFaultProxy(host = '127.0.0.1'): Promise<PgFaultProxy> {
  const global = newFault();
  const sessions = new Map<string, Fault>();

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://proxy');
    const reply = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json', connection: 'close' }).end(JSON.stringify(body));
    const session = url.searchParams.get('session');
    if (session !== null && !/^[\w-]{1,60}$/.test(session)) return reply(400, { error: 'a session is a name of letters, digits, _ and -' });
    if (req.method === 'POST' && url.pathname === '/__arm') {
      const limit = url.searchParams.get('cut_after');
      const lose = url.searchParams.get('lose_answer');
      if ([limit, lose].some((value) => value !== null && !/^\d{1,6}$/.test(value))) return reply(400, { error: 'cut_after and lose_answer are counts' });
      let fault = global;
      if (session !== null) {
        fault = sessions.get(session) ?? newFault();
        sessions.set(session, fault);
      }
      fault.cutAfter = limit === null ? undefined : Number(limit);
      fault.loseAnswer = lose === null ? undefined : Number(lose);
      fault.messages = 0;
      fault.types = '';
      fault.cut = false;
      return reply(200, { armed: true, cut_after: fault.cutAfter ?? null });
    }
    if (req.method === 'POST' && url.pathname === '/__disarm') {
      const fault = session === null ? global : sessions.get(session);
      // A session's connections still open go on unharmed, like those of the disarmed proxy.
      if (session !== null) sessions.delete(session);
      if (fault) {
        fault.cutAfter = undefined;
        fault.loseAnswer = undefined;
        fault.cut = false;
      }
      return reply(200, { armed: false });
    }
    if (req.method === 'GET' && url.pathname === '/__settled') {
      const fault = session === null ? undefined : sessions.get(session);
      if (!fault) return reply(404, { error: `no session ${session} armed` });
      const closed = [...fault.sockets].map((socket) => new Promise<void>((resolve) => socket.once('close', () => resolve())));
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), SETTLE_TIMEOUT_MS)));
      void Promise.race([Promise.all(closed).then(() => true), timeout]).then((settled) => {
        clearTimeout(timer);
        reply(settled ? 200 : 504, { settled, open: fault.sockets.size });
      });
      return;
    }
    if (req.method === 'GET' && url.pathname === '/__state') {
      const fault = session === null ? global : sessions.get(session);
      if (!fault) return reply(404, { error: `no session ${session} armed` });
      return reply(200, { messages: fault.messages, cut: fault.cut, types: fault.types });
    }
    return reply(426, { error: 'WebSocket upgrade required' });
  });
  const wss = new WebSocketServer({ server });
  /** Every open connection, for close(). */
  const open = new Set<Connection>();

  wss.on('connection', (ws, req) => {
    const target = /^(.+):(\d{1,5})$/.exec(new URL(req.url ?? '/', 'http://proxy').searchParams.get('address') ?? '');
    if (!target) {
      ws.terminate();
      return;
    }
    const tcp = connect({ host: target[1], port: Number(target[2]) });
    tcp.setNoDelay(true);
    const connection: Connection = { ws, tcp };
    open.add(connection);
    /** Whose counts and cuts this connection follows: known from its StartupMessage. */
    let fault: Fault | undefined;
    const splitter = new PgMessageSplitter('client');
    const queued: Buffer[] = [];
    let connected = false;
    const write = (bytes: Buffer) => (connected ? tcp.write(bytes) : queued.push(bytes));
    const terminate = () => {
      tcp.destroy();
      ws.terminate();
    };

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
        if (!fault) {
          const name = applicationName(message);
          fault = (name !== undefined && sessions.get(name)) || global;
          // Cut already: the database stays unreachable for this connection's owner.
          if (fault.cut) return terminate();
          fault.connections.add(connection);
          const owner = fault;
          owner.sockets.add(tcp);
          tcp.once('close', () => owner.sockets.delete(tcp));
        }
        if (fault.cut) return;
        if (fault.cutAfter !== undefined && fault.messages >= fault.cutAfter) return cutEverything(fault);
        fault.messages++;
        fault.types += message.type || '0'; // '0': an untyped startup-phase message
        write(message.bytes);
        if (fault.messages === fault.loseAnswer) return cutEverything(fault, true);
      }
    });
    ws.on('close', () => {
      open.delete(connection);
      fault?.connections.delete(connection);
      if (!connection.flushing) tcp.destroy();
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
        for (const { ws, tcp } of open) {
          tcp.destroy();
          ws.terminate();
        }
        wss.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
