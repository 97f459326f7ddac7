// The `stacker` command line with the built-in deploy engine, run as the real binary against one
// `npm start` (a fresh embedded database, DEPLOY_ENGINE=builtin) and an own server stood in for by
// try-server (the real install script, the docker stand-in, the agent stand-in; no container runs):
// `deploy --server own` prints the install command and follows to completed with the addresses, a
// second `deploy` redeploys (revision 2), `rollback --revision 1`, a broken update that rolls itself
// back (exit 1), `destroy` (refused off a terminal without --yes; --yes ends removed), `status`, and
// the --json shapes. Everything is awaited on the CLI's output, never slept for.
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventLine } from '../../cli/stacker/follow.ts';
import { clean } from '../../cli/stacker/output.ts';
import { processAlive, readRegistry } from '../../scripts/stand-ins/docker.ts';
import { spawnStacker, printedBy, type StackerRun } from './helpers.ts';
import { startOwnServer, type OwnServer } from './own-server.ts';
import { sharedLocalService, type SharedStart } from './shared-start.ts';

const root = join(import.meta.dirname, '..', '..');
const scratch = mkdtempSync(join(tmpdir(), 'stacker-cli-engine-'));
const xdg = join(scratch, 'config');
const project = join(scratch, 'blog');
let service: SharedStart | undefined;
let apiUrl = '';
const children: ChildProcess[] = [];
const ownServers: OwnServer[] = [];

beforeAll(async () => {
  mkdirSync(project, { recursive: true });
  // The built-in engine, no Docker Hub from tests (tests/node/shared-start.ts).
  service = await sharedLocalService('builtin');
  apiUrl = `http://127.0.0.1:${service.port}`;
  // As a user does for CI: a token from `npm run -s dev-login`, saved with `stacker login --token`.
  const login = spawnSync(process.execPath, [join(root, 'scripts', 'dev-login.ts'), '--user', 'engine-cli'], { cwd: root, env: { ...process.env, STACKER_DATA_DIR: service.dataDir }, encoding: 'utf8' });
  expect(login.status, login.stderr).toBe(0);
  const saved = await stacker(['login', '--token', login.stdout.trim()]);
  expect(saved, saved.stderr).toMatchObject({ code: 0 });
}, 150_000);

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  for (const server of ownServers) {
    await server.stop().catch(() => undefined);
    // An agent stand-in still alive (a test that failed half-way).
    for (const record of readRegistry(server.root)) if (record.pid !== null && processAlive(record.pid)) process.kill(record.pid, 'SIGKILL');
  }
  if (process.env.STACKER_CLI_DEBUG) writeFileSync(process.env.STACKER_CLI_DEBUG, service?.output() ?? '');
  for (const server of ownServers) rmSync(server.root, { recursive: true, force: true });
  rmSync(scratch, { recursive: true, force: true });
}, 60_000);

type Run = StackerRun;

/** Runs the binary as a person's shell would (not a terminal: no colour, no spinner, no prompt). */
function start(args: string[]) {
  const started = spawnStacker(args, { url: apiUrl, xdg, cwd: project });
  children.push(started.child);
  return started;
}

const stacker = (args: string[]) => start(args).done;
const json = async <T = any>(args: string[]): Promise<T> => {
  const result = await stacker(args);
  expect(result, result.stderr).toMatchObject({ code: 0 });
  return JSON.parse(result.stdout) as T;
};

const seqs = (stdout: string) => stdout.split('\n').filter((line) => line.startsWith('#')).map((line) => Number(/^#(\d+)/.exec(line)![1]));

const COMPOSE = `services:
  web:
    image: nginx:1.27
    ports:
      - "8080:80"
  database:
    image: postgres:16
    environment:
      POSTGRES_PASSWORD: not-in-any-output
`;

describe('stacker: own servers (the built-in engine)', () => {
  let deploymentId = 0;
  let lastSeq = 0;

  it('helps with examples; refuses wrong usage before asking the server anything', async () => {
    // The help and the completion read no file: beside init. The refusals (each changes nothing): at once, after it.
    writeFileSync(join(project, 'docker-compose.yml'), COMPOSE);
    const [help, rollbackHelp, destroyHelp, completion, init] = await Promise.all([
      stacker(['deploy', '--help']),
      stacker(['rollback', '--help']),
      stacker(['destroy', '--help']),
      stacker(['completion', 'bash']),
      stacker(['init', '--from-compose', 'docker-compose.yml']),
    ]);
    expect(help.stdout).toContain('$ stacker deploy --server own --address 203.0.113.10 --follow');
    expect(help.stdout).toContain('--new');
    for (const [command, shown] of [['rollback', rollbackHelp], ['destroy', destroyHelp]] as const) {
      expect(shown, shown.stderr).toMatchObject({ code: 0 });
      expect(shown.stdout).toContain(`$ stacker ${command}`);
    }
    expect(completion.stdout).toMatch(/"rollback"\) candidates="--revision .*--no-follow/);
    expect(completion.stdout).toMatch(/"destroy"\) candidates="--yes /);
    expect(init, init.stderr).toMatchObject({ code: 0 });
    const [noServer, noAddress, notAnAddress, badRevision] = await Promise.all([
      stacker(['deploy', '--address', '127.0.0.1']),
      stacker(['deploy', '--server', 'own']),
      stacker(['deploy', '--server', 'own', '--address', 'example.com']),
      stacker(['rollback', '--revision', 'x']),
    ]);
    expect(noServer.stderr).toMatch(/^stacker: --address is the address of your own server: add --server own/);
    expect(noAddress.code).toBe(2);
    expect(noAddress.stderr).toMatch(/^stacker: which server\? pass --address <ip>/);
    expect(notAnAddress.code).toBe(2);
    expect(badRevision.code).toBe(2);
  }, 30_000);

  it('deploy --server own prints the install command; run on the server, the follow ends 0 with the addresses', async () => {
    const deploying = start(['deploy', '--server', 'own', '--address', '127.0.0.1', '--follow']);
    const { child, run, done } = deploying;
    const [, command] = await printedBy(deploying, /^Run this as root on your server:\n\n {2}(curl -fsSL '[^']+' \| sh)\n/m);
    expect(command).toMatch(new RegExp(`^curl -fsSL '${apiUrl}/install/[^']+' \\| sh$`));
    expect(run.stdout).toMatch(/^Deployment (\d+) of "blog" to your own server at 127\.0\.0\.1: pending \(deployment_\S+\)$/m);
    // Printed after the command, possibly in a later chunk.
    await printedBy(deploying, /It works once, until \d{4}-\d\d-\d\dT/);
    // Until the agent enrolled, status shows the command too.
    const pending = await json(['status', '--json']);
    expect(pending).toMatchObject({ engine: 'builtin', status: 'pending', server_address: '127.0.0.1', current_revision: null, install_command: command });
    ownServers.push(await startOwnServer(command!));
    const result = await done;
    expect(result, result.stderr).toMatchObject({ code: 0 });
    deploymentId = Number(/^Deployment (\d+) of/m.exec(result.stdout)![1]);
    expect(result.stdout).toMatch(/^#\d+ progress completed 100% Revision 1 is running at http:\/\/127\.0\.0\.1:8080 \[healthy\]$/m);
    expect(result.stdout).toMatch(new RegExp(`Deployment ${deploymentId} completed\\nRunning: revision 1 on 127\\.0\\.0\\.1\\n {2}web {2}http://127\\.0\\.0\\.1:8080\\n$`));
    expect(seqs(result.stdout)).toEqual(seqs(result.stdout).map((_, index) => index + 1));
    lastSeq = seqs(result.stdout).at(-1)!;
    expect(result.stdout + result.stderr).not.toMatch(/\u001b|not-in-any-output/);
  }, 60_000);

  it('status shows the engine, the server, the revision, the addresses and the history; no install command once enrolled', async () => {
    const [status, detail] = await Promise.all([stacker(['status']), json(['status', '--json'])]);
    expect(status, status.stderr).toMatchObject({ code: 0 });
    expect(status.stdout).toContain('  engine      built-in, own server 127.0.0.1\n  revision    1 running\n  addresses   \n    web  http://127.0.0.1:8080\n');
    expect(status.stdout).not.toContain('Run this as root');
    expect(status.stdout).toMatch(/^Revisions:\nREVISION\s+STATUS\s+CREATED\s+APPLIED\s+SERVICES\s+MESSAGE\n1 \*\s+running\s+\S+\s+\S+\s+web,database/m);
    expect(detail).toMatchObject({
      id: deploymentId,
      status: 'completed',
      engine: 'builtin',
      server_address: '127.0.0.1',
      current_revision: 1,
      addresses: [{ service: 'web', url: 'http://127.0.0.1:8080' }],
      install_command: null,
      revisions: [{ revision: 1, status: 'running', current: true }],
    });
  }, 20_000);

  it('deploy again redeploys the live deployment as revision 2 (--json: the start, each event, the end)', async () => {
    const result = await stacker(['deploy', '--follow', '--json']);
    expect(result, result.stderr).toMatchObject({ code: 0 });
    const lines = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines[0]).toMatchObject({ operation: 'redeploy', deployment_id: deploymentId, revision: 2, status: 'in_progress', server_address: '127.0.0.1' });
    const events = lines.slice(1, -1);
    // Only the redeploy's events: the log goes on from where the first deploy's follow stopped.
    expect(events[0]!.seq).toBeGreaterThan(lastSeq);
    expect(events.find((event) => event.kind === 'progress')).toMatchObject({ status: 'in_progress', message: expect.stringContaining('revision 2') });
    expect(events.map((event) => event.message)).not.toContain('Revision 1 is running at http://127.0.0.1:8080');
    // The end is the last progress event (the agent's app status reports may follow it).
    expect(events.filter((event) => event.kind === 'progress').at(-1)).toMatchObject({ status: 'completed', message: 'Revision 2 is running at http://127.0.0.1:8080' });
    expect(lines.at(-1)).toEqual({
      ended: true,
      deployment_id: deploymentId,
      status: 'completed',
      message: 'Revision 2 is running at http://127.0.0.1:8080',
      engine: 'builtin',
      server_address: '127.0.0.1',
      current_revision: 2,
      addresses: [{ service: 'web', url: 'http://127.0.0.1:8080' }],
    });
    // The live deployment is redeployed where it is: another address needs --new (refused: beside the listing).
    const [deployments, elsewhere] = await Promise.all([json<unknown[]>(['deployments', '--json']), stacker(['deploy', '--server', 'own', '--address', '127.0.0.2'])]);
    expect(deployments.length).toBe(1);
    expect(elsewhere.code).toBe(2);
    expect(elsewhere.stderr).toMatch(/is live on 127\.0\.0\.1: `stacker deploy` redeploys it there; pass --new/);
  }, 40_000);

  it('rollback --revision 1 applies revision 1 again and follows it to completed', async () => {
    const result = await stacker(['rollback', '--revision', '1']);
    expect(result, result.stderr).toMatchObject({ code: 0 });
    expect(result.stdout).toMatch(new RegExp(`^Deployment ${deploymentId}: Rolling back to revision 1\\n#\\d+ progress in_progress .*revision 1`));
    expect(result.stdout).toMatch(/Revision 1 is running at http:\/\/127\.0\.0\.1:8080 \[healthy\]\n(?:#\d+ (?:app_status|command) .*\n)*Deployment \d+ completed\nRunning: revision 1 on 127\.0\.0\.1\n/);
    expect(await json(['status', '--json'])).toMatchObject({ current_revision: 1, revisions: [{ revision: 2, status: 'superseded' }, { revision: 1, status: 'running', current: true }] });
  }, 40_000);

  it('a broken update rolls itself back: deploy exits 1 saying so, and the good revision still runs', async () => {
    writeFileSync(join(project, 'stacker.yml'), readFileSync(join(project, 'stacker.yml'), 'utf8').replace('image: nginx:1.27', 'image: stand-in/pull-fails:1.0'));
    const result = await stacker(['deploy', '--follow']);
    expect(result.code, result.stderr).toBe(1);
    expect(result.stdout).toMatch(/redeploying it as revision 3/);
    expect(result.stdout).toMatch(/\nStill running: revision 1 on 127\.0\.0\.1\n {2}web {2}http:\/\/127\.0\.0\.1:8080\n$/);
    expect(result.stderr.trim()).toMatch(
      new RegExp(`^stacker: deployment ${deploymentId} ended failed: deploy_app of revision 3 failed: web: .*pull access denied for stand-in/pull-fails.*\\. Rolled back to revision 1, which is running again\\.$`),
    );
    expect(await json(['status', '--json'])).toMatchObject({ status: 'failed', current_revision: 1, revisions: [{ revision: 3, status: 'failed' }, {}, { revision: 1, current: true }] });
    writeFileSync(join(project, 'stacker.yml'), readFileSync(join(project, 'stacker.yml'), 'utf8').replace('image: stand-in/pull-fails:1.0', 'image: nginx:1.27'));
  }, 40_000);

  it('destroy: refused off a terminal without --yes; with it the stack is taken down and the deployment ends removed', async () => {
    const [refused, before] = await Promise.all([stacker(['destroy']), json(['status', '--json'])]);
    expect(refused.code).toBe(2);
    expect(refused.stderr.trim()).toBe('stacker: destroy takes the stack down and there is no terminal to ask on: pass --yes to confirm');
    expect(before.status).toBe('failed');
    const result = await stacker(['destroy', '--yes']);
    expect(result, result.stderr).toMatchObject({ code: 0 });
    expect(result.stdout).toMatch(/^#\d+ progress removed\s+\d+% Removed: (web, database|database, web) stopped and deleted on the server \[stack\]$/m);
    expect(result.stdout).toMatch(new RegExp(`Deployment ${deploymentId} removed\\n$`));
    expect(await json(['status', '--json'])).toMatchObject({ status: 'removed', current_revision: null, addresses: [] });
  }, 40_000);

  it('after removal, deploy starts a new deployment (--json: install_command as a field); destroy --yes --json of it', async () => {
    const started = await json(['deploy', '--server', 'own', '--address', '127.0.0.1', '--json']);
    expect(started).toEqual({
      project_id: expect.any(Number),
      deployment_id: expect.any(Number),
      deployment_hash: expect.stringMatching(/^deployment_/),
      status: 'pending',
      operation: 'deploy',
      server_address: '127.0.0.1',
      install_command: expect.stringMatching(/^curl -fsSL 'http:\/\/127\.0\.0\.1:\d+\/install\/[^']+' \| sh$/),
      install_command_expires_at: expect.stringMatching(/^\d{4}-/),
    });
    expect(started.deployment_id).not.toBe(deploymentId);
    // Its agent never enrolled: deploy neither redeploys it nor starts a third.
    const [again, status] = await Promise.all([stacker(['deploy']), stacker(['status'])]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^stacker: deployment \d+ of "blog" is still pending \(Waiting for the agent: run the install command on the server\): follow it/);
    expect(status.stdout).toContain(`Run this as root on your server:\n\n  ${started.install_command}\n`);
    const destroyed = await stacker(['destroy', '--yes', '--json']);
    expect(destroyed, destroyed.stderr).toMatchObject({ code: 0 });
    const lines = destroyed.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines[0]).toMatchObject({ operation: 'destroy', deployment_id: started.deployment_id, message: 'Removing the stack' });
    expect(lines.slice(1, -1).every((line) => typeof line.seq === 'number')).toBe(true);
    expect(lines.at(-1)).toMatchObject({ ended: true, status: 'removed', message: 'Removed: no agent had enrolled, so nothing was running', addresses: [] });
    expect((await json<unknown[]>(['deployments', '--json'])).length).toBe(2);
  }, 40_000);
});

describe('stacker: server text is printed without terminal control sequences', () => {
  it('cleans colours, titles, cursor moves, control characters and bidi overrides; keeps the text', () => {
    expect(clean('red \u001b[31mX\u001b[0m \u001b]0;title\u0007\u001b[2J\u001b[Hdone\r\nnext\u202e')).toBe('red X done next');
    expect(clean('a\nb\u0007', { multiline: true })).toBe('a\nb');
    expect(clean('plain é 日本')).toBe('plain é 日本');
    const line = eventLine({ seq: 3, at: '', kind: 'progress', status: 'failed', progress: 40, message: 'up failed: \u001b[1;31merror\u001b[0m\n\u001b]8;;http://x\u001b\\link\u001b]8;;\u001b\\', subject: 'stack\u001b[K' });
    expect(line).toBe('#3 progress failed  40% up failed: error link [stack]');
  });
});
