// npm run console -- agent rotate-token: against a scratch database, the loopback Vault stub and
// (for the agent notification) the agent local-API stub, all started here.
import { execFile } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateDatabase } from '../../db/migrate.ts';
import { startAgentStub, type AgentStub } from '../stubs/agent.ts';
import { startVaultStub, type VaultStub } from '../stubs/vault.ts';
import { createScratchDatabase, withClient } from './helpers.ts';

const run = promisify(execFile);
let scratch: { url: string; drop: () => Promise<void> };
let vault: VaultStub;
let agentStub: AgentStub;

beforeAll(async () => {
  scratch = await createScratchDatabase('stacker_console_rotate');
  await migrateDatabase(scratch.url);
  vault = await startVaultStub();
  agentStub = await startAgentStub();
});
afterAll(async () => {
  await vault?.close();
  await agentStub?.close();
  await scratch?.drop();
});

const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');

interface Failure {
  code: number;
  stdout: string;
  stderr: string;
}

function console_(args: string[], env: Record<string, string | undefined> = {}) {
  const base: Record<string, string | undefined> = {
    ...process.env,
    DATABASE_URL: scratch.url,
    VAULT_ADDRESS: vault.url,
    VAULT_TOKEN: vault.token,
    AGENT_BASE_URL: undefined,
  };
  const merged = Object.fromEntries(Object.entries({ ...base, ...env }).filter(([, value]) => value !== undefined)) as Record<string, string>;
  return run(process.execPath, ['cli/console.ts', ...args], { env: merged });
}

const fails = (args: string[], env: Record<string, string | undefined> = {}) =>
  console_(args, env).then(
    () => {
      throw new Error('expected the console to fail');
    },
    (error: Failure) => error,
  );

/** A deployment with an agent whose token is `token` (only its hash in the database). */
async function seedAgent(token = randomBytes(32).toString('hex')) {
  const hash = `deployment_${randomUUID()}`;
  const agentId = await withClient(scratch.url, async (client) => {
    const project = await client.query(`insert into project (stack_id, user_id, name, metadata) values (gen_random_uuid(), 'owner', 'p', '{}') returning id`);
    await client.query(`insert into deployment (project_id, metadata, status, deployment_hash, user_id) values ($1, '{}', 'pending', $2, 'owner')`, [
      project.rows[0].id,
      hash,
    ]);
    const agent = await client.query(`insert into agents (deployment_hash, token_hash) values ($1, $2) returning id`, [hash, sha256(token)]);
    return agent.rows[0].id as string;
  });
  return { hash, agentId, token };
}

async function agentRow(agentId: string) {
  return withClient(scratch.url, async (client) => {
    const result = await client.query(
      `select token_hash, previous_token_hash, extract(epoch from previous_token_expires_at - now())::int as grace_seconds,
              token_rotated_at is not null as rotated from agents where id = $1`,
      [agentId],
    );
    return result.rows[0] as { token_hash: string; previous_token_hash: string | null; grace_seconds: number | null; rotated: boolean };
  });
}

// Each step starts the console as a new Node process; beside the suite's other files on a 2-core
// machine one step has taken 9 s, close to the default 20 s. Each test works on an agent (and Vault
// keys) of its own, so they run at once.
describe('npm run console -- agent rotate-token', { timeout: 60_000, concurrent: true }, () => {
  it('generates a token, prints it once, stores it in Vault under both keys and keeps the old one for 10 minutes', async () => {
    const agent = await seedAgent();
    const { stdout } = await console_(['agent', 'rotate-token', '--deployment-hash', agent.hash]);
    expect(stdout).toContain(`Rotated agent token for deployment_hash ${agent.hash} (stored in Vault)`);
    const token = /New agent token \(shown once, keep it safe\): (\S+)/.exec(stdout)?.[1];
    expect(token).toMatch(/^[A-Za-z0-9_-]{64}$/);
    expect(stdout.split(token!).length - 1).toBe(1);

    expect(vault.stored(`agent/${agent.hash}/token`)).toEqual({ token, deployment_hash: agent.hash });
    expect(vault.stored(`agent/${agent.hash}/status_panel_token`)).toEqual({ token, deployment_hash: agent.hash });
    const row = await agentRow(agent.agentId);
    expect(row.token_hash).toBe(sha256(token!));
    expect(row.previous_token_hash).toBe(sha256(agent.token));
    expect(row.grace_seconds).toBeGreaterThan(9 * 60);
    expect(row.grace_seconds).toBeLessThanOrEqual(10 * 60);
    expect(row.rotated).toBe(true);
  });

  it('--revoke-now forgets the previous token at once, and says how soon the service\'s wait cache follows', async () => {
    const agent = await seedAgent();
    const { stdout } = await console_(['agent', 'rotate-token', '--deployment-hash', agent.hash, '--revoke-now']);
    const token = /New agent token \(shown once, keep it safe\): (\S+)/.exec(stdout)?.[1];
    expect(stdout).toContain('The previous token is refused from now on');
    expect(stdout).toContain('within 60 s');
    const row = await agentRow(agent.agentId);
    expect(row.token_hash).toBe(sha256(token!));
    expect(row.previous_token_hash).toBeNull();
    expect(row.grace_seconds).toBeLessThanOrEqual(0);
  });

  it('--grace-seconds sets the grace period (0 to 3600), and refuses anything else, changing nothing', async () => {
    const [agent, other] = await Promise.all([seedAgent(), seedAgent()]);
    // Each console run is a process of its own, on its own agent or refused before any change: all at once.
    const refusals = [...['3601', '1.5', 'soon'].map((value) => ['--grace-seconds', value]), ['--grace-seconds', '60', '--revoke-now']];
    const [{ stdout }, ...failures] = await Promise.all([
      console_(['agent', 'rotate-token', '--deployment-hash', agent.hash, '--grace-seconds', '120']),
      ...refusals.map((options) => fails(['agent', 'rotate-token', '--deployment-hash', other.hash, ...options])),
    ]);
    expect(stdout).toMatch(/The previous token is accepted until \S+\./);
    const row = await agentRow(agent.agentId);
    expect(row.previous_token_hash).toBe(sha256(agent.token));
    expect(row.grace_seconds).toBeGreaterThan(110);
    expect(row.grace_seconds).toBeLessThanOrEqual(120);

    for (const [index, value] of ['3601', '1.5', 'soon'].entries()) {
      const failure = failures[index]!;
      expect(failure.code, value).toBe(2);
      expect(failure.stderr.trim()).toBe('console: agent rotate-token: --grace-seconds must be a whole number of seconds, 0 to 3600');
    }
    const both = failures[3]!;
    expect(both.code).toBe(2);
    expect(both.stderr.trim()).toBe('console: agent rotate-token: --revoke-now is --grace-seconds 0; give one of them');
    expect((await agentRow(other.agentId)).token_hash).toBe(sha256(other.token));
  });

  it('sets the token given with --new-token and does not echo it', async () => {
    const agent = await seedAgent();
    const chosen = `chosen_${randomBytes(24).toString('hex')}`;
    const { stdout, stderr } = await console_(['agent', 'rotate-token', '--deployment-hash', agent.hash, '--new-token', chosen]);
    expect(stdout).toContain(`Rotated agent token for deployment_hash ${agent.hash} (stored in Vault)`);
    expect(stdout + stderr).not.toContain(chosen);
    expect(vault.stored(`agent/${agent.hash}/status_panel_token`)).toEqual({ token: chosen, deployment_hash: agent.hash });
    expect((await agentRow(agent.agentId)).token_hash).toBe(sha256(chosen));
  });

  it('refuses a token that is not 32-256 characters of [A-Za-z0-9_-]', async () => {
    const agent = await seedAgent();
    const failure = await fails(['agent', 'rotate-token', '--deployment-hash', agent.hash, '--new-token', 'short']);
    expect(failure.code).toBe(1);
    expect(failure.stderr.trim()).toBe('console: Invalid new_token: must be at least 32 characters');
    expect((await agentRow(agent.agentId)).token_hash).toBe(sha256(agent.token));
  });

  it('fails with one clear line for an unknown deployment', async () => {
    const failure = await fails(['agent', 'rotate-token', '--deployment-hash', `deployment_${randomUUID()}`]);
    expect(failure.code).toBe(1);
    expect(failure.stderr.trim()).toBe('console: Agent not found');
  });

  it('with Vault down changes nothing and never prints a token', async () => {
    const agent = await seedAgent();
    const before = await agentRow(agent.agentId);
    const failure = await fails(['agent', 'rotate-token', '--deployment-hash', agent.hash], { VAULT_ADDRESS: `${vault.url}/__down` });
    expect(failure.code).toBe(1);
    expect(failure.stderr.trim()).toBe(`console: Vault answered HTTP 503 to read agent/${agent.hash}/token`);
    expect(failure.stdout + failure.stderr).not.toContain(vault.token);
    expect(await agentRow(agent.agentId)).toEqual(before);
    expect(vault.stored(`agent/${agent.hash}/token`)).toBeUndefined();
  });

  it('names a missing VAULT_ADDRESS', async () => {
    const agent = await seedAgent();
    const failure = await fails(['agent', 'rotate-token', '--deployment-hash', agent.hash], { VAULT_ADDRESS: undefined });
    expect(failure.code).toBe(1);
    expect(failure.stderr.trim()).toBe('console: VAULT_ADDRESS is not set');
  });

  it('requires --deployment-hash', async () => {
    const failure = await fails(['agent', 'rotate-token']);
    expect(failure.code).toBe(2);
    expect(failure.stderr.trim()).toBe('console: agent rotate-token: missing --deployment-hash');
  });

  it('with AGENT_BASE_URL tells the agent its new token, signed with the old one', async () => {
    const agent = await seedAgent();
    // As registration leaves it: the current token in Vault.
    await fetch(`${vault.url}/v1/agent/${agent.hash}/token`, {
      method: 'POST',
      headers: { 'x-vault-token': vault.token, 'content-type': 'application/json' },
      body: JSON.stringify({ data: { token: agent.token, deployment_hash: agent.hash } }),
    });
    const baseUrl = agentStub.addAgent({ agentId: agent.agentId, token: agent.token });
    const { stdout } = await console_(['agent', 'rotate-token', '--deployment-hash', agent.hash], { AGENT_BASE_URL: baseUrl });
    const token = /New agent token \(shown once, keep it safe\): (\S+)/.exec(stdout)?.[1];
    expect(stdout).toContain('The agent at AGENT_BASE_URL was told its new token.');
    const state = (await (await fetch(`${agentStub.url}/__agents/${baseUrl.slice(baseUrl.lastIndexOf('/') + 1)}`)).json()) as {
      token: string;
      accepted: Array<{ path: string }>;
    };
    expect(state.token).toBe(token);
    expect(state.accepted.map((request) => request.path)).toEqual(['/api/v1/auth/rotate-token']);
  });
});
