// The embedded database of npm start and the console (scripts/embedded-database.ts): real PostgreSQL
// from npm on a data folder, held by one process at a time. Another process is refused, naming the
// holder; a holder that was killed leaves its lock and its server behind, and both are taken over;
// what was written survives a stop and a start; and it is a server of many sessions (PGlite, before
// it, was one session that all connections shared).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { isAlive } from '../../scripts/local-run.ts';
import { oldPgliteNotice, openEmbeddedDatabase, postgresFolder, type EmbeddedDatabase } from '../../scripts/embedded-database.ts';
import { withClient } from './helpers.ts';

const moduleUrl = pathToFileURL(join(import.meta.dirname, '..', '..', 'scripts', 'embedded-database.ts')).href;
const folders: string[] = [];
const open: EmbeddedDatabase[] = [];
const children: Array<{ kill(): void }> = [];
afterAll(async () => {
  for (const child of children) child.kill();
  for (const database of open) await database.close();
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

function dataFolder(): string {
  const folder = mkdtempSync(join(tmpdir(), 'stacker-embedded-'));
  folders.push(folder);
  return folder;
}

async function opened(dataDir: string): Promise<EmbeddedDatabase> {
  const database = await openEmbeddedDatabase(dataDir);
  open.push(database);
  return database;
}

async function closed(database: EmbeddedDatabase): Promise<void> {
  open.splice(open.indexOf(database), 1);
  await database.close();
}

/** Another Node process running `script` with `openEmbeddedDatabase` in scope; resolves with its exit and output. */
function otherProcess(script: string, onLine?: (line: string) => void): { exited: Promise<{ code: number | null; stdout: string; stderr: string }>; kill(): void } {
  const child = spawn(process.execPath, ['--input-type=module', '-e', `import { openEmbeddedDatabase } from ${JSON.stringify(moduleUrl)};\n${script}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => {
    stdout += String(chunk);
    if (onLine && stdout.includes('\n')) onLine(stdout.split('\n')[0]!);
  });
  child.stderr.on('data', (chunk) => (stderr += String(chunk)));
  return {
    exited: new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr }))),
    kill: () => child.kill('SIGKILL'),
  };
}

describe('the embedded database', () => {
  /** One cluster for the tests that need no fresh one (initdb is the slow part: seconds on a busy machine). */
  let shared: { dataDir: string; database: EmbeddedDatabase } | undefined;
  async function sharedDatabase() {
    if (!shared) {
      const dataDir = dataFolder();
      shared = { dataDir, database: await opened(dataDir) };
    }
    return shared;
  }

  it('refuses a second process on the same data folder, naming the process that holds it', async () => {
    const { dataDir } = await sharedDatabase();
    const second = await otherProcess(
      `openEmbeddedDatabase(${JSON.stringify(dataDir)}).then(() => process.exit(0), (error) => { console.error(error.message); process.exit(3); });`,
    ).exited;
    expect(second.code).toBe(3);
    expect(second.stderr.trim()).toBe(
      `the embedded database in ${postgresFolder(dataDir)} is in use by npm start (pid ${process.pid}). Stop it first, or use another STACKER_DATA_DIR.`,
    );
  }, 60_000);

  it('keeps what was written across a stop and a start, and leaves no lock behind', async () => {
    const { dataDir, database: first } = await sharedDatabase();
    await withClient(first.url, async (client) => {
      await client.query('create table kept (word text)');
      await client.query("insert into kept values ('still here')");
    });
    await closed(first);
    expect(existsSync(join(dataDir, 'embedded-database.json'))).toBe(false);
    const second = await opened(dataDir);
    shared = { dataDir, database: second };
    const { rows } = await withClient(second.url, (client) => client.query<{ word: string }>('select word from kept'));
    expect(rows).toEqual([{ word: 'still here' }]);
  }, 60_000);

  it('takes over from a holder that was killed: its stale lock, and the server it left running', async () => {
    const dataDir = dataFolder();
    let url = '';
    let ready = () => undefined as void;
    const holderReady = new Promise<void>((resolve) => (ready = resolve));
    const holder = otherProcess(
      `const database = await openEmbeddedDatabase(${JSON.stringify(dataDir)});
       const pg = (await import('pg')).default;
       const client = new pg.Client({ connectionString: database.url });
       await client.connect();
       await client.query("create table left_behind (word text); insert into left_behind values ('written before the kill')");
       await client.end();
       console.log(database.url);
       setInterval(() => undefined, 1000);`,
      (line) => {
        url = line;
        ready();
      },
    );
    children.push(holder);
    await holderReady;
    const lock = JSON.parse(readFileSync(join(dataDir, 'embedded-database.json'), 'utf8')) as { pid: number; url: string };
    expect(lock.url).toBe(url);
    const leftOver = Number(readFileSync(join(postgresFolder(dataDir), 'postmaster.pid'), 'utf8').split('\n')[0]);
    holder.kill(); // SIGKILL: no clean-up runs; its PostgreSQL keeps running
    await holder.exited;
    expect(isAlive(leftOver)).toBe(true);

    const database = await opened(dataDir);
    expect(isAlive(leftOver)).toBe(false);
    expect(JSON.parse(readFileSync(join(dataDir, 'embedded-database.json'), 'utf8'))).toMatchObject({ pid: process.pid, holder: 'npm start', url: database.url });
    const { rows } = await withClient(database.url, (client) => client.query<{ word: string }>('select word from left_behind'));
    expect(rows).toEqual([{ word: 'written before the kill' }]);
  }, 60_000);

  it('serves each connection its own session: one connection’s open transaction is invisible to another', async () => {
    const { database } = await sharedDatabase();
    const [writer, reader] = [new pg.Client({ connectionString: database.url }), new pg.Client({ connectionString: database.url })];
    await Promise.all([writer.connect(), reader.connect()]);
    try {
      await writer.query('create table t (n int)');
      await writer.query('begin');
      await writer.query('insert into t values (1)');
      expect((await reader.query('select count(*)::int as n from t')).rows).toEqual([{ n: 0 }]);
      await writer.query('commit');
      expect((await reader.query('select count(*)::int as n from t')).rows).toEqual([{ n: 1 }]);
    } finally {
      await Promise.all([writer.end(), reader.end()]);
    }
  }, 60_000);

  it('says once that an old .data/pglite is no longer used, and how to keep its data', () => {
    const dataDir = dataFolder();
    expect(oldPgliteNotice(dataDir)).toBeUndefined();
    mkdirSync(join(dataDir, 'pglite'));
    const notice = oldPgliteNotice(dataDir);
    expect(notice).toContain(`${join(dataDir, 'pglite')} holds the PGlite database of earlier versions; it is no longer used`);
    expect(notice).toMatch(/pg_dump .*Or start over: remove/);
    expect(oldPgliteNotice(dataDir)).toBeUndefined();
    expect(readFileSync(join(dataDir, 'pglite', 'NOT-USED.txt'), 'utf8')).toBe(`${notice}\n`);
  });
});
