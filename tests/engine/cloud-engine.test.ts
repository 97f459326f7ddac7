// The built-in engine creating, waiting for and deleting servers in the user's cloud, inside workerd
// (DEPLOY_ENGINE=builtin) against the Hetzner Cloud and DigitalOcean stand-ins of the global setup.
// Each test saves a cloud key for its own stand-in account, then plays the server: it reads the
// created server's user data from the stand-in, runs its install command's enrollment and an agent.
import { env } from 'cloudflare:test';
import { and, eq, sql } from 'drizzle-orm';
import { describe, expect, inject, it } from 'vitest';
import { deployment as deploymentTable, deploymentOperation, server as serverTable } from '../../db/schema.ts';
import { configFromBindings } from '../../functions/config.ts';
import { savedCloudProvider } from '../../functions/services/deploy-engine/cloud-server.ts';
import { advanceDeployment } from '../../functions/services/deploy-engine/engine.ts';
import { runcmdOf } from '../../functions/services/deploy-engine/cloud-init.ts';
import { parse } from 'yaml';
import { wakeEngine } from '../../functions/services/doorbell.ts';
import { AgentSimulator, type WaitAnswer } from '../helpers/agent-simulator.ts';
import { api, bearerFor, jsonRequest, uniqueId } from '../helpers/auth.ts';
import { apiWith, BASE_URL, settingsForFile } from '../helpers/api.ts';
import { expectFieldError, page, signedIn } from '../helpers/dashboard.ts';
import { withDatabase } from '../helpers/db.ts';
import { createProjectFor, requestAndSettle, type ProjectRef } from '../helpers/deploy.ts';
import { projectForms } from '../helpers/fixtures.ts';

// Deploys go to the built-in engine (the rest of the workers project deploys through the install service).
settingsForFile({ DEPLOY_ENGINE: 'builtin' });

interface Case {
  code: 'htz' | 'do';
  label: string;
  standInUrl: string;
  choice: { server: string; region: string; os: string };
}

const cases: Case[] = [
  { code: 'htz', label: 'Hetzner Cloud', standInUrl: inject('hetznerStandInUrl'), choice: { server: 'cx23', region: 'fsn1', os: 'ubuntu-24.04' } },
  { code: 'do', label: 'DigitalOcean', standInUrl: inject('digitalOceanStandInUrl'), choice: { server: 's-1vcpu-1gb', region: 'fra1', os: 'ubuntu-24-04-x64' } },
];
const hetzner = cases[0]!;

interface EventView {
  seq: number;
  kind: string;
  status: string | null;
  message: string | null;
  subject: string | null;
}

interface Detail {
  status: string;
  message: string | null;
  server_address: string | null;
  install_command: string | null;
  addresses: Array<{ url: string }>;
  cloud_server: { provider: string; id: string | null; console_url: string | null; deleted_at: string | null } | null;
}

interface StandInRecord {
  id: number;
  name: string;
  status: string;
  userData: string;
  ipv4: string | null;
  deletedAt: string | null;
}

/** A stand-in account (its own token, servers and faults), a saved cloud key for it and a project. */
class Account {
  readonly token = `cloud-token-${crypto.randomUUID()}`;
  project!: ProjectRef;
  cloudId!: number;
  readonly c: Case;
  constructor(c: Case) {
    this.c = c;
  }

  static async open(c: Case, bootAfterMs: number | null = null): Promise<Account> {
    const account = new Account(c);
    await account.control('/accounts', { token: account.token });
    await account.control('/boot-after', { ms: bootAfterMs });
    account.project = await createProjectFor(uniqueId('cloud'), projectForms[1]!.body);
    const saved = await api('/cloud', jsonRequest('POST', { provider: c.code, cloud_token: account.token, save_token: true }, account.owner));
    expect(saved.status).toBe(201);
    account.cloudId = ((await saved.json()) as { item: { id: number } }).item.id;
    return account;
  }

  get owner() {
    return bearerFor('group_user', this.project.userId);
  }

  async control(path: string, body?: unknown): Promise<unknown> {
    const response = await fetch(`${this.c.standInUrl}/__stand-in${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    expect(response.ok).toBe(true);
    return response.json();
  }

  servers = async () => ((await this.control('/servers')) as { servers: StandInRecord[] }).servers;
  requests = async () => ((await this.control('/requests')) as { requests: Array<{ method: string; path: string; status: number; at: number }> }).requests;

  deployRequest(server: Record<string, unknown> = this.c.choice): Promise<Response> {
    return requestAndSettle(`/project/${this.project.id}/deploy/${this.cloudId}`, jsonRequest('POST', { server, stack: { vars: [] } }, this.owner));
  }

  async deploy(server?: Record<string, unknown>): Promise<CloudDeployment> {
    const response = await this.deployRequest(server);
    const body = (await response.json()) as { item: { deployment_id: number; deployment_hash: string; install_command?: string } };
    expect(response.status).toBe(202);
    expect(body.item.install_command).toBeUndefined();
    return new CloudDeployment(this, body.item.deployment_id, body.item.deployment_hash);
  }
}

class CloudDeployment {
  cursor = 0;
  agent?: AgentSimulator;
  readonly account: Account;
  readonly deploymentId: number;
  readonly hash: string;
  constructor(account: Account, deploymentId: number, hash: string) {
    this.account = account;
    this.deploymentId = deploymentId;
    this.hash = hash;
  }

  path(suffix = '') {
    return `/project/${this.account.project.id}/deployments/${this.deploymentId}${suffix}`;
  }

  async eventsUntil(until: (event: EventView) => boolean): Promise<EventView[]> {
    const seen: EventView[] = [];
    for (let reads = 0; reads < 20; reads++) {
      const response = await api(`${this.path('/events')}?after=${this.cursor}&wait=10`, { headers: this.account.owner });
      for (const event of ((await response.json()) as { list: EventView[] }).list) {
        seen.push(event);
        this.cursor = event.seq;
        if (until(event)) return seen;
      }
    }
    throw new Error(`the awaited event never came; saw ${JSON.stringify(seen.map((event) => `${event.kind}/${event.status}: ${event.message}`))}`);
  }

  /** The server the engine created, once its create event is in the log. */
  async created(): Promise<StandInRecord> {
    await this.eventsUntil((event) => event.subject === 'server' && /created at/.test(event.message ?? ''));
    const servers = await this.account.servers();
    expect(servers).toHaveLength(1);
    return servers[0]!;
  }

  async boot(id: number): Promise<void> {
    await this.account.control(`/servers/${id}/boot`, {});
  }

  /** Plays the server: the install command of its user data enrols it, and an agent takes the stack. */
  async enrollFrom(userData: string): Promise<void> {
    const [command] = runcmdOf(userData);
    const secret = /\/install\/([A-Za-z0-9_-]+)'/.exec(command ?? '')?.[1];
    expect(secret).toBeDefined();
    const response = await requestAndSettle(`/install/${secret}/enroll`, { method: 'POST' });
    expect(response.status).toBe(200);
    const file = Object.fromEntries((await response.text()).trim().split('\n').map((line) => line.split(/=(.*)/s).slice(0, 2) as [string, string]));
    this.agent = new AgentSimulator({ agentId: file.AGENT_ID!, token: file.AGENT_TOKEN!, deploymentHash: this.hash });
  }

  async nextCommand(): Promise<NonNullable<WaitAnswer['item']>> {
    for (let polls = 0; polls < 5; polls++) {
      const { status, body } = await this.agent!.wait(10);
      if (status === 200 && body.item && 'command_id' in body.item) return body.item as NonNullable<WaitAnswer['item']>;
    }
    throw new Error('no command came');
  }

  async applyAndReportHealthy(): Promise<void> {
    const apply = await this.nextCommand();
    expect(apply.type).toBe('deploy_app');
    await this.agent!.report(apply.command_id, { result: { status: 'ok' } });
    const health = await this.nextCommand();
    expect(health.type).toBe('health');
    const name = `${this.hash}-postgrest-1`;
    await this.agent!.report(health.command_id, { result: { type: 'all_health', status: 'ok', containers: [{ app_code: name, container_name: name, container_state: 'running', status: 'ok' }] } });
  }

  async detail(): Promise<Detail> {
    const response = await api(this.path(), { headers: this.account.owner });
    return ((await response.json()) as { item: Detail }).item;
  }

  async expireStep(): Promise<void> {
    await withDatabase((db) =>
      db
        .update(deploymentOperation)
        .set({ stepDeadlineAt: sql`now() - interval '1 second'` })
        .where(and(eq(deploymentOperation.deploymentId, this.deploymentId), eq(deploymentOperation.status, 'running'))),
    );
    await wakeEngine(env.DEPLOYMENT_DOORBELL, this.hash, this.deploymentId);
  }

  /** Create -> running -> enrolled -> completed, with the server's address. */
  async toCompleted(): Promise<StandInRecord> {
    const created = await this.created();
    // The server runs its install command itself: the page shows none.
    expect(await this.detail()).toMatchObject({ install_command: null, server_address: null, cloud_server: { provider: this.account.c.code, id: String(created.id), deleted_at: null } });
    await this.boot(created.id);
    const [running] = (await this.account.servers()).filter((entry) => entry.id === created.id);
    await this.eventsUntil((event) => event.message === `Server ${created.name} running at ${running!.ipv4}: waiting for its agent to enrol`);
    await this.enrollFrom(created.userData);
    await this.applyAndReportHealthy();
    const events = await this.eventsUntil(ended('completed'));
    expect(events.at(-1)!.message).toBe(`Revision 1 is running at http://${running!.ipv4}:3000`);
    return running!;
  }
}

const ended = (status: string) => (event: EventView) => event.kind === 'progress' && event.status === status;
const deleted = (event: EventView) => event.subject === 'server' && event.status === 'deleted';

describe.concurrent.each(cases)('the built-in engine creates a server at $label', (c) => {
  it('creates it with the install command as its user data, waits until it runs, deploys to it; a normal deployment makes at most 40 provider calls', async () => {
    const account = await Account.open(c);
    const sshKey = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHkeyOfTheUserWhoDeploysAbcdefghijklmnopqr you@laptop';
    const deployment = await account.deploy({ ...c.choice, ssh_public_key: `  ${sshKey}\n` });
    const first = (await deployment.eventsUntil((event) => event.subject === 'server')).at(-1);
    expect(first!.message).toBe(`Creating a ${c.choice.server} server in ${c.choice.region} at ${c.label}`);
    const running = await deployment.toCompleted();

    // The user data: a #cloud-config whose one command is the install command; no token in it.
    expect(running.userData.startsWith('#cloud-config\n')).toBe(true);
    expect(runcmdOf(running.userData)).toEqual([expect.stringMatching(/^curl -fsSL 'http:\/\/stacker\.test\/install\/[A-Za-z0-9_-]{32,}' \| sh$/)]);
    // The user's public key may log in; no password is set or kept.
    expect(parse(running.userData)).toMatchObject({ ssh_authorized_keys: [sshKey] });
    expect(running.userData).not.toContain(account.token);
    expect(running.userData).not.toContain(deployment.agent!.token);
    expect(await deployment.detail()).toMatchObject({ status: 'completed', server_address: running.ipv4, addresses: [{ url: `http://${running.ipv4}:3000` }] });
    expect((await deployment.detail()).cloud_server?.console_url).toBe(c.code === 'do' ? `https://cloud.digitalocean.com/droplets/${running.id}` : 'https://console.hetzner.cloud/projects');

    const calls = await account.requests();
    expect(calls.length).toBeLessThanOrEqual(40);
    expect(calls.filter((call) => call.method === 'POST')).toHaveLength(1);
  });

  it('remove takes the stack down, then deletes the server', async () => {
    const account = await Account.open(c);
    const deployment = await account.deploy();
    const running = await deployment.toCompleted();
    expect((await requestAndSettle(deployment.path(), { method: 'DELETE', headers: account.owner })).status).toBe(202);
    const remove = await deployment.nextCommand();
    expect(remove.type).toBe('remove_app');
    await deployment.agent!.report(remove.command_id, { result: { status: 'ok' } });
    const events = await deployment.eventsUntil(ended('removed'));
    expect(events.find(deleted)?.message).toBe(`Server at ${running.ipv4} (${c.label} ID ${running.id}) deleted at ${c.label}`);
    expect((await account.servers())[0]!.deletedAt).not.toBeNull();
    expect(await deployment.detail()).toMatchObject({ status: 'removed', cloud_server: { deleted_at: expect.any(String) } });
  });
});

describe.concurrent('cloud servers: refusals, lost answers, deadlines, cancel, rate limits', () => {
  it('refuses before anything is created: no saved key, missing choices, what the provider does not offer', async () => {
    const account = await Account.open(hetzner);
    const inline = await requestAndSettle(`/project/${account.project.id}/deploy`, jsonRequest('POST', { cloud: { provider: 'htz', cloud_token: account.token }, server: hetzner.choice, stack: { vars: [] } }, account.owner));
    expect(inline.status).toBe(422);
    expect(((await inline.json()) as { message: string }).message).toMatch(/^Save your Hetzner Cloud key first/);

    const missing = await account.deployRequest({ server: 'cx23' });
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as { errors: Array<{ path: string }> }).errors.map((error) => error.path)).toEqual(['body.server.region', 'body.server.os']);

    const privateKey = await account.deployRequest({ ...hetzner.choice, ssh_public_key: '-----BEGIN OPENSSH PRIVATE KEY-----' });
    expect(privateKey.status).toBe(400);
    expect(((await privateKey.json()) as { errors: Array<{ path: string; message: string }> }).errors).toEqual([
      { path: 'body.server.ssh_public_key', message: expect.stringMatching(/^must be one OpenSSH public key line/) },
    ]);

    const withdrawn = await account.deployRequest({ ...hetzner.choice, server: 'cx11' });
    expect(withdrawn.status).toBe(422);
    const refusal = (await withdrawn.json()) as { message: string; errors: Array<{ path: string }> };
    expect(refusal.message).toMatch(/^Hetzner Cloud offers no server type cx11; it offers cx23, /);
    expect(refusal.errors[0]!.path).toBe('body.server.server');

    const nowhere = await account.deployRequest({ ...hetzner.choice, region: 'xyz1' });
    expect(nowhere.status).toBe(422);
    expect(((await nowhere.json()) as { message: string }).message).toMatch(/^Hetzner Cloud has no location xyz1; it offers fsn1, /);
    expect(await account.servers()).toEqual([]);
  });

  it('a create the provider refuses fails the deployment in its words, and creates nothing', async () => {
    const account = await Account.open(hetzner);
    // Offered by name (rocky-9 is an x86 image), refused by Hetzner for the Arm type cax11.
    const deployment = await account.deploy({ server: 'cax11', region: 'fsn1', os: 'rocky-9' });
    const events = await deployment.eventsUntil(ended('failed'));
    expect(events.at(-1)!.message).toBe('Hetzner Cloud: image rocky-9 not found');
    expect(await account.servers()).toEqual([]);
  });

  it('a create whose answer is lost ends with one server, not two', async () => {
    const account = await Account.open(hetzner);
    await account.control('/lose-next-create', { how: 'drop' });
    const deployment = await account.deploy();
    await deployment.toCompleted();
    expect(await account.servers()).toHaveLength(1);
    expect((await account.requests()).filter((call) => call.method === 'POST')).toHaveLength(1);
  });

  it('a server that never runs fails the deployment at the deadline and is deleted', async () => {
    const account = await Account.open(cases[1]!);
    const deployment = await account.deploy();
    const created = await deployment.created();
    await deployment.expireStep();
    const events = await deployment.eventsUntil(deleted);
    expect(events.find(ended('failed'))?.message).toMatch(/^The server did not start within 10 min \(DigitalOcean says: new\)$/);
    expect(events.at(-1)).toMatchObject({ kind: 'server', status: 'deleted', message: `Server (DigitalOcean ID ${created.id}) deleted at DigitalOcean` });
    expect((await account.servers())[0]!.deletedAt).not.toBeNull();
    // The deletion after the end is the server's news, not the deployment's: its page still says failed, and why.
    const shown = await page(`/projects/${account.project.id}/deployments/${deployment.deploymentId}`, await signedIn(account.project.userId));
    expect(/data-deployment-status="true">([^<]+)</.exec(shown.html)?.[1]).toBe('failed');
    expect(shown.html).toContain('data-terminal="true"');
    expect(shown.html).toContain('<li data-step="server" data-state="failed">');
  });

  it('cancel while the server is being created deletes it', async () => {
    const account = await Account.open(hetzner);
    const deployment = await account.deploy();
    await deployment.created();
    // Its user data holds the install command: no other is made for it.
    const renewed = await requestAndSettle(deployment.path('/install-command'), { method: 'POST', headers: account.owner });
    expect(renewed.status).toBe(422);
    expect(((await renewed.json()) as { message: string }).message).toMatch(/runs its own install command/);
    expect((await requestAndSettle(deployment.path('/cancel'), { method: 'POST', headers: account.owner })).status).toBe(200);
    await deployment.eventsUntil(deleted);
    expect((await account.servers())[0]!.deletedAt).not.toBeNull();
    expect((await deployment.detail()).status).toBe('cancelled');
  });

  it('a 429 is waited out for its Retry-After, then the server is found running', async () => {
    const account = await Account.open(hetzner);
    const deployment = await account.deploy();
    const created = await deployment.created();
    await account.control('/rate-limit', { retry_after: 3, times: 1 });
    await deployment.boot(created.id);
    const events = await deployment.eventsUntil((event) => /running at/.test(event.message ?? ''));
    expect(events.map((event) => event.message)).toContain('Hetzner Cloud is rate limiting this cloud key: looking again in 3 s');
    const calls = await account.requests();
    const limited = calls.findIndex((call) => call.status === 429);
    expect(calls[limited + 1]!.at - calls[limited]!.at).toBeGreaterThanOrEqual(3000);
  });

  it('a deletion that fails is said once and tried again on the next wake', async () => {
    const account = await Account.open(hetzner);
    const deployment = await account.deploy();
    const created = await deployment.created();
    // The next call (the delete, well before the next 2-second look) is refused.
    await account.control('/rate-limit', { retry_after: 1, times: 1 });
    expect((await requestAndSettle(deployment.path('/cancel'), { method: 'POST', headers: account.owner })).status).toBe(200);
    const failed = await deployment.eventsUntil((event) => event.status === 'delete_failed');
    expect(failed.at(-1)!.message).toBe(
      `Deleting the server (Hetzner Cloud ID ${created.id}) failed: Hetzner Cloud is rate limiting this cloud key: limit of 3600 requests per hour reached; Stacker tries again`,
    );
    expect((await account.servers())[0]!.deletedAt).toBeNull();
    await wakeEngine(env.DEPLOYMENT_DOORBELL, deployment.hash, deployment.deploymentId);
    await deployment.eventsUntil(deleted);
    expect((await account.servers())[0]!.deletedAt).not.toBeNull();
    const [row] = await withDatabase((db) => db.select().from(serverTable).innerJoin(deploymentTable, eq(deploymentTable.serverId, serverTable.id)).where(eq(deploymentTable.id, deployment.deploymentId)));
    expect(row!.server).toMatchObject({ deleteError: null, providerServerId: String(created.id) });
  });

  it('DEPLOY_KEEP_FAILED_SERVERS=on keeps a failed deployment’s server, saying so', async () => {
    const account = await Account.open(hetzner);
    const deployment = await account.deploy();
    const created = await deployment.created();
    const config = configFromBindings(env);
    await withDatabase(async (db) => {
      await db.update(deploymentOperation).set({ status: 'failed', endedAt: sql`now()` }).where(eq(deploymentOperation.deploymentId, deployment.deploymentId));
      await db.update(deploymentTable).set({ status: 'failed' }).where(eq(deploymentTable.id, deployment.deploymentId));
      await advanceDeployment(
        {
          db,
          securityKey: config.SECURITY_KEY!,
          agentTimeoutSeconds: 900,
          healthTimeoutSeconds: 300,
          cloud: { serverTimeoutSeconds: 600, keepFailedServers: true, providerFor: (tx, cloudId) => savedCloudProvider(tx, config.SECURITY_KEY!, config, cloudId) },
        },
        deployment.deploymentId,
      );
    });
    const events = await deployment.eventsUntil((event) => event.status === 'kept');
    expect(events.at(-1)!.message).toMatch(new RegExp(`^The server \\(Hetzner Cloud ID ${created.id}\\) is kept for debugging \\(DEPLOY_KEEP_FAILED_SERVERS=on\\)`));
    // Later wakes (the object's, the cron's) leave it.
    await wakeEngine(env.DEPLOYMENT_DOORBELL, deployment.hash, deployment.deploymentId);
    expect((await account.servers())[0]!.deletedAt).toBeNull();
  });
});

describe.concurrent('the dashboard’s deploy to a cloud', () => {
  const formPost = (path: string, session: Record<string, string>, form: Record<string, string>) =>
    apiWith({}, path, { method: 'POST', headers: { ...session, origin: BASE_URL, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form).toString(), redirect: 'manual' });
  const optionsOf = (html: string, name: string) => {
    const select = new RegExp(`<select id="field-${name}" name="${name}"[^>]*>([\\s\\S]*?)</select>`).exec(html)?.[1] ?? '';
    return [...select.matchAll(/<option value="([^"]*)"[^>]*>([^<]*)<\/option>/g)].map((m) => [m[1], m[2]!.replace(/&amp;/g, '&')]);
  };

  it('lists the key’s server types with cores, memory, disk and price, its locations and images; deploys the choice; the page shows the provider and a console link', async () => {
    const account = await Account.open(hetzner);
    const session = await signedIn(account.project.userId);
    const form = await page(`/projects/${account.project.id}/deploy`, session);
    expect(form.status).toBe(200);
    expect(form.html).toContain('data-server-offers="htz"');
    expect(optionsOf(form.html, 'server')).toContainEqual(['cx23', 'cx23 · 2 vCPU · 4 GB RAM · 40 GB disk · 3.49 EUR/month']);
    expect(optionsOf(form.html, 'region')).toContainEqual(['fsn1', 'fsn1 · Falkenstein · DE']);
    expect(optionsOf(form.html, 'os').map(([value]) => value)).toContain('ubuntu-24.04');
    // Choosing the key again (htmx) gives the same fields; a key that is not the user's gives none.
    const again = await page(`/projects/${account.project.id}/deploy/offers?cloud_id=${account.cloudId}`, { ...session, 'hx-request': 'true' });
    expect(optionsOf(again.html, 'server')).toEqual(optionsOf(form.html, 'server'));
    const other = await Account.open(hetzner);
    const foreign = await page(`/projects/${account.project.id}/deploy/offers?cloud_id=${other.cloudId}`, { ...session, 'hx-request': 'true' });
    expect(foreign.html).not.toContain('data-server-offers');
    expect(foreign.html).toContain('name="server"');

    // A type the provider does not offer is refused at the field before anything is created.
    const key = /name="idempotency_key" value="([^"]+)"/.exec(form.html)![1]!;
    const fields = { idempotency_key: key, target: 'new', cloud_id: String(account.cloudId), ...hetzner.choice };
    const refused = await formPost(`/projects/${account.project.id}/deploy`, session, { ...fields, server: 'cx11' });
    expect(refused.status).toBe(400);
    const refusal = await refused.text();
    expectFieldError(refusal, 'server', (/<small id="field-server-help">(Hetzner Cloud offers no server type cx11; it offers cx23, [^<]+)<\/small>/.exec(refusal) ?? [])[1] ?? 'the provider’s refusal');
    expect(await account.servers()).toEqual([]);

    const sshKey = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFormKeyOfTheUserAbcdefghijklmnopqrstuvwxyz0 me@laptop';
    const posted = await formPost(`/projects/${account.project.id}/deploy`, session, { ...fields, ssh_public_key: sshKey });
    expect(posted.status, await posted.clone().text()).toBe(303);
    const url = posted.headers.get('location')!;
    const deployment = new CloudDeployment(account, Number(/\/deployments\/(\d+)$/.exec(url)![1]), '');
    const created = await deployment.created();
    expect(parse(created.userData)).toMatchObject({ ssh_authorized_keys: [sshKey] });
    const shown = await page(url, session);
    expect(shown.html).toContain('data-cloud-server="htz"');
    expect(shown.html).toContain(`ID <code>${created.id}</code>`);
    expect(shown.html).toContain('<a href="https://console.hetzner.cloud/projects" target="_blank" rel="noopener noreferrer">Open it in the Hetzner Cloud console</a>');
    // The server runs its install command itself: the page shows none.
    expect(shown.html).not.toContain('id="install-command"');
  });
});
