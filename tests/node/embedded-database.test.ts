// The embedded database's socket (scripts/embedded-database.ts) as a PostgreSQL client sees it: a
// connection that sends Terminate is closed by the server, as PostgreSQL does (the WebSocket proxy and
// workerd never close theirs, so before this every request of `npm start` left one open and after 100
// the database refused them all); and connections served at once each get their own answers (a smoke
// test: node-postgres writes a query's messages at once, so it cannot make the interleaving that the
// WebSocket proxy's one write per frame made; the browser journeys over `npm start` meet that one).
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEmbeddedDatabase, type EmbeddedDatabase } from '../../scripts/embedded-database.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'stacker-embedded-'));
let database: EmbeddedDatabase | undefined;

beforeAll(async () => {
  database = await openEmbeddedDatabase(dataDir);
}, 60_000);

afterAll(async () => {
  await database?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

function startupMessage(): Buffer {
  const body = Buffer.from('user\0postgres\0database\0postgres\0\0');
  const message = Buffer.alloc(8 + body.length);
  message.writeInt32BE(message.length, 0);
  message.writeInt32BE(196608, 4);
  body.copy(message, 8);
  return message;
}

/** Resolves once the bytes received so far contain a ReadyForQuery message. */
function readyForQuery(socket: Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    let received = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      for (let at = 0; at + 5 <= received.length; at += 1 + received.readInt32BE(at + 1)) {
        if (received[at] === 0x5a) {
          socket.off('data', onData);
          resolve();
          return;
        }
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
}

describe('the embedded database’s socket', () => {
  it('closes a connection that sends Terminate, as PostgreSQL does', async () => {
    const url = new URL(database!.url);
    const socket = connect(Number(url.port), url.hostname);
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    const ready = readyForQuery(socket);
    socket.write(startupMessage());
    await ready;
    // Terminate, and nothing else: the client does not close its end.
    socket.write(Buffer.from([0x58, 0, 0, 0, 4]));
    await closed;
    expect(socket.destroyed).toBe(true);
  });

  it('answers each of several connections querying at once with its own rows', async () => {
    const clients = await Promise.all(
      Array.from({ length: 6 }, async () => {
        const client = new pg.Client({ connectionString: database!.url });
        await client.connect();
        return client;
      }),
    );
    try {
      const wrong: string[] = [];
      await Promise.all(
        clients.map(async (client, n) => {
          for (let i = 0; i < 40; i++) {
            const value = `${n}-${i}`;
            const { rows } = await client.query(i % 2 ? 'select $1::text as v, 1 as one' : "select $1::text || '' as v", [value]);
            if (rows[0]?.v !== value) wrong.push(`${value}: ${JSON.stringify(rows[0])}`);
          }
          await client.query('begin');
          await client.query('create temporary table if not exists t (n int)');
          await client.query('commit');
        }),
      );
      expect(wrong).toEqual([]);
    } finally {
      await Promise.all(clients.map((client) => client.end()));
    }
  }, 60_000);
});
