import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { signInAtDevProvider } from '../../scripts/dev-openid-provider.ts';
import { readLocalRun } from '../../scripts/local-run.ts';
import { startLocalService, type RunningStart } from './helpers.ts';

function processesMentioning(text: string): string[] {
  const lines = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' }).split('\n');
  return lines.filter((line) => line.includes(text) && !line.includes('ps -eo'));
}

const dataDir = mkdtempSync(join(tmpdir(), 'stacker-start-'));
let running: RunningStart | undefined;
afterAll(async () => {
  await running?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

/** The API of a running npm start as a user signed in at its development provider. */
async function signedIn(service: RunningStart) {
  const token = await signInAtDevProvider(readLocalRun(dataDir)!.services.OAUTH_ISSUER!, { name: 'keeper', role: 'user' });
  return (path: string, init: { method?: string; body?: string } = {}) =>
    fetch(`http://127.0.0.1:${service.port}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } });
}

describe('npm start', () => {
  it('serves /health_check and the dashboard on the embedded database with no DATABASE_URL, and Ctrl-C stops everything', async () => {
    const service = await startLocalService(dataDir, {}, { host: 'wrangler' });
    const port = service.port;

    const health = await fetch(`http://127.0.0.1:${port}/health_check`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ message: 'OK' });
    // The dashboard, signed out: its first page.
    const dashboard = await fetch(`http://127.0.0.1:${port}/`);
    expect(dashboard.status).toBe(200);
    expect(dashboard.headers.get('content-type')).toContain('text/html');
    expect(await dashboard.text()).toContain('Sign in');

    expect(await service.stop()).toBe(0);
    await expect(fetch(`http://127.0.0.1:${port}/health_check`)).rejects.toThrow();
    expect(processesMentioning(dataDir)).toEqual([]);
    // Nothing left that would make the console or the next npm start think it still runs.
    expect(existsSync(join(dataDir, 'local-run.json'))).toBe(false);
    expect(existsSync(join(dataDir, 'embedded-database.json'))).toBe(false);
  }, 120_000);

  it('keeps what was made through it when it is stopped and started again (the database in .data/postgres)', async () => {
    running = await startLocalService(dataDir, { DOCKERHUB_CHECK: 'off' });
    let api = await signedIn(running);
    const payload = readFileSync(join(import.meta.dirname, '..', 'fixtures', 'reference-payloads', 'custom-stack-payload.json'), 'utf8');
    const created = await api('/project', { method: 'POST', body: payload });
    expect(created.status).toBe(201);
    const { item } = (await created.json()) as { item: { id: number; name: string } };
    const before = await (await api(`/project/${item.id}`)).json();
    expect(await running.stop()).toBe(0);
    running = undefined;
    expect(existsSync(join(dataDir, 'postgres', 'PG_VERSION'))).toBe(true);

    running = await startLocalService(dataDir, { DOCKERHUB_CHECK: 'off' });
    api = await signedIn(running);
    const after = await api(`/project/${item.id}`);
    expect(after.status).toBe(200);
    expect(await after.json()).toEqual(before);
    expect(await running.stop()).toBe(0);
    running = undefined;
  }, 240_000);
});
