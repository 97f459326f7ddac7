// The embedded PGlite database of local runs, in <data dir>/pglite, served to the Worker (through the
// WebSocket proxy) and to the console over a loopback PostgreSQL socket.
//
// PGlite is one process's database: two processes opening the same folder would corrupt it. So the
// process that opens it holds <data dir>/embedded-database.json, created exclusively, with its pid
// and the socket's URL. Another process that finds a live holder connects to that URL instead (the
// console while `npm start` runs); a holder that has died leaves a stale file, which is taken over.
import { closeSync, existsSync, ftruncateSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { isAlive } from './local-run.ts';

export class EmbeddedDatabaseError extends Error {}

interface LockFile {
  pid: number;
  /** What holds it: "npm start" or "console". */
  holder: string;
  /** The socket's URL; absent while the holder is still opening the database. */
  url?: string;
}

export interface EmbeddedDatabase {
  url: string;
  /** Whether this process opened it (and close() stops it) or another process serves it. */
  opened: boolean;
  close(): Promise<void>;
}

const lockPath = (dataDir: string) => join(dataDir, 'embedded-database.json');
export const pgliteFolder = (dataDir: string) => join(dataDir, 'pglite');

function readLock(dataDir: string): LockFile | undefined {
  try {
    return JSON.parse(readFileSync(lockPath(dataDir), 'utf8')) as LockFile;
  } catch {
    return undefined; // absent, or half-written by a holder that died mid-write
  }
}

/** Takes the lock, or says who holds it. A stale lock (its process is gone) is removed first. */
function takeLock(
  dataDir: string,
  holder: string,
): { ok: true; update(fields: Pick<LockFile, 'url'>): void; release(): void } | { ok: false; lock: LockFile } {
  for (let attempt = 0; attempt < 2; attempt++) {
    let fd: number;
    try {
      fd = openSync(lockPath(dataDir), 'wx', 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const lock = readLock(dataDir);
      if (lock && lock.pid !== process.pid && isAlive(lock.pid)) return { ok: false, lock };
      rmSync(lockPath(dataDir), { force: true });
      continue;
    }
    let current: LockFile = { pid: process.pid, holder };
    const write = (lock: LockFile) => {
      current = lock;
      ftruncateSync(fd, 0);
      writeSync(fd, JSON.stringify(lock), 0);
    };
    write(current);
    return {
      ok: true,
      update(fields) {
        write({ ...current, ...fields });
      },
      release() {
        closeSync(fd);
        if (readLock(dataDir)?.pid === process.pid) rmSync(lockPath(dataDir), { force: true });
      },
    };
  }
  throw new EmbeddedDatabaseError(`could not take ${lockPath(dataDir)}; remove it if no stacker process runs`);
}

/** The parts of pglite-socket's (0.2.x) query queue that oneExchangeAtATime replaces. Not typed by the package. */
interface QueuedMessage {
  handlerId: number;
  message: Uint8Array;
  resolve(bytes: number): void;
  reject(error: unknown): void;
  onData(data: Uint8Array): void;
}
interface QueryQueue {
  queue: QueuedMessage[];
  processing: boolean;
  lastHandlerId: number | null;
  db: { isInTransaction(): boolean; runExclusive<T>(work: () => Promise<T>): Promise<T>; execProtocolRawStream(message: Uint8Array, options: { onRawData(data: Uint8Array): void }): Promise<unknown> };
  processQueue(): Promise<void>;
  clearQueueForHandler(handlerId: number): void;
}
interface SocketServer {
  queryQueue: QueryQueue;
  handlers: Set<{ handlerId: number; detach(close?: boolean): Promise<unknown> }>;
}

/** The Terminate message a client sends before it closes. */
const TERMINATE = 0x58;

/** Messages of the extended query protocol that come before its Sync: Parse, Bind, Describe, Execute, Close, Flush. */
const EXTENDED_BEFORE_SYNC = new Set([0x50, 0x42, 0x44, 0x45, 0x43, 0x48]);

/**
 * PGlite is one session, and pglite-socket runs the messages of all its connections through one
 * queue, one message at a time: outside a transaction, two connections' extended-protocol messages
 * (Parse, Bind, Execute, ... Sync) interleave, so one request's Bind ran another's statement (wrong
 * rows, 404s and 500s, or a write with another query's values) as soon as the Worker served two
 * requests at once. Here a connection keeps its turn from its first Parse to its Sync (and, as
 * before, through a transaction); the others' messages wait in the queue. A connection that goes
 * away gives its turn up; one that sends Terminate is closed, as PostgreSQL does. (Also: an exception
 * no longer leaves the queue stopped for good.)
 */
function oneExchangeAtATime(server: SocketServer): void {
  const queue = server.queryQueue;
  // The package is pinned (package.json) because this reaches into it; a version that moved these
  // parts must fail here, loudly, rather than serve interleaved queries.
  if (!queue || typeof queue.processQueue !== 'function' || typeof queue.clearQueueForHandler !== 'function' || !Array.isArray(queue.queue) || !(server.handlers instanceof Set)) {
    throw new Error('@electric-sql/pglite-socket is not the version scripts/embedded-database.ts was written for (0.2.17): its query queue changed');
  }
  let turn: number | null = null;
  queue.processQueue = async function processQueue(this: QueryQueue) {
    if (this.processing || this.queue.length === 0) return;
    this.processing = true;
    try {
      while (this.queue.length > 0) {
        const holder = this.db.isInTransaction() && this.lastHandlerId !== null ? this.lastHandlerId : turn;
        const index = holder === null ? 0 : this.queue.findIndex((item) => item.handlerId === holder);
        if (index === -1) break; // the holder's next message has not come yet
        const [item] = this.queue.splice(index, 1) as [QueuedMessage];
        if (item.message[0] === TERMINATE && item.message.length === 5) {
          // PostgreSQL closes the connection on Terminate; pglite-socket kept it open, and so did the
          // WebSocket proxy and workerd: every request of `npm start` left a connection behind, and
          // after 100 the database refused them all. Closed here (an open transaction is rolled back).
          if (turn === item.handlerId) turn = null;
          item.resolve(0);
          const handler = [...server.handlers].find((candidate) => candidate.handlerId === item.handlerId);
          if (handler) {
            server.handlers.delete(handler);
            await handler.detach(true);
          }
          continue;
        }
        let bytes = 0;
        try {
          await this.db.runExclusive(() =>
            this.db.execProtocolRawStream(item.message, {
              onRawData: (data) => {
                bytes += data.length;
                item.onData(data);
              },
            }),
          );
        } catch (error) {
          if (turn === item.handlerId) turn = null;
          item.reject(error);
          continue;
        }
        this.lastHandlerId = item.handlerId;
        turn = EXTENDED_BEFORE_SYNC.has(item.message[0]!) ? item.handlerId : null;
        item.resolve(bytes);
      }
    } finally {
      this.processing = false;
    }
  };
  const clear = queue.clearQueueForHandler.bind(queue);
  queue.clearQueueForHandler = (handlerId: number) => {
    clear(handlerId);
    if (turn === handlerId) {
      turn = null;
      void queue.processQueue();
    }
  };
}

/** Opens the folder in this process and serves it on a loopback socket. */
async function open(dataDir: string, holder: string, options: { create: boolean }): Promise<EmbeddedDatabase> {
  mkdirSync(dataDir, { recursive: true });
  const lock = takeLock(dataDir, holder);
  if (!lock.ok) throw new EmbeddedDatabaseError(lockedMessage(dataDir, lock.lock));
  try {
    if (!options.create && !existsSync(join(pgliteFolder(dataDir), 'PG_VERSION'))) {
      throw new EmbeddedDatabaseError(
        `there is no embedded database in ${pgliteFolder(dataDir)}: run \`npm start\` once to create it, or set DATABASE_URL`,
      );
    }
    const { PGlite } = await import('@electric-sql/pglite');
    const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');
    const db = await PGlite.create(pgliteFolder(dataDir));
    const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 100 });
    oneExchangeAtATime(server as unknown as SocketServer);
    await server.start();
    const url = `postgres://postgres@${server.getServerConn()}/postgres`;
    lock.update({ url });
    return {
      url,
      opened: true,
      async close() {
        await server.stop();
        await db.close();
        lock.release();
      },
    };
  } catch (error) {
    lock.release();
    throw error;
  }
}

function lockedMessage(dataDir: string, lock: LockFile): string {
  const who = `${lock.holder} (pid ${lock.pid})`;
  return lock.url
    ? `the embedded database in ${pgliteFolder(dataDir)} is in use by ${who}. Stop it first, or use another STACKER_DATA_DIR.`
    : `the embedded database in ${pgliteFolder(dataDir)} is being opened by ${who}; try again in a moment.`;
}

/** For `npm start`: opens the database (created if new); refuses when another process holds it. */
export function openEmbeddedDatabase(dataDir: string): Promise<EmbeddedDatabase> {
  return open(dataDir, 'npm start', { create: true });
}

/**
 * For the console: the database `npm start` serves when it runs, else the folder opened here. It
 * must exist (`npm start` creates and migrates it).
 */
export async function reachEmbeddedDatabase(dataDir: string): Promise<EmbeddedDatabase> {
  const lock = readLock(dataDir);
  if (lock && isAlive(lock.pid)) {
    if (!lock.url) throw new EmbeddedDatabaseError(lockedMessage(dataDir, lock));
    return { url: lock.url, opened: false, close: async () => undefined };
  }
  return open(dataDir, 'console', { create: false });
}
