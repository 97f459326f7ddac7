// The dashboard's deploy form and deployment page inside workerd: deploy with a saved cloud key (one
// deployment per form, however often it is sent), the page rendered from the event log with the cursor
// the live feed continues from, the SSE feed itself (after a cursor, in order, each event once, resumed
// from Last-Event-ID), cancel, field errors, other users and other origins.
import { env } from 'cloudflare:test';
import { exports } from 'cloudflare:workers';
import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { runScheduledJobs } from '../../functions/cron.ts';
import { createSession } from '../../functions/services/dashboard-sessions.ts';
import { api, apiWith, BASE_URL } from '../helpers/api.ts';
import { bearerFor, jsonRequest, uniqueId } from '../helpers/auth.ts';
import { withDatabase } from '../helpers/db.ts';
import { createProjectFor, deliveriesOf, postProgress, type ProjectRef } from '../helpers/deploy.ts';
import { expectFieldError, page } from '../helpers/dashboard.ts';

type Headers = Record<string, string>;

async function signedIn(userId: string, role = 'group_user'): Promise<Headers> {
  const token = await withDatabase((db) => createSession(db, { id: userId, role, email: `${userId}@example.com` }));
  return { cookie: `__Host-stacker_session=${token}` };
}

/** A form post through a fresh app, waiting for the work it leaves behind (the background publish). */
function postForm(path: string, headers: Headers, form: Record<string, string>, origin = BASE_URL): Promise<Response> {
  return apiWith({}, path, {
    method: 'POST',
    headers: { ...headers, origin, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
    redirect: 'manual',
  });
}



const longSecret = (prefix: string) => `${prefix}${uniqueId('s')}${crypto.randomUUID().replace(/-/g, '')}`;

interface Owner {
  project: ProjectRef;
  session: Headers;
  cloudId: number;
  token: string;
}

/** A user with a project (an app, a valid compose), a session and a saved Hetzner key. */
async function owner(prefix: string): Promise<Owner> {
  const project = await createProjectFor(uniqueId(prefix));
  const token = longSecret('hcl_');
  const saved = await api('/cloud', jsonRequest('POST', { provider: 'htz', cloud_token: token, save_token: true }, bearerFor('group_user', project.userId)));
  expect(saved.status).toBe(201);
  const cloudId = ((await saved.json()) as { item: { id: number } }).item.id;
  return { project, session: await signedIn(project.userId), cloudId, token };
}

const newServer = (o: Owner, key = crypto.randomUUID()) => ({ idempotency_key: key, cloud_id: String(o.cloudId), target: 'new', server: 'cx11', region: 'fsn1', zone: '', os: 'ubuntu-22.04', disk_type: '' });

const deploymentsOf = async (o: Owner) => {
  const response = await api(`/project/${o.project.id}/deployments`, { headers: bearerFor('group_user', o.project.userId) });
  return ((await response.json()) as { list: Array<{ id: number; status: string; deployment_hash: string }> }).list;
};

/** Deploys from the form; answers the deployment's id and hash (the form's 303 names its page). */
async function deployFromPage(o: Owner): Promise<{ id: number; hash: string; url: string }> {
  const posted = await postForm(`/projects/${o.project.id}/deploy`, o.session, newServer(o));
  expect(posted.status, await posted.clone().text()).toBe(303);
  const url = posted.headers.get('location')!;
  const id = Number(/^\/projects\/\d+\/deployments\/(\d+)$/.exec(url)?.[1]);
  const found = (await deploymentsOf(o)).find((d) => d.id === id);
  expect(found).toBeDefined();
  return { id, hash: found!.deployment_hash, url };
}

/** The install service's progress webhook, signed as it signs them. */
async function progress(id: number, index: number, body: Record<string, unknown>) {
  const response = await postProgress({ deploy_id: id, ...body }, { messageId: `dash-${id}-${index}` });
  expect(response.status, await response.clone().text()).toBe(200);
}

const logRows = (html: string) => [...html.matchAll(/<tr data-seq="(\d+)"[^>]*>([\s\S]*?)<\/tr>/g)].map((m) => ({ seq: Number(m[1]), text: m[2]!.replace(/<[^>]+>/g, '|') }));
const steps = (html: string) => [...html.matchAll(/<li data-step="([^"]+)" data-state="([^"]+)"/g)].map((m) => [m[1], m[2]]);
const dataAfter = (html: string) => Number(/data-events-url="[^"]+" data-after="(\d+)"/.exec(html)?.[1]);

interface SseEvent {
  id?: string;
  event?: string;
  data: string;
}

/**
 * Opens the live feed straight on the Worker (the recording helper would read the endless body) and
 * reads until `until` says enough arrived, then lets go; `during` runs once the stream is open.
 */
async function readFeed(path: string, headers: Headers, until: (events: SseEvent[]) => boolean, during?: () => Promise<void>): Promise<{ status: number; type: string; events: SseEvent[] }> {
  const response = await exports.default.fetch(new Request(`${BASE_URL}${path}`, { headers }));
  if (response.status !== 200) return { status: response.status, type: response.headers.get('content-type') ?? '', events: [] };
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const events: SseEvent[] = [];
  let started = false;
  try {
    while (!until(events)) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event: SseEvent = { data: '' };
        for (const line of frame.split('\n')) {
          if (line.startsWith(':')) continue;
          const [field, ...rest] = line.split(':');
          const value = rest.join(':').replace(/^ /, '');
          if (field === 'id') event.id = value;
          else if (field === 'event') event.event = value;
          else if (field === 'data') event.data += value;
        }
        if (event.event) events.push(event);
      }
      if (!started && during && events.some((e) => e.event === 'hello')) {
        started = true;
        await during();
      }
    }
  } finally {
    await reader.cancel();
  }
  return { status: response.status, type: response.headers.get('content-type') ?? '', events };
}

const deploymentEvents = (events: SseEvent[]) => events.filter((e) => e.event === 'deployment').map((e) => ({ id: e.id, ...(JSON.parse(e.data) as { seq: number; message: string | null }) }));

describe('the dashboard deploy form', () => {
  it('renders for the owner with their keys masked and a new Idempotency-Key each time; without a key it links to /keys', async () => {
    const project = await createProjectFor(uniqueId('dfk'));
    const session = await signedIn(project.userId);
    const bare = await page(`/projects/${project.id}/deploy`, session);
    expect(bare.status).toBe(200);
    expect(bare.html).toContain('<a href="/keys">add one on the Cloud keys page</a>');
    expect(bare.html).not.toContain(`action="/projects/${project.id}/deploy"`);

    const token = longSecret('hcl_');
    const saved = await api('/cloud', jsonRequest('POST', { provider: 'htz', cloud_token: token, save_token: true }, bearerFor('group_user', project.userId)));
    const cloudId = ((await saved.json()) as { item: { id: number } }).item.id;
    const form = await page(`/projects/${project.id}/deploy`, session);
    expect(form.status).toBe(200);
    expect(form.html).toContain(`<form method="post" action="/projects/${project.id}/deploy">`);
    expect(form.html).toMatch(new RegExp(`<option value="${cloudId}" selected="">Hetzner Cloud \\(htz\\) · hcl_\\*\\*\\*\\* · key ${cloudId}</option>`));
    expect(form.html).not.toContain(token);
    expect(form.html).not.toContain(token.slice(0, 8));
    for (const name of ['server', 'region', 'os', 'srv_ip', 'ssh_port', 'ssh_user']) expect(form.html).toContain(`name="${name}"`);
    const keyOf = (html: string) => /<input type="hidden" name="idempotency_key" value="([0-9a-f-]{36})"\/?>/.exec(html)?.[1];
    expect(keyOf(form.html)).toBeDefined();
    expect(keyOf((await page(`/projects/${project.id}/deploy`, session)).html)).not.toBe(keyOf(form.html));

    // The builder links to it and lists no deployment yet.
    const builder = await page(`/projects/${project.id}`, session);
    expect(builder.html).toContain(`<a href="/projects/${project.id}/deploy" role="button">Deploy this stack</a>`);
    expect(builder.html).toContain('Not deployed yet.');
  });

  it('starts exactly one deployment for one form, however often it is sent, and publishes its job once', async () => {
    const o = await owner('dfo');
    const form = newServer(o);
    const first = await postForm(`/projects/${o.project.id}/deploy`, o.session, form);
    expect(first.status).toBe(303);
    const location = first.headers.get('location')!;
    expect(location).toMatch(new RegExp(`^/projects/${o.project.id}/deployments/\\d+$`));
    const [again, concurrent] = await Promise.all([postForm(`/projects/${o.project.id}/deploy`, o.session, form), postForm(`/projects/${o.project.id}/deploy`, o.session, form)]);
    for (const retry of [again, concurrent]) {
      expect(retry.status).toBe(303);
      expect(retry.headers.get('location')).toBe(location);
    }
    const list = await deploymentsOf(o);
    expect(list).toHaveLength(1);
    const accepted = (await deliveriesOf(list[0]!.deployment_hash, 1)).filter((d) => d.accepted);
    expect(accepted).toHaveLength(1);
    const job = JSON.parse(accepted[0]!.body) as Record<string, unknown>;
    expect(job).toMatchObject({ deployment_id: list[0]!.id, provider: 'htz', cloud_token: o.token, region: 'fsn1', server: 'cx11', os: 'ubuntu-22.04', srv_ip: null });

    // Another form (another key) is another deployment; the builder lists both, newest first, with links.
    const second = await postForm(`/projects/${o.project.id}/deploy`, o.session, newServer(o));
    expect(second.status).toBe(303);
    expect(second.headers.get('location')).not.toBe(location);
    const both = await deploymentsOf(o);
    expect(both).toHaveLength(2);
    const builder = await page(`/projects/${o.project.id}`, o.session);
    const linked = [...builder.html.matchAll(new RegExp(`<a href="/projects/${o.project.id}/deployments/(\\d+)">`, 'g'))].map((m) => Number(m[1]));
    expect(linked).toEqual(both.map((d) => d.id));
    expect(builder.html).toContain('<span class="deploy-status status-pending">pending</span>');
  });

  it('deploys to an existing server with its address and SSH settings', async () => {
    const o = await owner('dfe');
    const posted = await postForm(`/projects/${o.project.id}/deploy`, o.session, { idempotency_key: crypto.randomUUID(), cloud_id: String(o.cloudId), target: 'existing', srv_ip: '203.0.113.7', ssh_port: '2222', ssh_user: 'deployer', region: 'ignored-for-existing' });
    expect(posted.status, await posted.clone().text()).toBe(303);
    const [created] = await deploymentsOf(o);
    const job = JSON.parse((await deliveriesOf(created!.deployment_hash, 1)).find((d) => d.accepted)!.body) as Record<string, unknown>;
    expect(job).toMatchObject({ srv_ip: '203.0.113.7', ssh_port: 2222, ssh_user: 'deployer', region: null });
    // The form shows the project's server again next time.
    const form = await page(`/projects/${o.project.id}/deploy`, o.session);
    expect(form.html).toContain('<input type="radio" name="target" value="existing" checked=""/>');
    expect(form.html).toMatch(/<input id="field-srv_ip" name="srv_ip" type="text" value="203\.0\.113\.7"/);
  });

  it('answers bad input with 400 and the message next to its field, keeps the form and starts nothing', async () => {
    const o = await owner('dfb');
    const stranger = await owner('dfbs');
    const cases: Array<[Record<string, string>, string, string]> = [
      [{ region: '' }, 'region', 'a new server needs this'],
      [{ region: 'x' }, 'region', 'must be 2 to 50 characters'],
      [{ os: '' }, 'os', 'a new server needs this'],
      [{ server: `cx\u0000` }, 'server', 'must not contain NUL characters'],
      [{ target: 'existing', srv_ip: '' }, 'srv_ip', 'an existing server needs its address'],
      [{ target: 'existing', srv_ip: 'not-an-ip' }, 'srv_ip', 'must be an IPv4 or IPv6 address'],
      [{ target: 'existing', srv_ip: '203.0.113.7', ssh_port: '5' }, 'ssh_port', 'must be 20 to 65535'],
      [{ target: 'existing', srv_ip: '203.0.113.7', ssh_user: 'ab' }, 'ssh_user', 'must be 3 to 50 characters'],
      [{ cloud_id: String(stranger.cloudId) }, 'cloud_id', 'choose one of your cloud keys'],
      [{ cloud_id: 'abc' }, 'cloud_id', 'choose one of your cloud keys'],
      [{ cloud_id: '99999999999' }, 'cloud_id', 'choose one of your cloud keys'],
    ];
    for (const [change, field, message] of cases) {
      const key = crypto.randomUUID();
      const response = await postForm(`/projects/${o.project.id}/deploy`, o.session, { ...newServer(o, key), ...change });
      expect(response.status, JSON.stringify(change)).toBe(400);
      const html = await response.text();
      expectFieldError(html, field, message);
      expect(html).toContain('role="alert"');
      // The same form again: its key kept, so fixing and sending it is still one deployment.
      expect(html).toContain(`name="idempotency_key" value="${key}"`);
      expect(html).not.toContain(o.token);
    }
    const noKey = await postForm(`/projects/${o.project.id}/deploy`, o.session, { ...newServer(o), idempotency_key: '' });
    expect(noKey.status).toBe(400);
    expect(await noKey.text()).toContain('idempotency_key: missing: open the deploy page and send its form');
    expect(await deploymentsOf(o)).toEqual([]);
  });
});

describe('the dashboard deployment page', () => {
  it('renders status, checklist, progress and log from the event log, with the cursor the live feed starts from', async () => {
    const o = await owner('dpg');
    const { id, url } = await deployFromPage(o);
    const fresh = await page(url, o.session);
    expect(fresh.status).toBe(200);
    expect(fresh.html).toContain('data-deployment-status="true">pending</span>');
    expect(fresh.html).toContain('No steps reported yet');
    expect(logRows(fresh.html).map((r) => r.seq)).toEqual([1]);
    expect(dataAfter(fresh.html)).toBe(1);

    await progress(id, 0, { status: 'in_progress', progress: 10, step: 'server', message: 'Creating the server' });
    await progress(id, 1, { status: 'in_progress', progress: 50, step: 'docker', message: 'Installing Docker' });
    const midway = await page(url, o.session);
    expect(midway.html).toContain(`data-events-url="${url}/events" data-after="3"`);
    expect(midway.html).toContain('data-deployment-status="true">in_progress</span>');
    expect(midway.html).toMatch(/<progress data-deployment-progress="true" value="50" max="100"/);
    expect(steps(midway.html)).toEqual([
      ['server', 'done'],
      ['docker', 'running'],
    ]);
    const rows = logRows(midway.html);
    expect(rows.map((r) => r.seq)).toEqual([1, 2, 3]);
    expect(rows[1]!.text).toContain('in_progress');
    expect(rows[1]!.text).toContain('Creating the server');
    expect(rows[2]!.text).toContain('Installing Docker');
    expect(midway.html).toContain(`action="${url}/cancel"`);
    expect(midway.html).toContain('data-confirm="Cancel this deployment?');
    expect(midway.html).toContain('<script src="/assets/deployment.js" defer=""></script><script src="/assets/live.js" defer=""></script>');

    await progress(id, 2, { status: 'in_progress', progress: 80, step: 'stack', message: 'Starting the stack' });
    await progress(id, 3, { status: 'completed', progress: 100, step: 'stack', message: 'Deployed' });
    const done = await page(url, o.session);
    expect(dataAfter(done.html)).toBe(5);
    expect(done.html).toContain('data-deployment-status="true">completed</span>');
    expect(steps(done.html)).toEqual([
      ['server', 'done'],
      ['docker', 'done'],
      ['stack', 'done'],
    ]);
    expect(done.html).toMatch(/<p data-deployment-reason="true" role="status" class="notice">Deployed<\/p>/);
    expect(done.html).not.toContain(`action="${url}/cancel"`);
    expect(logRows(done.html).map((r) => r.seq)).toEqual([1, 2, 3, 4, 5]);

    // The script the page loads: served, and it is the one that follows the log.
    const script = await api('/assets/deployment.js');
    expect(script.status).toBe(200);
    expect(await script.text()).toContain("addEventListener('deployment-event'");
  });

  it('a failed step, and the reason of a deployment that failed or timed out', async () => {
    const o = await owner('dpf');
    const { id, url } = await deployFromPage(o);
    await progress(id, 0, { status: 'in_progress', progress: 10, step: 'server', message: 'Creating the server' });
    await progress(id, 1, { status: 'failed', progress: 10, step: 'server', message: 'The cloud refused the token' });
    const failed = await page(url, o.session);
    expect(steps(failed.html)).toEqual([['server', 'failed']]);
    expect(failed.html).toContain('data-deployment-status="true">failed</span>');
    expect(failed.html).toMatch(/<p data-deployment-reason="true" role="status" class="form-error">The cloud refused the token<\/p>/);

    // The watchdog: the page says after how long it gave up.
    const overdue = await deployFromPage(o);
    await progress(overdue.id, 0, { status: 'in_progress', progress: 10, step: 'server', message: 'Creating the server' });
    await withDatabase((db) => db.execute(sql`update deployment set created_at = now() - interval '31 minutes', deadline_at = now() - interval '1 minute' where id = ${overdue.id}`));
    await runScheduledJobs(env as never);
    const timedOut = await page(overdue.url, o.session);
    expect(timedOut.html).toContain('data-deployment-status="true">timed_out</span>');
    expect(timedOut.html).toMatch(/class="form-error">Timed out: not finished after 30 min \(the deployment(?:'|&#39;)s deadline\)<\/p>/);
    expect(steps(timedOut.html)).toEqual([['server', 'failed']]);
  });

  it('the live feed streams the events after the cursor, in order, each once, with id = seq, and resumes from Last-Event-ID', async () => {
    const o = await owner('dps');
    const { id, url } = await deployFromPage(o);
    await progress(id, 0, { status: 'in_progress', progress: 10, step: 'server', message: 'one' });
    await progress(id, 1, { status: 'in_progress', progress: 50, step: 'docker', message: 'two' });
    // After 1: the two already there, then one posted while the stream is open.
    const feed = await readFeed(
      `${url}/events?after=1`,
      o.session,
      (events) => deploymentEvents(events).some((e) => e.seq === 4),
      () => progress(id, 2, { status: 'in_progress', progress: 80, step: 'stack', message: 'three' }),
    );
    expect(feed.status).toBe(200);
    expect(feed.type).toMatch(/^text\/event-stream/);
    expect(feed.events[0]).toMatchObject({ event: 'hello', data: '1' });
    expect(deploymentEvents(feed.events).map((e) => [e.id, e.seq, e.message])).toEqual([
      ['2', 2, 'one'],
      ['3', 3, 'two'],
      ['4', 4, 'three'],
    ]);

    // A reconnecting browser sends the last id it saw; that wins over the page's ?after.
    await progress(id, 3, { status: 'completed', progress: 100, step: 'stack', message: 'four' });
    const resumed = await readFeed(`${url}/events?after=0`, { ...o.session, 'last-event-id': '3' }, (events) => deploymentEvents(events).some((e) => e.seq === 5));
    expect(deploymentEvents(resumed.events).map((e) => [e.id, e.message])).toEqual([
      ['4', 'three'],
      ['5', 'four'],
    ]);
  }, 20_000);

  it('the long-poll fallback answers the events after the cursor as JSON, and holds until the next one', async () => {
    const o = await owner('dpl');
    const { id, url } = await deployFromPage(o);
    await progress(id, 0, { status: 'in_progress', progress: 10, step: 'server', message: 'one' });
    const ready = await api(`${url}/events?poll=1&after=0`, { headers: o.session });
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as { list: Array<{ seq: number }> }).list.map((e) => e.seq)).toEqual([1, 2]);
    // Nothing after 2 yet: held (longer than this test may take) until the next webhook.
    const held = api(`${url}/events?poll=1&after=2`, { headers: o.session });
    await progress(id, 1, { status: 'in_progress', progress: 50, step: 'docker', message: 'two' });
    expect(((await (await held).json()) as { list: Array<{ seq: number; message: string }> }).list.map((e) => [e.seq, e.message])).toEqual([[3, 'two']]);
  }, 15_000);

  it('cancel from the page cancels the deployment, tells the install service, and the page says so', async () => {
    const o = await owner('dpc');
    const { id, hash, url } = await deployFromPage(o);
    await progress(id, 0, { status: 'in_progress', progress: 10, step: 'server', message: 'Creating the server' });
    const cancelled = await postForm(`${url}/cancel`, o.session, {});
    expect(cancelled.status).toBe(303);
    expect(cancelled.headers.get('location')).toBe(url);
    expect(cancelled.headers.get('set-cookie')).toContain('stacker_notice=');
    expect((await deploymentsOf(o))[0]!.status).toBe('cancelled');
    // The job had been delivered: the install service gets a cancel job too.
    const deliveries = await deliveriesOf(hash, 2);
    expect(deliveries.filter((d) => d.accepted).map((d) => (JSON.parse(d.body) as { action?: string }).action ?? 'deploy')).toEqual(['deploy', 'cancel']);

    const shown = await page(url, o.session);
    expect(shown.html).toContain('data-deployment-status="true">cancelled</span>');
    expect(shown.html).toMatch(/<p data-deployment-reason="true" role="status" class="form-error">Cancelled by the user<\/p>/);
    expect(steps(shown.html)).toEqual([['server', 'failed']]);
    expect(shown.html).not.toContain(`action="${url}/cancel"`);
    // Once more (a second tab): nothing changes, the page says it had ended.
    const again = await postForm(`${url}/cancel`, o.session, {});
    expect(again.status).toBe(303);
    expect(decodeURIComponent(again.headers.get('set-cookie') ?? '')).toContain('Not cancelled: Deployment has already ended (cancelled)');
  });
});

describe('hostile input to the deploy forms', () => {
  it('answers bodies no honest form sends with a page, never a 5xx or internal text, and starts nothing', async () => {
    const o = await owner('dph');
    const control = '\u0000\u0001\u001b[31m\r\n\u202e';
    const valid = newServer(o);
    const bodies: Array<[string, { type: string; body: BodyInit }]> = [
      ...Object.keys(valid).map((name): [string, { type: string; body: BodyInit }] => [
        `control characters in ${name}`,
        { type: 'application/x-www-form-urlencoded', body: new URLSearchParams({ ...valid, [name]: `${valid[name as keyof typeof valid]}${control}` }).toString() },
      ]),
      ['control characters in ssh_port', { type: 'application/x-www-form-urlencoded', body: new URLSearchParams({ ...valid, target: 'existing', srv_ip: '203.0.113.7', ssh_port: `22${control}` }).toString() }],
      ['invalid UTF-8', { type: 'application/x-www-form-urlencoded', body: 'cloud_id=%ff%fe&idempotency_key=%c3%28&target=%80' }],
      ['a charset nobody knows', { type: 'application/x-www-form-urlencoded; charset=x-unknown-7', body: new URLSearchParams(valid).toString() }],
      ['a broken multipart body', { type: 'multipart/form-data; boundary=----nothing', body: '--x\r\nContent-Disposition: form-data; name="cloud_id"\r\n\r\nv' }],
      ['JSON with a form content type', { type: 'application/x-www-form-urlencoded', body: JSON.stringify(valid) }],
    ];
    const files = new FormData();
    for (const name of Object.keys(valid)) files.append(name, new File(['<script>alert(1)</script>'], 'x.html', { type: 'text/html' }));
    for (const [what, sent] of bodies) {
      for (const path of [`/projects/${o.project.id}/deploy`, `/projects/${o.project.id}/deployments/2147483647/cancel`]) {
        const response = await apiWith({}, path, { method: 'POST', headers: { ...o.session, origin: BASE_URL, 'content-type': sent.type }, body: sent.body, redirect: 'manual' });
        const text = await response.text();
        expect([400, 404], `${what} to ${path}: ${text.slice(0, 300)}`).toContain(response.status);
        expect(text, what).not.toMatch(/ZodError|TypeError|PostgresError|NeonDbError|\bat .+:\d+:\d+/);
      }
    }
    const withFiles = await apiWith({}, `/projects/${o.project.id}/deploy`, { method: 'POST', headers: { ...o.session, origin: BASE_URL }, body: files, redirect: 'manual' });
    expect(withFiles.status).toBe(400);
    expect(await deploymentsOf(o)).toEqual([]);
  });
});

describe('who may use the deploy pages', () => {
  it('another user finds none of them (404) and changes nothing; an admin sees the deployment', async () => {
    const o = await owner('dpo');
    const { id, url } = await deployFromPage(o);
    const other = await owner('dpx');
    const paths = [`/projects/${o.project.id}/deploy`, url, `${url}/events`];
    for (const path of paths) {
      const response = await (path.endsWith('/events') ? exports.default.fetch(new Request(`${BASE_URL}${path}`, { headers: other.session })) : api(path, { headers: other.session, redirect: 'manual' }));
      expect(response.status, path).toBe(404);
      await response.body?.cancel();
    }
    // Their own key on the owner's project, and the owner's deployment under their own project.
    expect((await postForm(`/projects/${o.project.id}/deploy`, other.session, newServer(other))).status).toBe(404);
    expect((await postForm(`${url}/cancel`, other.session, {})).status).toBe(404);
    expect((await page(`/projects/${other.project.id}/deployments/${id}`, other.session)).status).toBe(404);
    expect((await page(`/projects/${other.project.id}/deployments/${id}`, o.session)).status).toBe(404);
    expect((await postForm(`/projects/${other.project.id}/deployments/${id}/cancel`, other.session, {})).status).toBe(404);
    const list = await deploymentsOf(o);
    expect(list.map((d) => [d.id, d.status])).toEqual([[id, 'pending']]);
    expect(await deploymentsOf(other)).toEqual([]);

    // A visitor is sent to sign in; an admin sees the page.
    const visitor = await api(url, { redirect: 'manual' });
    expect(visitor.status).toBe(303);
    expect(visitor.headers.get('location')).toBe('/login');
    const admin = await page(url, await signedIn(uniqueId('dpadm'), 'group_admin'));
    expect(admin.status).toBe(200);
    expect(admin.html).toContain('data-deployment-status="true">pending</span>');
  });

  it('refuses a deploy or a cancel sent from another origin with 403, and starts or cancels nothing', async () => {
    const o = await owner('dpr');
    const foreign = await postForm(`/projects/${o.project.id}/deploy`, o.session, newServer(o), 'https://evil.example');
    expect(foreign.status).toBe(403);
    expect(await deploymentsOf(o)).toEqual([]);
    const { url } = await deployFromPage(o);
    expect((await postForm(`${url}/cancel`, o.session, {}, 'https://evil.example')).status).toBe(403);
    expect((await deploymentsOf(o))[0]!.status).toBe('pending');
  });
});
