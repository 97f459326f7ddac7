// The dashboard's faces of the built-in engine inside workerd (DEPLOY_ENGINE=builtin): the deploy form's
// own server, the deployment page's install command (its owner's only), checklist, addresses, revisions,
// and its buttons (Redeploy, Roll back, Remove, New install command), with an agent driven as the real
// one answers (tests/helpers/agent-simulator.ts). Another user gets 404 everywhere and changes nothing.
import { and, eq, sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { agentEnrollment, deploymentEvent, deploymentOperation } from '../../db/schema.ts';
import { BUILTIN_PROVIDERS } from '../../functions/services/deploy-engine/operations.ts';
import { AgentSimulator, type WaitAnswer } from '../helpers/agent-simulator.ts';
import { api, apiWith, BASE_URL, settingsForFile } from '../helpers/api.ts';
import { bearerFor, jsonRequest, uniqueId } from '../helpers/auth.ts';
import { expectFieldError, page, signedIn } from '../helpers/dashboard.ts';
import { withDatabase } from '../helpers/db.ts';
import { createProjectFor, requestAndSettle, type ProjectRef } from '../helpers/deploy.ts';
import { projectForms } from '../helpers/fixtures.ts';

// Deploys go to the built-in engine (the rest of the workers project deploys through the install service).
settingsForFile({ DEPLOY_ENGINE: 'builtin' });

const SERVER_IP = '203.0.113.20';
type Headers = Record<string, string>;

/** A form posted from the page's origin through an app that waits for the work it leaves (the engine's wake-up). */
function post(path: string, session: Headers, form: Record<string, string> = {}): Promise<Response> {
  return apiWith({}, path, {
    method: 'POST',
    headers: { ...session, origin: BASE_URL, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
    redirect: 'manual',
  });
}

/** A fragment as htmx fetches it. */
const fragment = (path: string, session: Headers) => page(path, { ...session, 'hx-request': 'true' });

const unescape = (html: string) => html.replace(/&#39;/g, "'").replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
const installCommandOn = (html: string) => {
  const found = /<code id="install-command">([^<]+)<\/code>/.exec(html)?.[1];
  return found === undefined ? undefined : unescape(found);
};
const secretOf = (command: string) => /\/install\/([A-Za-z0-9_-]+)'/.exec(command)![1]!;
const steps = (html: string) => [...html.matchAll(/<li data-step="([^"]+)" data-state="([^"]+)"/g)].map((m) => `${m[1]} ${m[2]}`);
const revisions = (html: string) =>
  [...html.matchAll(/<tr data-revision="(\d+)">([\s\S]*?)<\/tr>/g)].map((m) => m[2]!.replace(/<form[\s\S]*?<\/form>/g, (f) => /<button[^>]*>([^<]*)</.exec(f)![1]!).replace(/<[^>]+>/g, '|').replace(/\|+/g, '|'));
const statusOn = (html: string) => /data-deployment-status="true">([^<]+)</.exec(html)?.[1];
const noticeOf = (response: Response) => decodeURIComponent(/stacker_notice=([^;]*)/.exec(response.headers.get('set-cookie') ?? '')?.[1] ?? '');

const healthy = (hash: string, services: string[]) => ({
  type: 'all_health',
  status: 'ok',
  containers: services.map((service) => ({ app_code: `${hash}-${service}-1`, container_name: `${hash}-${service}-1`, container_state: 'running', status: 'ok' })),
});

interface Deployed {
  project: ProjectRef;
  session: Headers;
  url: string;
  deploymentId: number;
  hash: string;
  html: string;
}

/** A project whose one service publishes port 3000, deployed from the form to the user's own server. */
async function deployOwnServer(prefix: string): Promise<Deployed> {
  const project = await createProjectFor(uniqueId(prefix), projectForms[1]!.body);
  const session = await signedIn(project.userId);
  const form = await page(`/projects/${project.id}/deploy`, session);
  const key = /name="idempotency_key" value="([^"]+)"/.exec(form.html)![1]!;
  const posted = await post(`/projects/${project.id}/deploy`, session, { idempotency_key: key, target: 'own', srv_ip: SERVER_IP, ssh_user: 'root', ssh_port: '22' });
  expect(posted.status, await posted.clone().text()).toBe(303);
  const url = posted.headers.get('location')!;
  const deploymentId = Number(/\/deployments\/(\d+)$/.exec(url)![1]);
  const shown = await page(url, session);
  const detail = await api(`/project/${project.id}/deployments/${deploymentId}`, { headers: bearerFor('group_user', project.userId) });
  const hash = ((await detail.json()) as { item: { deployment_hash: string } }).item.deployment_hash;
  return { project, session, url, deploymentId, hash, html: shown.html };
}

class Agent {
  readonly simulator: AgentSimulator;
  constructor(simulator: AgentSimulator) {
    this.simulator = simulator;
  }

  /** Runs the install command's exchange, as the script does, and starts the agent with the env file it answers. */
  static async enrol(command: string, hash: string): Promise<Agent> {
    const response = await requestAndSettle(`/install/${secretOf(command)}/enroll`, { method: 'POST' });
    expect(response.status).toBe(200);
    const file = Object.fromEntries((await response.text()).trim().split('\n').map((line) => line.split(/=(.*)/s).slice(0, 2) as [string, string]));
    expect(file.DEPLOYMENT_HASH).toBe(hash);
    return new Agent(new AgentSimulator({ agentId: file.AGENT_ID!, token: file.AGENT_TOKEN!, deploymentHash: hash }));
  }

  async next(type: string): Promise<NonNullable<WaitAnswer['item']>> {
    for (let polls = 0; polls < 5; polls++) {
      const { status, body } = await this.simulator.wait(10);
      if (status === 200 && body.item && 'command_id' in body.item) {
        expect(body.item.type).toBe(type);
        return body.item as NonNullable<WaitAnswer['item']>;
      }
    }
    throw new Error(`no ${type} command came`);
  }

  /** Applies what it is sent and reports the service running. */
  async applyAndReportHealthy(): Promise<void> {
    const apply = await this.next('deploy_app');
    expect((await this.simulator.report(apply.command_id, { result: { status: 'ok' } })).status).toBe(200);
    const health = await this.next('health');
    expect((await this.simulator.report(health.command_id, { result: healthy(this.simulator.deploymentHash, ['postgrest']) })).status).toBe(200);
  }
}

/** The deployment's page once its status is `status` (the engine's object runs the steps after each report). */
async function pageWhen(deployed: Deployed, status: string): Promise<string> {
  for (let attempt = 0; attempt < 40; attempt++) {
    const shown = await page(deployed.url, deployed.session);
    if (statusOn(shown.html) === status) return shown.html;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`the deployment never became ${status}`);
}

async function eventsOf(deployed: Deployed): Promise<string> {
  const response = await api(`/project/${deployed.project.id}/deployments/${deployed.deploymentId}/events?after=0`, { headers: bearerFor('group_user', deployed.project.userId) });
  return JSON.stringify(await response.json());
}

const operationsOf = (deploymentId: number) =>
  withDatabase((db) => db.select({ kind: deploymentOperation.kind, status: deploymentOperation.status }).from(deploymentOperation).where(eq(deploymentOperation.deploymentId, deploymentId)));

describe('the deploy form with the built-in engine', () => {
  it('offers an own server first, needing no cloud key, and starts its deployment once', async () => {
    const project = await createProjectFor(uniqueId('dof'), projectForms[1]!.body);
    const session = await signedIn(project.userId);
    const form = await page(`/projects/${project.id}/deploy`, session);
    expect(form.status).toBe(200);
    expect(form.html).toContain(`<form method="post" action="/projects/${project.id}/deploy">`);
    expect(form.html).toContain('<input type="radio" name="target" value="own" checked=""/>');
    expect(form.html).toContain('No cloud key yet: <a href="/keys">add one on the Cloud keys page</a>.');
    for (const name of ['srv_ip', 'ssh_port', 'ssh_user']) expect(form.html).toContain(`name="${name}"`);

    const key = /name="idempotency_key" value="([^"]+)"/.exec(form.html)![1]!;
    const fields = { idempotency_key: key, target: 'own', srv_ip: SERVER_IP, ssh_user: '', ssh_port: '' };
    const [first, again] = [await post(`/projects/${project.id}/deploy`, session, fields), await post(`/projects/${project.id}/deploy`, session, fields)];
    expect(first.status).toBe(303);
    expect(again.headers.get('location')).toBe(first.headers.get('location'));
    expect(noticeOf(again)).toMatch(/was already started by this form/);
    const list = await api(`/project/${project.id}/deployments`, { headers: bearerFor('group_user', project.userId) });
    expect(((await list.json()) as { list: unknown[] }).list).toHaveLength(1);
  });

  it('says what an own server needs, and shows the engine’s refusal of a cloud it cannot create servers on', async () => {
    const project = await createProjectFor(uniqueId('dor'), projectForms[1]!.body);
    const session = await signedIn(project.userId);
    const key = () => crypto.randomUUID();
    const missing = await post(`/projects/${project.id}/deploy`, session, { idempotency_key: key(), target: 'own', srv_ip: '' });
    expect(missing.status).toBe(400);
    expectFieldError(await missing.text(), 'srv_ip', 'your server needs its address');
    const notAnAddress = await post(`/projects/${project.id}/deploy`, session, { idempotency_key: key(), target: 'own', srv_ip: 'my-server' });
    expectFieldError(await notAnAddress.text(), 'srv_ip', 'must be an IPv4 or IPv6 address');
    const existing = await post(`/projects/${project.id}/deploy`, session, { idempotency_key: key(), target: 'existing', srv_ip: SERVER_IP });
    expect(await existing.text()).toContain('choose your own server or a new one in a cloud');

    // Linode: a provider the dashboard knows, which the engine cannot create servers on.
    const saved = await api('/cloud', jsonRequest('POST', { provider: 'lo', cloud_token: `lin_${crypto.randomUUID()}`, save_token: true }, bearerFor('group_user', project.userId)));
    const cloudId = ((await saved.json()) as { item: { id: number } }).item.id;
    const cloud = await post(`/projects/${project.id}/deploy`, session, { idempotency_key: key(), target: 'new', cloud_id: String(cloudId), server: 'g6-nanode-1', region: 'eu-central', os: 'ubuntu-24.04' });
    expect(cloud.status).toBe(400);
    const html = await cloud.text();
    expect(html).toContain('<strong>The built-in deploy engine cannot create servers on &quot;lo&quot; yet; it deploys to: own');
    expectFieldError(html, 'cloud_id', `must be one of: ${BUILTIN_PROVIDERS.join(', ')}`);
    const list = await api(`/project/${project.id}/deployments`, { headers: bearerFor('group_user', project.userId) });
    expect(((await list.json()) as { list: unknown[] }).list).toEqual([]);
  });
});

describe('a built-in deployment’s page', () => {
  it('shows its owner the install command until the agent enrols, then the checklist to healthy and the addresses; redeploys, rolls back and removes', async () => {
    const deployed = await deployOwnServer('dpe');
    const command = installCommandOn(deployed.html)!;
    expect(command).toMatch(/^curl -fsSL 'http:\/\/stacker\.test\/install\/[A-Za-z0-9_-]{32,}' \| sh$/);
    expect(deployed.html).toContain('<button type="button" data-copy="install-command">Copy</button>');
    expect(deployed.html).toMatch(/Works once, until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\./);
    expect(deployed.html).toContain(`action="${deployed.url}/install-command"`);
    expect(steps(deployed.html)).toEqual(['server running', 'agent pending', 'stack pending', 'healthy pending']);
    // The API's detail carries the same command; the events never do.
    const detail = await api(`/project/${deployed.project.id}/deployments/${deployed.deploymentId}`, { headers: bearerFor('group_user', deployed.project.userId) });
    expect(((await detail.json()) as { item: { install_command: string } }).item.install_command).toBe(command);

    const agent = await Agent.enrol(command, deployed.hash);
    await agent.applyAndReportHealthy();
    const done = await pageWhen(deployed, 'completed');
    expect(installCommandOn(done)).toBeUndefined();
    expect(steps(done)).toEqual(['server done', 'agent done', 'stack done', 'healthy done']);
    expect(done).toContain(`<a href="http://${SERVER_IP}:3000" rel="noopener noreferrer">http://${SERVER_IP}:3000</a>`);
    expect(revisions(done)).toEqual([expect.stringMatching(/^\|1\|running\|\d{4}-.+ UTC\|current\|$/)]);
    expect(done).toContain(`action="${deployed.url}/redeploy"`);
    expect(done).toContain(`action="${deployed.url}/remove"`);
    // The live part, as htmx fetches it again: the same state.
    const part = await fragment(`${deployed.url}/state`, deployed.session);
    expect(steps(part.html)).toEqual(steps(done));
    expect(part.html).not.toContain('<html');

    // Redeploy: a new revision, the checklist from the stack on; a second one meanwhile is refused on the page.
    const redeploy = await post(`${deployed.url}/redeploy`, deployed.session);
    expect(redeploy.status).toBe(303);
    expect(redeploy.headers.get('location')).toBe(deployed.url);
    expect(noticeOf(redeploy)).toBe('Redeploying: revision 2 is being applied.');
    const midway = (await page(deployed.url, deployed.session)).html;
    expect(steps(midway)).toEqual(['server done', 'agent done', 'stack running', 'healthy pending']);
    expect(midway).not.toContain(`action="${deployed.url}/redeploy"`);
    expect(midway).toContain(`action="${deployed.url}/cancel"`);
    const twice = await post(`${deployed.url}/redeploy`, deployed.session);
    expect(noticeOf(twice)).toMatch(/^Not redeployed: A redeploy is running on this deployment/);
    await agent.applyAndReportHealthy();
    const redeployed = await pageWhen(deployed, 'completed');
    expect(revisions(redeployed)).toEqual([expect.stringMatching(/^\|2\|running\|.+ UTC\|current\|$/), expect.stringMatching(/^\|1\|superseded\|.+ UTC\|Roll back to 1\|$/)]);

    // Roll back to revision 1.
    const rollback = await post(`${deployed.url}/rollback`, deployed.session, { revision: '1' });
    expect(noticeOf(rollback)).toBe('Rolling back: revision 1 is being applied again.');
    await agent.applyAndReportHealthy();
    const rolledBack = await pageWhen(deployed, 'completed');
    expect(revisions(rolledBack)).toEqual([expect.stringMatching(/^\|2\|superseded\|.+ UTC\|Roll back to 2\|$/), expect.stringMatching(/^\|1\|running\|.+ UTC\|current\|$/)]);
    const nowhere = await post(`${deployed.url}/rollback`, deployed.session, { revision: '9' });
    expect(noticeOf(nowhere)).toBe('Not rolled back: This deployment has no revision 9.');

    // Remove: the stack goes, and with it the addresses and the buttons.
    const remove = await post(`${deployed.url}/remove`, deployed.session);
    expect(noticeOf(remove)).toBe('Removing the stack from the server.');
    const removal = await agent.next('remove_app');
    await agent.simulator.report(removal.command_id, { result: { status: 'ok' } });
    const removed = await pageWhen(deployed, 'removed');
    expect(removed).not.toContain('data-deployment-addresses');
    expect(removed).not.toContain(`action="${deployed.url}/redeploy"`);
    expect(removed).not.toContain(`action="${deployed.url}/remove"`);
    expect(removed).not.toContain('Roll back to');
    expect(steps(removed)).toEqual(['server done', 'agent done', 'stack done', 'healthy pending']);
    const after = await post(`${deployed.url}/redeploy`, deployed.session);
    expect(noticeOf(after)).toBe('Not redeployed: This deployment was removed: start a new one.');

    // The one-time secret was in the owner's pages only: never in an event or a notice.
    const secret = secretOf(command);
    expect(await eventsOf(deployed)).not.toContain(secret);
    for (const answer of [redeploy, rollback, remove]) expect(answer.headers.get('set-cookie') ?? '').not.toContain(secret);
  });

  it('shows the status of its event log everywhere, also when the log is ahead of the deployment row it read first: "removed" with no addresses', async () => {
    const deployed = await deployOwnServer('dpa');
    const agent = await Agent.enrol(installCommandOn(deployed.html)!, deployed.hash);
    await agent.applyAndReportHealthy();
    expect(await pageWhen(deployed, 'completed')).toContain('data-deployment-addresses');
    // The removal's last event is in the log; the row's status is not updated yet (as between the
    // page's two reads while the removal commits).
    await withDatabase(async (db) => {
      const [last] = await db.select({ seq: sql<number>`max(seq)` }).from(deploymentEvent).where(eq(deploymentEvent.deploymentId, deployed.deploymentId));
      await db.insert(deploymentEvent).values({ deploymentId: deployed.deploymentId, seq: Number(last!.seq) + 1, kind: 'progress', status: 'removed', progress: 100, subject: 'stack', message: 'The stack was removed' });
    });
    for (const shown of [(await page(deployed.url, deployed.session)).html, (await fragment(`${deployed.url}/state`, deployed.session)).html]) {
      expect(statusOn(shown)).toBe('removed');
      expect(shown).not.toContain('data-deployment-addresses');
      expect(shown).not.toContain(`action="${deployed.url}/redeploy"`);
    }
  });

  it('makes a new install command for its owner (the earlier one stops working), and offers one when none is usable', async () => {
    const deployed = await deployOwnServer('dpn');
    const first = installCommandOn(deployed.html)!;
    // The agent console sends the user back here: the agent enrols with this page's command.
    expect((await page(`${deployed.url}/agent`, deployed.session)).html).toContain(`No agent has enrolled for this deployment yet: it does when the install command on <a href="${deployed.url}">`);
    const renewed = await post(`${deployed.url}/install-command`, deployed.session);
    expect(renewed.status).toBe(303);
    expect(noticeOf(renewed)).toBe('A new install command is below; the earlier one no longer works.');
    const second = installCommandOn((await page(deployed.url, deployed.session)).html)!;
    expect(second).not.toBe(first);
    expect(renewed.headers.get('set-cookie')).not.toContain(secretOf(second));
    const replaced = await requestAndSettle(`/install/${secretOf(first)}/enroll`, { method: 'POST' });
    expect(replaced.status).toBe(410);

    await withDatabase((db) => db.update(agentEnrollment).set({ expiresAt: sql`now() - interval '1 minute'` }).where(eq(agentEnrollment.deploymentId, deployed.deploymentId)));
    const expired = (await page(deployed.url, deployed.session)).html;
    expect(installCommandOn(expired)).toBeUndefined();
    expect(expired).toContain('The install command was used, replaced or has expired.');
    expect(expired).toContain(`action="${deployed.url}/install-command"`);
    expect(await eventsOf(deployed)).not.toContain(secretOf(second));
  });

  it('is 404 to another user on every route, who changes nothing; an admin sees it without the command and cannot make one', async () => {
    const deployed = await deployOwnServer('dpa');
    const stranger = await signedIn(uniqueId('dpa-other'));
    for (const path of ['', '/state', '/events?poll=1&after=999999']) expect((await page(`${deployed.url}${path}`, stranger)).status, path).toBe(404);
    for (const [path, form] of [
      ['/redeploy', {}],
      ['/rollback', { revision: '1' }],
      ['/remove', {}],
      ['/install-command', {}],
      ['/cancel', {}],
    ] as const) {
      expect((await post(`${deployed.url}${path}`, stranger, form)).status, path).toBe(404);
    }
    expect(await operationsOf(deployed.deploymentId)).toEqual([{ kind: 'deploy', status: 'running' }]);
    const owner = installCommandOn((await page(deployed.url, deployed.session)).html)!;
    expect(await withDatabase((db) => db.select().from(agentEnrollment).where(and(eq(agentEnrollment.deploymentId, deployed.deploymentId))))).toHaveLength(1);

    const admin = await signedIn(uniqueId('dpa-admin'), 'group_admin');
    const seen = await page(deployed.url, admin);
    expect(seen.status).toBe(200);
    expect(installCommandOn(seen.html)).toBeUndefined();
    expect(seen.html).toContain('Only the owner sees the command.');
    expect(seen.html).not.toContain(secretOf(owner));
    const made = await post(`${deployed.url}/install-command`, admin);
    expect(made.status).toBe(403);
    expect(installCommandOn((await page(deployed.url, deployed.session)).html)).toBe(owner);
  });
});
