// The dashboard's agent console inside workerd: who may see it, what it says about the agent and its
// apps, commands sent through its form (checked as the API checks them, one per idempotency key),
// cancel, the fragments the page refreshes on each event, and token rotation (never showing a token).
import { env } from 'cloudflare:test';
import { inject } from 'vitest';
import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { agentConsoleUrl } from '../../functions/dashboard/components/urls.ts';
import { sha256Hex } from '../../functions/services/crypto.ts';
import { listCommands } from '../../functions/services/commands.ts';
import { durableDoorbell } from '../../functions/services/doorbell.ts';
import { AgentSimulator } from '../helpers/agent-simulator.ts';
import { api, createAgent, createDeployment, uniqueId, type TestAgent } from '../helpers/auth.ts';
import { withDatabase } from '../helpers/db.ts';
import { page, postForm, signedIn } from '../helpers/dashboard.ts';

const vaultStubUrl = inject('vaultStubUrl');




/** The page a redirect leads to, with the one-time notice it set. */
async function follow(response: Response, headers: Record<string, string>): Promise<{ location: string; html: string }> {
  expect(response.status).toBe(303);
  const location = response.headers.get('location')!;
  const notice = response.headers.getSetCookie().find((line) => line.startsWith('stacker_notice='))?.split(';')[0];
  const next = await page(location, { ...headers, cookie: [headers.cookie, notice].filter(Boolean).join('; ') });
  expect(next.status).toBe(200);
  return { location, html: next.html };
}

/** The control is marked invalid and its message is the helper tied to it. */
function expectFieldError(html: string, name: string, message: string | RegExp) {
  const id = `field-${name}`;
  const control = new RegExp(`<(input|select|textarea) id="${id}"[^>]*>`).exec(html);
  expect(control, `no control ${id}`).not.toBeNull();
  expect(control![0]).toContain('aria-invalid="true"');
  expect(control![0]).toContain(`aria-describedby="${id}-help"`);
  const help = new RegExp(`<small id="${id}-help">([^<]*)</small>`).exec(html.slice(control!.index));
  const text = unescapeHtml(help?.[1] ?? '');
  if (typeof message === 'string') expect(text).toBe(message);
  else expect(text).toMatch(message);
}

const escapeHtml = (text: string) => text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');
const unescapeHtml = (text: string) => text.replaceAll('&quot;', '"').replaceAll('&#39;', "'").replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&amp;', '&');

const commandForm = (overrides: Record<string, string> = {}) => ({
  command_type: 'health',
  other_type: '',
  parameters: '{"app_code": "web"}',
  priority: 'normal',
  timeout_seconds: '300',
  idempotency_key: crypto.randomUUID(),
  ...overrides,
});

const commandsOf = (agent: { deploymentHash: string; ownerId: string }) => withDatabase((db) => listCommands(db, agent.deploymentHash, { ownerId: agent.ownerId }));

const simulatorOf = (agent: TestAgent) => new AgentSimulator({ agentId: agent.agentId, token: agent.token, deploymentHash: agent.deploymentHash });

const consoleOf = (d: { projectId: number; deploymentId: number }) => agentConsoleUrl(d.projectId, d.deploymentId);

describe('the agent console', () => {
  it('is the owner’s and admins’: another user, a wrong project or a visitor without a session do not see it', async () => {
    const deployment = await createDeployment(uniqueId('agc'));
    const url = consoleOf(deployment);
    expect(url).toBe(`/projects/${deployment.projectId}/deployments/${deployment.deploymentId}/agent`);

    const owner = await page(url, await signedIn(deployment.ownerId));
    expect(owner.status).toBe(200);
    expect(owner.html).toContain('<h1>Agent console</h1>');
    expect(owner.html).toContain(deployment.deploymentHash);
    expect(owner.html).toContain('not registered');
    expect(owner.html).toContain('No agent has registered for this deployment yet.');
    expect(owner.html).not.toContain('Rotate agent token');
    expect(owner.html).toContain('No command has been sent to this deployment yet.');
    // It follows the deployment's events, and refreshes its parts on each.
    expect(owner.html).toContain(`data-events-url="/projects/${deployment.projectId}/deployments/${deployment.deploymentId}/events"`);
    expect(owner.html).toMatch(/data-after="\d+"/);
    expect(owner.html).toContain(`hx-get="${url}/commands" hx-trigger="deployment-event from:body"`);
    expect(owner.html).toContain(`hx-get="${url}/panel" hx-trigger="deployment-event from:body, every 30s"`);
    expect(owner.html).toContain('<script src="/assets/agent.js" defer="">');
    // The types the real agent knows come first, the typed ones with a note, then another type.
    const options = [...owner.html.matchAll(/<option value="([^"]+)"/g)].map((m) => m[1]);
    expect(options.slice(0, 9)).toEqual(['health', 'logs', 'restart', 'stop', 'start', 'error_summary', 'exec', 'deploy_app', 'remove_app']);
    expect(options).toContain('list_containers');
    expect(options.slice(options.indexOf('list_containers'))).toEqual(['list_containers', 'configure_firewall', 'probe_endpoints', 'activate_pipe', 'deactivate_pipe', 'trigger_pipe', 'other', 'low', 'normal', 'high', 'critical']);
    expect(owner.html).toMatch(/<input type="hidden" name="idempotency_key" value="[0-9a-f-]{36}"/);

    expect((await page(url, await signedIn(uniqueId('agcadm'), 'group_admin'))).status).toBe(200);
    const stranger = await signedIn(uniqueId('agcx'));
    for (const path of [url, `${url}/commands`, `${url}/panel`]) {
      const seen = await page(path, stranger);
      expect(seen.status, path).toBe(404);
      expect(seen.html).not.toContain(deployment.deploymentHash);
    }
    const other = await createDeployment(uniqueId('agco'));
    const mixed = await page(agentConsoleUrl(other.projectId, deployment.deploymentId), await signedIn(other.ownerId));
    expect(mixed.status).toBe(404);
    expect((await page(`/projects/${deployment.projectId}/deployments/not-a-number/agent`, await signedIn(deployment.ownerId))).status).toBe(404);
    for (const path of [url, `${url}/commands`, `${url}/panel`]) {
      const anonymous = await api(path, { redirect: 'manual' });
      expect(anonymous.status, path).toBe(303);
      expect(anonymous.headers.get('location')).toBe('/login');
    }
    // The page's own refresh after the session ended (signed out in another tab): the part says so,
    // rather than htmx following the sign-in redirect; it shows nothing of the deployment.
    for (const path of [`${url}/commands`, `${url}/panel`]) {
      const ended = await api(path, { headers: { 'hx-request': 'true', cookie: '__Host-stacker_session=gone' }, redirect: 'manual' });
      expect(ended.status, path).toBe(200);
      const html = await ended.text();
      expect(html).toBe('<p class="form-error" role="status">Your session has ended: <a href="/login">sign in again</a> to follow this agent.</p>');
    }
    expect((await page(`${url}/commands`, { ...stranger, 'hx-request': 'true' })).status).toBe(404);
  });

  it('shows the agent’s version, capabilities, last heartbeat and the apps’ status it reported', async () => {
    const agent = await createAgent();
    await withDatabase((db) => db.execute(sql`update agents set capabilities = '["docker","logs","compose"]'::jsonb where id = ${agent.agentId}`));
    const headers = await signedIn(agent.ownerId);
    const before = await page(consoleOf(agent), headers);
    expect(before.status).toBe(200);
    expect(before.html).toContain('0.2.1');
    expect(before.html).toContain('<code class="chip">docker</code><code class="chip">logs</code><code class="chip">compose</code>');
    expect(before.html).toContain('never seen');
    expect(before.html).toContain('No app has reported its status yet.');
    expect(before.html).toContain('Rotate agent token');

    // The agent polls (a heartbeat) and reports two apps.
    const simulator = simulatorOf(agent);
    expect((await simulator.wait(1)).status).toBe(200);
    expect((await simulator.appStatus('web', 'running')).status).toBe(200);
    expect((await simulator.appStatus('db', 'error')).status).toBe(200);

    const panel = await page(`${consoleOf(agent)}/panel`, headers);
    expect(panel.status).toBe(200);
    expect(panel.html).not.toContain('<html');
    expect(panel.html).toContain('<span class="badge badge-ok" data-liveness="">online</span>');
    expect(panel.html).toMatch(/<time datetime="[^"]+Z" title="[^"]+" data-age-seconds="\d+" data-offline-after="100">seen \d+ s ago<\/time>/);
    const apps = [...panel.html.matchAll(/<td><code>([^<]+)<\/code><\/td><td><span class="badge badge-(\w+)">(\w+)<\/span>/g)].map((m) => [m[1], m[2], m[3]]);
    expect(apps).toEqual([
      ['db', 'bad', 'error'],
      ['web', 'ok', 'running'],
    ]);
  });

  it('sends a command from the form: listed on the page and by the service; the same form twice is one command', async () => {
    const agent = await createAgent();
    const headers = await signedIn(agent.ownerId);
    const url = consoleOf(agent);
    const form = commandForm({ parameters: '{"app_code": "web", "include_metrics": true}', priority: 'high', timeout_seconds: '120' });
    // The agent's long-poll and the live feed wake up: the page rings both topics, as the API does.
    const doorbell = durableDoorbell(env.DEPLOYMENT_DOORBELL);
    const commandsBell = await doorbell.listen(agent.deploymentHash, 'commands', 10_000);
    const statusBell = await doorbell.listen(agent.deploymentHash, 'status', 10_000);
    const first = await postForm(`${url}/commands`, headers, form);
    expect(await commandsBell.rung).toBe(true);
    expect(await statusBell.rung).toBe(true);
    commandsBell.close();
    statusBell.close();
    const shown = await follow(first, headers);
    expect(shown.location).toBe(url);
    const [command] = await commandsOf(agent);
    expect(command).toMatchObject({ type: 'health', status: 'queued', priority: 'high', timeoutSeconds: 120, createdBy: agent.ownerId, parameters: { app_code: 'web', include_metrics: true } });
    expect(shown.html).toContain(`Command health queued (${command!.commandId}).`);
    expect(shown.html).toContain(`data-command-id="${command!.commandId}"`);
    expect(shown.html).toContain('<h2>Commands (1)</h2>');
    expect(shown.html).toContain('waiting for the agent');

    // A double submit (the same key) is the same command.
    const again = await follow(await postForm(`${url}/commands`, headers, form), headers);
    expect(again.html).toContain(`This form was sent already: command ${command!.commandId} was queued then.`);
    expect(await commandsOf(agent)).toHaveLength(1);
    // A new form (a new key) is a new command; another type is typed into its own field.
    await follow(await postForm(`${url}/commands`, headers, commandForm({ command_type: 'other', other_type: 'list_things', parameters: '' })), headers);
    const both = await commandsOf(agent);
    expect(both.map((c) => c.type)).toEqual(['list_things', 'health']);
    expect(both[0]!.parameters).toEqual({});

    // The fragment the page refreshes shows both, newest first, without the page around them.
    const fragment = await page(`${url}/commands`, headers);
    expect(fragment.status).toBe(200);
    expect(fragment.html).not.toContain('<html');
    expect([...fragment.html.matchAll(/data-command-id="([^"]+)"/g)].map((m) => m[1])).toEqual(both.map((c) => c.commandId));
  });

  it('refuses bad input with a 400 and the message next to its field, keeping what was typed; nothing is queued', async () => {
    const agent = await createAgent();
    const headers = await signedIn(agent.ownerId);
    const url = `${consoleOf(agent)}/commands`;
    const cases: Array<[Record<string, string>, string, string | RegExp]> = [
      [{ parameters: '{}' }, 'parameters', 'app_code: is required'],
      [{ command_type: 'logs', parameters: '{"app_code": "web", "limit": 5000}' }, 'parameters', 'limit: must be 1 to 1000'],
      [{ command_type: 'stop', parameters: '{"params": {"app_code": "web", "timeout": 0}}' }, 'parameters', 'timeout: must be 1 to 300'],
      [{ parameters: '{"app_code": ' }, 'parameters', /^is not JSON: /],
      [{ parameters: '["web"]' }, 'parameters', 'must be a JSON object, e.g. {"app_code": "web"}'],
      [{ parameters: '{"app_code": "web", "note": "a\\u0000b"}' }, 'parameters', 'must not contain NUL characters (\\u0000)'],
      [{ command_type: 'other', other_type: 'rm -rf /' }, 'other_type', 'must be a command name: letters, digits and _ . : -'],
      [{ command_type: 'other', other_type: '' }, 'other_type', 'type a command type'],
      [{ timeout_seconds: '0' }, 'timeout_seconds', 'must be 1 to 86400'],
      [{ timeout_seconds: 'soon' }, 'timeout_seconds', 'must be a whole number of seconds, 1 to 86400'],
      [{ priority: 'urgent' }, 'priority', 'must be one of low, normal, high, critical'],
    ];
    for (const [overrides, field, message] of cases) {
      const response = await postForm(url, headers, commandForm(overrides));
      expect(response.status, JSON.stringify(overrides)).toBe(400);
      const html = await response.text();
      expectFieldError(html, field, message);
      expect(html).toContain('role="alert"');
    }
    const typed = await postForm(url, headers, commandForm({ parameters: '{}' }));
    expect(await typed.text()).toContain('<strong>Invalid parameters for health</strong>');

    // What was typed comes back, escaped, with the same key (nothing was created with it).
    const key = crypto.randomUUID();
    const hostile = await postForm(url, headers, commandForm({ parameters: '{"app_code": "</textarea><script>alert(1)</script>', idempotency_key: key }));
    expect(hostile.status).toBe(400);
    const html = await hostile.text();
    expect(html).not.toContain('<script>alert(1)</script>');
    expect(html).toContain('&lt;/textarea&gt;&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain(`name="idempotency_key" value="${key}"`);
    // A broken key is the form's fault, not a 500.
    expect((await postForm(url, headers, commandForm({ idempotency_key: 'not-a-uuid' }))).status).toBe(400);
    expect(await commandsOf(agent)).toEqual([]);
  });

  it('cancels a queued command after a confirm; an ended one stays; another user and another site cannot', async () => {
    const agent = await createAgent();
    const headers = await signedIn(agent.ownerId);
    const url = consoleOf(agent);
    await follow(await postForm(`${url}/commands`, headers, commandForm()), headers);
    const [command] = await commandsOf(agent);
    const before = await page(url, headers);
    expect(before.html).toContain(`action="${url}/commands/${command!.commandId}/cancel" class="inline" data-confirm="Cancel the health command ${command!.commandId}?"`);

    const cancelPath = `${url}/commands/${command!.commandId}/cancel`;
    const foreign = await postForm(cancelPath, headers, {}, 'https://evil.example');
    expect(foreign.status).toBe(403);
    expect((await postForm(cancelPath, await signedIn(uniqueId('agcx')), {})).status).toBe(404);
    expect((await commandsOf(agent))[0]!.status).toBe('queued');
    // Creating from another site is refused too.
    expect((await postForm(`${url}/commands`, headers, commandForm(), 'https://evil.example')).status).toBe(403);
    expect((await postForm(`${url}/rotate`, headers, {}, 'https://evil.example')).status).toBe(403);
    expect(await commandsOf(agent)).toHaveLength(1);

    const statusBell = await durableDoorbell(env.DEPLOYMENT_DOORBELL).listen(agent.deploymentHash, 'status', 10_000);
    const cancelled = await follow(await postForm(cancelPath, headers, {}), headers);
    expect(await statusBell.rung).toBe(true);
    statusBell.close();
    expect(cancelled.html).toContain(`Command health (${command!.commandId}) cancelled.`);
    expect((await commandsOf(agent))[0]!.status).toBe('cancelled');
    expect(cancelled.html).toContain('<span class="badge badge-muted">cancelled</span>');
    expect(cancelled.html).not.toContain(`${command!.commandId}/cancel`);
    const twice = await postForm(cancelPath, headers, {});
    expect(twice.status).toBe(409);
    expect(await twice.text()).toContain('Cannot cancel command with status &#39;cancelled&#39;');
    expect((await postForm(`${url}/commands/no%20such/cancel`, headers, {})).status).toBe(404);
    expect((await postForm(`${url}/commands/cmd_none/cancel`, headers, {})).status).toBe(404);
  });

  it('the command fragment shows the result the agent reported, as escaped pretty JSON, and an error', async () => {
    const agent = await createAgent();
    const headers = await signedIn(agent.ownerId);
    const url = consoleOf(agent);
    await follow(await postForm(`${url}/commands`, headers, commandForm()), headers);
    await follow(await postForm(`${url}/commands`, headers, commandForm({ command_type: 'restart', parameters: '{"app_code": "db"}' })), headers);
    const simulator = simulatorOf(agent);
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const taken = await simulator.wait(5);
      expect(taken.status).toBe(200);
      ids.push(taken.body.item!.command_id);
    }
    const [health, restart] = ids;
    const sent = await page(`${url}/commands`, headers);
    expect(sent.html).toContain('<span class="badge badge-wait">sent</span>');

    expect((await simulator.report(health!, { result: { status: 'ok', note: '<b>bold</b>', containers: [{ name: 'web', state: 'running' }] } })).status).toBe(200);
    expect((await simulator.report(restart!, { status: 'failed', error: 'container db not found' })).status).toBe(200);
    const fragment = await page(`${url}/commands`, headers);
    expect(fragment.status).toBe(200);
    // As stored (jsonb orders the keys its own way), indented, escaped.
    const stored = (await commandsOf(agent)).find((c) => c.commandId === health)!;
    expect(stored.result).toEqual({ status: 'ok', note: '<b>bold</b>', containers: [{ name: 'web', state: 'running' }] });
    const pretty = escapeHtml(JSON.stringify(stored.result, null, 2));
    expect(pretty).toContain('\n  &quot;containers&quot;: [\n    {\n');
    expect(fragment.html).toContain(`<pre class="json" aria-label="Result of ${health}"><code>${pretty}</code></pre>`);
    expect(fragment.html).not.toContain('<b>bold</b>');
    expect(fragment.html).toContain(`<pre class="json" aria-label="Error of ${restart}"><code>container db not found</code></pre>`);
    expect(fragment.html).toContain('<span class="badge badge-ok">completed</span>');
    expect(fragment.html).toContain('<span class="badge badge-bad">failed</span>');
    expect(fragment.html).not.toContain('/cancel"');
  });

  it('"revoke now" rotates with no grace: the old token is refused on the next wait, the new one works', async () => {
    const agent = await createAgent();
    const headers = await signedIn(agent.ownerId);
    const url = consoleOf(agent);
    expect((await simulatorOf(agent).wait(1)).status).toBe(200); // the deployment's object now vouches for the old token
    const shown = await follow(await postForm(`${url}/rotate`, headers, { grace_seconds: '0' }), headers);
    expect(shown.html).toContain('Agent token rotated and the previous token revoked: the agent must use the new token (in Vault) from now on.');
    expect((await simulatorOf(agent).wait(1)).status).toBe(401);
    const row = (await withDatabase((db) => db.execute<{ token_hash: string; previous_token_hash: string | null }>(sql`select token_hash, previous_token_hash from agents where id = ${agent.agentId}`))).rows[0]!;
    expect(row.previous_token_hash).toBeNull();
    const vault = await fetch(`${vaultStubUrl}/__stored?path=${encodeURIComponent(`agent/${agent.deploymentHash}/token`)}`);
    const token = ((await vault.json()) as { data: { token: string } }).data.token;
    expect((await new AgentSimulator({ agentId: agent.agentId, token, deploymentHash: agent.deploymentHash }).wait(1)).status).toBe(200);
    // Anything else than a whole number of seconds 0..3600 is refused, naming the field; nothing changes.
    const refused = await postForm(`${url}/rotate`, headers, { grace_seconds: 'soon' });
    expect(refused.status).toBe(400);
    expect(await refused.text()).toContain('grace_seconds');
  });

  it('rotates the agent token for the owner (and admins); the new token is in Vault, never in the page', async () => {
    const agent = await createAgent();
    const headers = await signedIn(agent.ownerId);
    const url = consoleOf(agent);
    const hashOf = async () => (await withDatabase((db) => db.execute<{ token_hash: string; previous_token_hash: string | null }>(sql`select token_hash, previous_token_hash from agents where id = ${agent.agentId}`))).rows[0]!;
    const original = await hashOf();
    expect((await postForm(`${url}/rotate`, await signedIn(uniqueId('agcx')), {})).status).toBe(404);
    expect(await hashOf()).toEqual(original);

    const response = await postForm(`${url}/rotate`, headers, {});
    const body = await response.clone().text();
    const shown = await follow(response, headers);
    expect(shown.html).toMatch(/Agent token rotated; the agent was not told directly: it reads the new token from Vault\. The previous token works until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\./);
    const rotated = await hashOf();
    expect(rotated.previous_token_hash).toBe(original.token_hash);
    expect(rotated.token_hash).not.toBe(original.token_hash);
    const vault = await fetch(`${vaultStubUrl}/__stored?path=${encodeURIComponent(`agent/${agent.deploymentHash}/token`)}`);
    const token = ((await vault.json()) as { data: { token: string } }).data.token;
    expect(await sha256Hex(token)).toBe(rotated.token_hash);
    for (const html of [body, shown.html]) {
      expect(html).not.toContain(token);
      expect(html).not.toContain(token.slice(0, 16));
    }
    // The old token keeps working for the grace period.
    expect((await simulatorOf(agent).wait(1)).status).toBe(200);

    // The console offers "revoke now" beside the rotation.
    const panel = await page(`${url}/panel`, headers);
    expect(panel.html).toMatch(/<form method="post" action="[^"]*\/agent\/rotate"[^>]*><input type="hidden" name="grace_seconds" value="0"\/?><button[^>]*>Rotate and revoke the old token now<\/button>/);

    // An admin may too; a deployment without an agent has nothing to rotate.
    await follow(await postForm(`${url}/rotate`, await signedIn(uniqueId('agcadm'), 'group_admin'), {}), headers);
    expect((await hashOf()).token_hash).not.toBe(rotated.token_hash);
    const bare = await createDeployment(uniqueId('agcn'));
    const none = await postForm(`${consoleOf(bare)}/rotate`, await signedIn(bare.ownerId), {});
    expect(none.status).toBe(404);
    expect(await none.text()).toContain('Agent not found');
  });
});
