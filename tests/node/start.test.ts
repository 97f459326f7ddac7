import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startLocalService } from './helpers.ts';

function processesMentioning(text: string): string[] {
  const lines = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' }).split('\n');
  return lines.filter((line) => line.includes(text) && !line.includes('ps -eo'));
}

const dataDir = mkdtempSync(join(tmpdir(), 'stacker-start-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe('npm start', () => {
  it('serves /health_check on the embedded database with no DATABASE_URL, and Ctrl-C stops everything', async () => {
    const service = await startLocalService(dataDir);
    const port = service.port;

    const health = await fetch(`http://127.0.0.1:${port}/health_check`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ message: 'OK' });

    expect(await service.stop()).toBe(0);
    await expect(fetch(`http://127.0.0.1:${port}/health_check`)).rejects.toThrow();
    expect(processesMentioning(dataDir)).toEqual([]);
    // Nothing left that would make the console or the next npm start think it still runs.
    expect(existsSync(join(dataDir, 'local-run.json'))).toBe(false);
    expect(existsSync(join(dataDir, 'embedded-database.json'))).toBe(false);
  }, 120_000);
});
