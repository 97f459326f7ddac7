import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from './helpers.ts';

function processesMentioning(text: string): string[] {
  const lines = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' }).split('\n');
  return lines.filter((line) => line.includes(text) && !line.includes('ps -eo'));
}

const dataDir = mkdtempSync(join(tmpdir(), 'stacker-start-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe('npm start', () => {
  it('serves /health_check on the embedded database with no DATABASE_URL, and Ctrl-C stops everything', async () => {
    const port = await freePort();
    const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), STACKER_DATA_DIR: dataDir };
    delete env.DATABASE_URL;
    const child = spawn(process.execPath, ['scripts/start.ts'], { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stderr.on('data', (chunk) => (output += String(chunk)));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

    const listening = await new Promise<boolean>((resolve) => {
      child.stdout.on('data', (chunk) => {
        output += String(chunk);
        if (output.includes(`listening on http://127.0.0.1:${port}`)) resolve(true);
      });
      void exited.then(() => resolve(false));
    });
    expect(listening, output).toBe(true);

    const health = await fetch(`http://127.0.0.1:${port}/health_check`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ message: 'OK' });

    process.kill(-child.pid!, 'SIGINT'); // what Ctrl-C sends to the terminal's foreground group
    expect(await exited).toBe(0);
    await expect(fetch(`http://127.0.0.1:${port}/health_check`)).rejects.toThrow();
    expect(processesMentioning(dataDir)).toEqual([]);
  }, 120_000);
});
