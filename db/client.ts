import { neonConfig, Pool, type PoolClient } from '@neondatabase/serverless';
import { drizzle, type NeonDatabase } from 'drizzle-orm/neon-serverless';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';

/**
 * The Worker's database (Neon driver). Built without drizzle's relational `schema`: nothing uses
 * `db.query`, and drizzle would derive the relations of every table again for each request.
 */
export type Database = NeonDatabase;
/** What services accept: the Worker's database, or node-postgres in the console. */
export type AnyDatabase = PgDatabase<PgQueryResultHKT>;

/**
 * How long a new connection may take before the request answers 503: long enough for a Neon compute
 * waking from suspend, or for a busy isolate to get to the handshake (a poll's wait counts from its
 * arrival, so a slow connection shortens the wait instead of outlasting the agent's timeout).
 */
const CONNECT_TIMEOUT_MS = 10_000;

export interface DatabaseSettings {
  url: string;
  /** host:port of the local WebSocket-to-TCP proxy; unset against Neon. */
  wsProxy?: string;
}

/**
 * The driver flushes coalesced writes on a timer; after the database drops the socket that flush
 * would throw in workerd as an uncaught exception. A closed socket has nobody to write to anyway.
 */
class ClosedTolerantWebSocket extends WebSocket {
  override send(data: string | ArrayBuffer | ArrayBufferView): void {
    if (this.readyState === WebSocket.CLOSING || this.readyState === WebSocket.CLOSED) return;
    super.send(data);
  }
}

function configureDriver(wsProxy: string | undefined): void {
  neonConfig.webSocketConstructor = ClosedTolerantWebSocket;
  if (wsProxy) {
    neonConfig.wsProxy = (host, port) => `${wsProxy}/v1?address=${host}:${port}`;
    neonConfig.useSecureWebSocket = false;
    neonConfig.pipelineTLS = false;
    neonConfig.pipelineConnect = false;
  }
}

/**
 * A database connection for one request. Workers forbid reusing one request's sockets in another,
 * so the pool is created on first use and must be closed when the request ends (`close`).
 */
export class RequestDatabase {
  readonly #settings: DatabaseSettings;
  #pool: Pool | undefined;
  #db: Database | undefined;
  /** Connections handed out and not given back yet (see close). */
  readonly #checkedOut = new Set<PoolClient>();

  constructor(settings: DatabaseSettings) {
    this.#settings = settings;
  }

  get db(): Database {
    if (!this.#db) {
      configureDriver(this.#settings.wsProxy);
      // Small: one request rarely needs more than a transaction plus one query beside it.
      this.#pool = new Pool({ connectionString: this.#settings.url, max: 2, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
      // An idle client's socket error must not become an unhandled rejection; the next query reports it.
      this.#pool.on('error', () => undefined);
      // Nor a checked-out one's: its pending query is rejected anyway, and an 'error' event nobody
      // listens to would be thrown as an uncaught exception.
      this.#pool.on('connect', (client: PoolClient) => client.on('error', () => undefined));
      const checkedOut = this.#checkedOut;
      this.#pool.on('acquire', (client: PoolClient) => checkedOut.add(client));
      this.#pool.on('release', (_error: Error | undefined, client: PoolClient) => checkedOut.delete(client));
      this.#db = drizzle({ client: this.#pool });
    }
    return this.#db;
  }

  /**
   * Closes the connection now but keeps the handle usable: the next query opens a new one. For a
   * request about to wait (a long-poll), so that waiting does not hold a database connection.
   */
  async release(): Promise<void> {
    await this.close();
  }

  /** Another handle on the same database, for work that outlives the request (waitUntil). Close it. */
  detached(): RequestDatabase {
    return new RequestDatabase(this.#settings);
  }

  get opened(): boolean {
    return this.#pool !== undefined;
  }

  async close(): Promise<void> {
    const pool = this.#pool;
    this.#pool = undefined;
    this.#db = undefined;
    // pool.end() waits for every connection to come back. Drizzle never gives one back when its
    // transaction's BEGIN fails (the connection dropped), which would hold the request open forever.
    for (const client of this.#checkedOut) client.release(new Error('request ended'));
    this.#checkedOut.clear();
    if (pool) await pool.end().catch(() => undefined);
  }
}

/** The SQLSTATE of a Postgres error, looked for through drizzle's wrapping (`cause`). */
export function databaseErrorCode(error: unknown): string | undefined {
  for (let current: unknown = error, depth = 0; current && depth < 6; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

const CONNECTION_SQLSTATE = /^(08|53|57P0)/;
const CONNECTION_MESSAGE =
  /connection (terminated|refused|timeout|lost|error)|network connection lost|ECONNREFUSED|ECONNRESET|websocket|socket hang up|timeout exceeded when trying to connect|database connection failed/i;

/** True when an error (or one of its causes) means the database could not be reached, not a bad query. */
export function isDatabaseUnavailable(error: unknown): boolean {
  const sqlState = databaseErrorCode(error);
  if (sqlState) return CONNECTION_SQLSTATE.test(sqlState);
  for (let current: unknown = error, depth = 0; current && depth < 6; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && /^E(CONN|TIMEDOUT|HOSTUNREACH|NOTFOUND)/.test(code)) return true;
    const message = current instanceof Error ? current.message : typeof current === 'string' ? current : '';
    if (CONNECTION_MESSAGE.test(message)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}
