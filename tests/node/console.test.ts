import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateDatabase } from '../../db/migrate.ts';
import { parseConfig } from '../../functions/config.ts';
import { clientRequestSignature } from '../../functions/services/client-signature.ts';
import { decryptSecret, hmacKey } from '../../functions/services/crypto.ts';
import { createScratchDatabase, withClient } from './helpers.ts';

const run = promisify(execFile);
let scratch: { url: string; drop: () => Promise<void> };
const securityKey = randomBytes(32).toString('base64');

beforeAll(async () => {
  scratch = await createScratchDatabase('stacker_console');
  await migrateDatabase(scratch.url);
});
afterAll(async () => {
  await scratch?.drop();
});

function console_(...args: string[]) {
  return consoleWith({}, ...args);
}

function consoleWith(env: Record<string, string>, ...args: string[]) {
  return run(process.execPath, ['cli/console.ts', ...args], {
    env: { ...process.env, DATABASE_URL: scratch.url, SECURITY_KEY: securityKey, MAX_CLIENTS_NUMBER: '1', ...env },
  });
}

// Each step starts the console as a new Node process (~2 s alone); beside the suite's other files on
// a 2-core machine two of them have taken over 20 s. Each test has users of its own (or only reads
// the rules), so they run at once.
describe('npm run console', { timeout: 60_000, concurrent: true }, () => {
  it('appclient new creates a client whose stored secret decrypts to the one printed', async () => {
    const { stdout } = await console_('appclient', 'new', '--user-id', 'hy181TZa4DaabUZWklsrxw');
    const id = Number(/Created API client (\d+) for user hy181TZa4DaabUZWklsrxw/.exec(stdout)?.[1]);
    const secret = /Secret \(shown once, keep it safe\): (\S+)/.exec(stdout)?.[1];
    expect(id).toBeGreaterThan(0);
    expect(secret).toBeDefined();
    const stored = await withClient(scratch.url, async (client) => (await client.query('select user_id, secret from client where id = $1', [id])).rows[0]);
    expect(stored.user_id).toBe('hy181TZa4DaabUZWklsrxw');
    expect(await decryptSecret(parseConfig({ SECURITY_KEY: securityKey }).SECURITY_KEY!, stored.secret)).toBe(secret);
  });

  it('appclient new prints a curl example that signs a request as docs/api-clients.md says', async () => {
    const seen: Array<{ method?: string; url?: string; headers: Record<string, string | string[] | undefined> }> = [];
    const server = createServer((request, response) => {
      seen.push({ method: request.method, url: request.url, headers: request.headers });
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const { stdout } = await consoleWith({ PUBLIC_URL: origin }, 'appclient', 'new', '--user-id', 'curl-user');
      const id = /Created API client (\d+) for user curl-user/.exec(stdout)?.[1];
      const secret = /Secret \(shown once, keep it safe\): (\S+)/.exec(stdout)?.[1];
      expect(stdout.split(secret!).length - 1).toBe(1); // the example names the variable, not the secret
      const example = /from a shell:\n((?: {2}.*\n)+)/.exec(stdout)?.[1]?.replace(/^ {2}/gm, '');
      expect(example, stdout).toBeDefined();
      const before = Math.floor(Date.now() / 1000);
      await run('bash', ['-euo', 'pipefail', '-c', example!], { env: { PATH: process.env.PATH!, STACKER_CLIENT_SECRET: secret! } });
      expect(seen).toHaveLength(1);
      const { method, url, headers } = seen[0]!;
      expect([method, url, headers['stacker-id']]).toEqual(['GET', '/whoami', id]);
      const timestamp = String(headers['stacker-timestamp']);
      expect(Number(timestamp)).toBeGreaterThanOrEqual(before);
      expect(Number(timestamp)).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
      const nonce = String(headers['stacker-nonce']);
      expect(nonce).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
      const expected = await clientRequestSignature(await hmacKey(secret!), { method: 'GET', pathWithQuery: '/whoami', timestamp, nonce, body: new Uint8Array() });
      expect(headers['stacker-hash']).toBe(expected);
    } finally {
      server.close();
    }
  });

  it('appclient new fails with one clear line and a non-zero exit past the limit', async () => {
    await console_('appclient', 'new', '--user-id', 'limited-user');
    const failure = await console_('appclient', 'new', '--user-id', 'limited-user').catch((error: { code: number; stderr: string }) => error);
    expect('code' in failure && failure.code).toBe(1);
    expect((failure as { stderr: string }).stderr.trim()).toBe('console: Too many API clients: at most 1 per user');
  });

  it('debug casbin explains an allowed decision with the rule that matched', async () => {
    const { stdout } = await console_('debug', 'casbin', '--path', '/project/12', '--action', 'delete', '--subject', 'group_admin');
    expect(stdout).toContain('subject group_admin (roles: group_user -> group_anonymous)');
    expect(stdout).toContain('ALLOW DELETE /project/12');
    expect(stdout).toContain('matched rule: p, group_user, /project/:id, DELETE');
  });

  it('debug casbin explains a refusal', async () => {
    const { stdout } = await console_('debug', 'casbin', '--path', '/api/v1/agent/commands/report', '--action', 'POST', '--subject', 'group_user');
    expect(stdout).toContain('DENY POST /api/v1/agent/commands/report');
    expect(stdout).toMatch(/no rule allows it \(\d+ rules loaded\)/);
  });

  it('a missing option is one clear line and exit code 2', async () => {
    const failure = (await console_('debug', 'casbin', '--path', '/x').catch((error: unknown) => error)) as { code: number; stderr: string };
    expect(failure.code).toBe(2);
    expect(failure.stderr.trim()).toBe('console: debug casbin: missing --action, --subject');
  });
});
