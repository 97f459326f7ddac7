// The README's "Try it in five minutes", run exactly as written against `npm start`, and the console
// on the same embedded database before, during and after it.
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { processAlive, readRegistry, waitForExit } from '../../scripts/stand-ins/docker.ts';
import { startLocalService, type RunningStart } from './helpers.ts';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..', '..');
const dataDir = mkdtempSync(join(tmpdir(), 'stacker-tour-'));
let service: RunningStart | undefined;
/** The stand-in server try-server made for the tour (its folder, and the agent if the tour stopped before its kill). */
let serverRoot = '';
afterAll(async () => {
  if (serverRoot) {
    for (const record of readRegistry(serverRoot)) if (record.pid !== null && processAlive(record.pid)) process.kill(record.pid, 'SIGKILL');
    rmSync(serverRoot, { recursive: true, force: true });
  }
  await service?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

function tourBlock(): string {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const section = /<!-- tour:start -->\n```sh\n([\s\S]*?)```\n<!-- tour:end -->/.exec(readme);
  if (!section) throw new Error('README.md has no tour block between <!-- tour:start --> and <!-- tour:end -->');
  return section[1]!;
}

/**
 * The console as a person runs it: no DATABASE_URL, the data folder of npm start. A run while npm
 * start is down starts the embedded PostgreSQL itself (well under a second alone, more beside the
 * suite's other files on a 2-core machine); a run that hangs is stopped and reported with what it printed.
 */
async function consoleCommand(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, STACKER_DATA_DIR: dataDir };
  delete env.DATABASE_URL;
  try {
    const { stdout, stderr } = await run(process.execPath, ['cli/console.ts', ...args], { cwd: root, env, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number | null; signal?: string; stdout: string; stderr: string };
    const stderr = failed.signal ? `${failed.stderr}\n(console ${args.join(' ')} did not finish in 60 s: stopped with ${failed.signal})` : failed.stderr;
    return { code: failed.code ?? -1, stdout: failed.stdout, stderr };
  }
}

describe('the README tour and the console on the embedded database', () => {
  it('before any npm start, the console says there is no embedded database yet', async () => {
    const answer = await consoleCommand('appclient', 'new', '--user-id', 'u0');
    expect(answer.code).toBe(1);
    expect(answer.stderr.trim()).toBe(
      `console: there is no embedded database in ${join(dataDir, 'postgres')}: run \`npm start\` once to create it, or set DATABASE_URL`,
    );
  });

  let deploymentHash = '';

  it('runs the tour as written: sign-in, client, project, compose, deploy to an own server, try-server, completed with addresses, agent command, result', async () => {
    // npm start's default engine, the built-in one; no Docker Hub from tests.
    service = await startLocalService(dataDir, { DOCKERHUB_CHECK: 'off' }, { host: 'wrangler' });
    const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(service.port), STACKER_DATA_DIR: dataDir };
    delete env.DATABASE_URL;
    let stdout: string;
    try {
      // Room under load: npm start and this tour (two console runs, try-server, the deploy) took 74 s together at load average ~12 on 2 cores.
      ({ stdout } = await run('bash', ['-euo', 'pipefail', '-c', tourBlock()], { cwd: root, env, timeout: 120_000 }));
    } catch (error) {
      const failed = error as { stdout: string; stderr: string };
      serverRoot = /^try-server: stand-in root \(the server's \/\): (.+)$/m.exec(failed.stdout ?? '')?.[1] ?? '';
      throw new Error(`the tour stopped:\n${failed.stdout}\n${failed.stderr}\nnpm start said:\n${service.output()}`);
    }
    serverRoot = /^try-server: stand-in root \(the server's \/\): (.+)$/m.exec(stdout)?.[1] ?? '';
    expect(serverRoot).not.toBe('');
    expect(stdout).toMatch(/"item":\{"kind":"user","subject":"group_user","user_id":"alice-\d+"\}/);
    expect(stdout).toMatch(/^API client \d+$/m);
    expect(stdout).toMatch(/^services:\n {2}\S+:\n {4}image: /m);
    expect(stdout).toMatch(/^run on the server as root: curl -fsSL 'http:\/\/127\.0\.0\.1:\d+\/install\/[\w-]+' \| sh$/m);
    expect(stdout).toMatch(/^stacker: enrolled: the agent's credentials are in /m);
    const progress = [...stdout.matchAll(/^deployment (deployment_[\w-]+): (\w+) (\d+)% (.*)$/gm)];
    expect(progress.at(-1)?.slice(2, 5)).toEqual(['completed', '100', 'Revision 1 is running at http://203.0.113.10:3000']);
    expect(progress.map((line) => line[2])).toContain('in_progress');
    deploymentHash = progress[0]![1]!;
    expect(stdout).toContain('addresses: [{"service":"postgrest","url":"http://203.0.113.10:3000"}]');
    const result = /^command (cmd_[\w-]+): completed, result (\{.*\})$/m.exec(stdout);
    expect(result, stdout).not.toBeNull();
    expect(JSON.parse(result![2]!)).toMatchObject({ type: 'health', app_code: 'postgrest', status: 'ok', container_state: 'running' });
    // The tour's last step stopped the agent stand-in (SIGTERM: it ends its poll, then exits).
    const agents = readRegistry(serverRoot).filter((record) => record.pid !== null);
    expect(agents).toHaveLength(1);
    expect(await waitForExit(agents[0]!.pid!, 10_000)).toBe(true);
  }, 180_000);

  it('while npm start runs, every console command works through it', async () => {
    expect(service).toBeDefined();
    // Side by side: each reaches npm start's database on its own, as three people at three terminals would.
    const [created, decision, rotated] = await Promise.all([
      consoleCommand('appclient', 'new', '--user-id', 'u1'),
      consoleCommand('debug', 'casbin', '--path', '/project/1', '--action', 'GET', '--subject', 'group_user'),
      consoleCommand('agent', 'rotate-token', '--deployment-hash', deploymentHash),
    ]);
    expect(created, created.stderr).toMatchObject({ code: 0 });
    expect(created.stdout).toMatch(/^Created API client \d+ for user u1\.$/m);
    expect(decision.stdout).toContain('ALLOW GET /project/1');
    expect(rotated, rotated.stderr).toMatchObject({ code: 0 });
    expect(rotated.stdout).toContain(`Rotated agent token for deployment_hash ${deploymentHash} (stored in Vault)`);
  }, 200_000);

  it('a second npm start on the same data folder refuses, naming the one that holds it', async () => {
    const second = await startLocalService(dataDir).then(
      () => 'started',
      (error: Error) => error.message,
    );
    expect(second).toMatch(/the embedded database in \S+ is in use by npm start \(pid \d+\)\. Stop it first, or use another STACKER_DATA_DIR\./);
  }, 60_000);

  it('with npm start stopped, the console opens the same database itself and sees what was made through npm start', async () => {
    expect(await service!.stop()).toBe(0);
    service = undefined;
    const created = await consoleCommand('appclient', 'new', '--user-id', 'u2');
    expect(created, created.stderr).toMatchObject({ code: 0 });
    const ids = [/Created API client (\d+) for user u2/.exec(created.stdout)?.[1]].map(Number);
    expect(ids[0]).toBeGreaterThan(2); // the tour's client and u1's came first, through npm start
    const decision = await consoleCommand('debug', 'casbin', '--path', '/project/1', '--action', 'DELETE', '--subject', 'anonym');
    expect(decision.stdout).toContain('DENY DELETE /project/1');
    // The agent of the tour's deployment is found, and its token goes to the Vault file npm start used.
    const rotated = await consoleCommand('agent', 'rotate-token', '--deployment-hash', deploymentHash);
    expect(rotated, rotated.stderr).toMatchObject({ code: 0 });
    const token = /New agent token \(shown once, keep it safe\): (\S+)/.exec(rotated.stdout)?.[1];
    expect(readFileSync(join(dataDir, 'vault.json'), 'utf8')).toContain(token!);
  }, 200_000);
});

describe('the console and a data folder another process is opening', () => {
  it('says who is opening it and to try again, and changes nothing', async () => {
    const opening = mkdtempSync(join(tmpdir(), 'stacker-opening-'));
    try {
      // What npm start writes first, before its database listens: its (live) pid and no URL yet.
      writeFileSync(join(opening, 'embedded-database.json'), JSON.stringify({ pid: process.pid, holder: 'npm start' }));
      const env: NodeJS.ProcessEnv = { ...process.env, STACKER_DATA_DIR: opening };
      delete env.DATABASE_URL;
      const failure = (await run(process.execPath, ['cli/console.ts', 'appclient', 'new', '--user-id', 'u'], { cwd: root, env }).catch((error: unknown) => error)) as {
        code: number;
        stderr: string;
      };
      expect(failure.code).toBe(1);
      expect(failure.stderr.trim()).toBe(
        `console: the embedded database in ${join(opening, 'postgres')} is being opened by npm start (pid ${process.pid}); try again in a moment.`,
      );
      expect(readdirSync(opening)).toEqual(['embedded-database.json']);
    } finally {
      rmSync(opening, { recursive: true, force: true });
    }
  });
});
