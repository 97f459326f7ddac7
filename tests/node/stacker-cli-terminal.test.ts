// The `stacker` binary and what a server can make it do to the person's machine (issue 29, points 9
// and 12): server text (agent output, event messages, errors) reaches the terminal without control
// sequences, and `stacker login` opens the sign-in address with the `open` package, as one argument
// that no shell reads. The server here is a stand-in speaking the API's wire format for the routes
// these commands call, answering text a hostile server (or a hostile agent behind it) could send.
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const bin = join(root, 'cli', 'stacker', 'bin.js');
const scratch = mkdtempSync(join(tmpdir(), 'stacker-cli-terminal-'));

// What a terminal must never receive from a server: clear screen, cursor moves, window title (OSC),
// a hyperlink escape, 8-bit CSI, bidi overrides, and a bare carriage return that overwrites a line.
const HOSTILE = 'ok\u001b[2J\u001b[1;1H\u001b]0;pwned\u0007\u001b]8;;https://evil.example\u001b\\click\u001b]8;;\u001b\\\u009b31m\u202eevil\rfake line';
const ESCAPES = /[\u001b\u009b\u0007\u202e\r]/;

const DEPLOYMENT_HASH = 'deployment_terminal';
const COMMAND_ID = 'cmd_terminal';
let server: Server;
let apiUrl = '';
let authorizeUrl = '';

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

function answer(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', apiUrl);
  const path = url.pathname;
  if (path === '/auth/config') return send(res, 200, { message: 'OK', item: { authorize_url: authorizeUrl, token_url: `${apiUrl}/token`, client_id: 'stacker-cli', scope: 'openid' } });
  if (path === '/project/7') return send(res, 200, { message: 'OK', item: { id: 7, name: 'shop' } });
  if (path === '/project/7/deployments') return send(res, 200, { message: 'OK', list: [{ id: 9, deployment_hash: DEPLOYMENT_HASH, status: 'completed' }] });
  if (path === '/project/7/deployments/9/events') {
    if (url.searchParams.get('after') === '2147483647') return send(res, 200, { message: 'OK', list: [], meta: { latest_seq: 4 } });
    const event = { seq: 5, kind: 'command', subject: COMMAND_ID, status: 'completed', progress: null, message: HOSTILE, created_at: new Date().toISOString() };
    return send(res, 200, { message: 'OK', list: [event], meta: { latest_seq: 5 } });
  }
  if (path === '/api/v1/commands' && req.method === 'POST') return send(res, 201, { message: 'OK', item: { command_id: COMMAND_ID } });
  if (path === `/api/v1/commands/${DEPLOYMENT_HASH}/${COMMAND_ID}`) {
    const item = { command_id: COMMAND_ID, type: 'logs', status: `completed${HOSTILE}`, parameters: {}, result: `line one\n${HOSTILE}\nline three`, error: { message: HOSTILE } };
    return send(res, 200, { message: 'OK', item, meta: {} });
  }
  if (path === `/project/7/deployments/9/cancel`) return send(res, 422, { message: `refused ${HOSTILE}`, errors: [{ path: `field${HOSTILE}`, message: HOSTILE }] });
  return send(res, 404, { message: 'not found' });
}

beforeAll(async () => {
  server = createServer(answer);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // The address the server names for signing in, with what a shell would act on ($(), &, quotes, spaces).
  authorizeUrl = `${apiUrl}/authorize?next=$(touch ${join(scratch, 'ran')})&x=1"&calc.exe& echo 'hi'`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  rmSync(scratch, { recursive: true, force: true });
});

function stacker(args: string[], env: NodeJS.ProcessEnv = {}) {
  const child = spawn(bin, args, {
    cwd: scratch,
    env: { ...process.env, STACKER_URL: apiUrl, STACKER_TOKEN: 'terminal-test-token', XDG_CONFIG_HOME: join(scratch, 'config'), NO_COLOR: '1', ...env, PATH: `${join(root, 'node_modules', '.bin')}:${env.PATH ?? process.env.PATH}` },
  });
  const run = { stdout: '', stderr: '', code: null as number | null };
  child.stdout.on('data', (chunk) => (run.stdout += String(chunk)));
  child.stderr.on('data', (chunk) => (run.stderr += String(chunk)));
  return { child, run, done: new Promise<typeof run>((resolve) => child.on('close', (code) => resolve({ ...run, code }))) };
}

describe('stacker and a hostile server', () => {
  it('prints an agent command\'s status, output and error without terminal control sequences', async () => {
    const run = await stacker(['agent', 'logs', 'web', '--project', '7', '--timeout', '10']).done;
    expect(run.stdout).toContain('line one');
    expect(run.stdout).toContain('line three');
    // The words stay, the sequences go (a window title's text with its sequence).
    expect(run.stdout).toContain('clickevil');
    expect(run.stdout).toContain('fake line');
    expect(run.stdout).not.toContain('pwned');
    expect(run.stdout).not.toMatch(ESCAPES);
    expect(run.stderr).toContain('error');
    expect(run.stderr).not.toMatch(ESCAPES);
  }, 60_000);

  it('prints an API refusal and its field errors without them', async () => {
    const run = await stacker(['cancel', '--project', '7', '--deployment', '9']).done;
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('refused');
    expect(run.stderr).not.toMatch(ESCAPES);
  }, 60_000);

  it('login opens the address the server names with the `open` package, as one argument no shell reads', async () => {
    // `open` runs xdg-open here, which hands the address to $BROWSER: a script that writes down its arguments.
    const browser = join(scratch, 'browser.sh');
    const seen = join(scratch, 'browser-args');
    writeFileSync(browser, `#!/bin/sh\nfor a in "$@"; do printf '%s\\n--\\n' "$a"; done > '${seen}'\n`);
    chmodSync(browser, 0o755);
    const login = stacker(['login', '--timeout', '30'], { BROWSER: browser, DISPLAY: '', WAYLAND_DISPLAY: '', XDG_CURRENT_DESKTOP: '', PATH: '/usr/bin:/bin' });
    const deadline = Date.now() + 30_000;
    while (!existsSync(seen) && Date.now() < deadline && login.run.stderr.indexOf('no browser could be opened') < 0) await new Promise((resolve) => setTimeout(resolve, 50));
    login.child.kill();
    await login.done;
    expect(login.run.stderr).not.toContain('no browser could be opened');
    const args = readFileSync(seen, 'utf8').split('\n--\n').filter(Boolean);
    expect(args).toHaveLength(1);
    const opened = new URL(args[0]!);
    expect(opened.origin + opened.pathname).toBe(`${apiUrl}/authorize`);
    expect(opened.searchParams.get('next')).toBe(`$(touch ${join(scratch, 'ran')})`);
    expect(opened.searchParams.get('code_challenge_method')).toBe('S256');
    expect(existsSync(join(scratch, 'ran'))).toBe(false);
  }, 60_000);

  it('login.ts starts no command interpreter itself (cmd /c start read the address as a command line on Windows)', () => {
    const source = readFileSync(join(root, 'cli', 'stacker', 'login.ts'), 'utf8');
    expect(source).toMatch(/from 'open'/);
    expect(source).not.toMatch(/node:child_process|'cmd'|\/c start/);
  });
});
