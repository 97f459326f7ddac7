// The dashboard's admin section inside workerd: who may see it, every user's projects, the catalog
// (add, edit, delete, bad entries), every user's API clients (disable, enable), never a secret.
import { afterEach, describe, expect, it } from 'vitest';
import { listAllApiClients } from '../../functions/services/api-clients.ts';
import { deleteCatalogApp, getCatalogApp } from '../../functions/services/catalog.ts';
import { createSession } from '../../functions/services/dashboard-sessions.ts';
import { BASE_URL } from '../helpers/api.ts';
import { api, bearerFor, createApiClientFor, hmacHeaders, uniqueId } from '../helpers/auth.ts';
import { withDatabase } from '../helpers/db.ts';
import { createProjectFor } from '../helpers/deploy.ts';

async function signedIn(userId: string, role: 'group_admin' | 'group_user'): Promise<Record<string, string>> {
  const token = await withDatabase((db) => createSession(db, { id: userId, role, email: `${userId}@example.com` }));
  return { cookie: `__Host-stacker_session=${token}` };
}

const admin = () => signedIn(uniqueId('admin'), 'group_admin');

type Fields = Array<[string, string]>;

function postForm(path: string, headers: Record<string, string>, fields: Fields = [], origin = BASE_URL): Promise<Response> {
  return api(path, {
    method: 'POST',
    headers: { ...headers, origin, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
    redirect: 'manual',
  });
}

/** A host port no seeded app publishes (catalog apps publish different ones; other files add apps too). */
const freePort = () => String(20_000 + Math.floor(Math.random() * 40_000));

/** A valid catalog entry as the form posts it, with the extra empty row of each table. */
function entryFields(code: string, overrides: Partial<Record<string, string>> = {}, hostPort = freePort()): Fields {
  const one = { code, name: `App ${code}`, category: 'Testing', description: 'A test app', image: 'grafana/grafana', tag: '11.2', ...overrides };
  return [
    ...(Object.entries(one) as Fields),
    ['port_host', hostPort],
    ['port_container', '3000'],
    ['port_host', ''],
    ['port_container', ''],
    ['env_key', 'GF_SECURITY_ADMIN_USER'],
    ['env_value', 'admin'],
    ['env_key', ''],
    ['env_value', ''],
    ['volume_host', ''],
    ['volume_container', '/var/lib/grafana'],
    ['volume_host', ''],
    ['volume_container', ''],
  ];
}

const catalogRow = (code: string) => withDatabase((db) => getCatalogApp(db, code).catch(() => undefined));

/** The input `name` renders with its server message next to it. */
function expectFieldError(html: string, errorKey: string, message: string | RegExp) {
  const id = `field-${errorKey.replace(/[^A-Za-z0-9_-]/g, '-')}`;
  expect(html).toMatch(new RegExp(`<input id="${id}"[^>]*aria-invalid="true"[^>]*aria-describedby="${id}-help"`));
  const helper = html.match(new RegExp(`<small id="${id}-help">([^<]*)</small>`));
  expect(helper?.[1]).toMatch(message);
}

const createdCodes: string[] = [];
const newCode = () => {
  const code = uniqueId('t');
  createdCodes.push(code);
  return code;
};

afterEach(async () => {
  const codes = createdCodes.splice(0);
  await withDatabase(async (db) => {
    for (const code of codes) await deleteCatalogApp(db, code).catch(() => undefined);
  });
});

const ADMIN_PAGES = ['/admin', '/admin/projects', '/admin/catalog', '/admin/catalog/nginx', '/admin/clients'];

describe('admin pages: who may see them', () => {
  it('a visitor without a session is sent to sign in from every admin page and post', async () => {
    for (const path of ADMIN_PAGES) {
      const response = await api(path, { redirect: 'manual' });
      expect(response.status, path).toBe(303);
      expect(response.headers.get('location'), path).toBe('/login');
    }
    const code = newCode();
    const post = await postForm('/admin/catalog', {}, entryFields(code));
    expect(post.status).toBe(303);
    expect(post.headers.get('location')).toBe('/login');
    expect(await catalogRow(code)).toBeUndefined();
  });

  it('a signed-in user without the admin role gets 403 on every admin page and post, and the posts change nothing', async () => {
    const headers = await signedIn(uniqueId('user'), 'group_user');
    for (const path of ADMIN_PAGES) {
      const response = await api(path, { headers, redirect: 'manual' });
      expect(response.status, path).toBe(403);
      expect(await response.text(), path).toContain('This page is for admins');
    }
    const nav = await (await api('/projects', { headers })).text();
    expect(nav).not.toContain('href="/admin"');

    const code = newCode();
    expect((await postForm('/admin/catalog', headers, entryFields(code))).status).toBe(403);
    expect(await catalogRow(code)).toBeUndefined();

    const nginx = await catalogRow('nginx');
    expect(nginx).toBeDefined();
    expect((await postForm('/admin/catalog/nginx', headers, entryFields('nginx', { name: 'Hijacked' }))).status).toBe(403);
    expect((await postForm('/admin/catalog/nginx/delete', headers)).status).toBe(403);
    expect(await catalogRow('nginx')).toEqual(nginx);

    const victim = await createApiClientFor(uniqueId('owner'));
    expect((await postForm(`/admin/clients/${victim.id}/disable`, headers)).status).toBe(403);
    const [stored] = await withDatabase((db) => listAllApiClients(db, victim.userId));
    expect(stored).toMatchObject({ id: victim.id, enabled: true });
    expect((await api('/test/deploy', { method: 'POST', headers: await hmacHeaders(victim, 'POST', '/test/deploy') })).status).toBe(200);
  });

  it('an admin sees the overview linking to the three sections and the Admin link in the menu', async () => {
    const response = await api('/admin', { headers: await admin() });
    expect(response.status).toBe(200);
    const html = await response.text();
    for (const href of ['/admin/projects', '/admin/catalog', '/admin/clients', '/admin']) expect(html).toContain(`href="${href}"`);
  });

  it('a form posted from another origin is refused and changes nothing', async () => {
    const headers = await admin();
    const code = newCode();
    const foreign = await postForm('/admin/catalog', headers, entryFields(code), 'https://evil.example');
    expect(foreign.status).toBe(403);
    expect(await catalogRow(code)).toBeUndefined();
    const victim = await createApiClientFor(uniqueId('owner'));
    expect((await postForm(`/admin/clients/${victim.id}/disable`, headers, [], 'https://evil.example')).status).toBe(403);
    expect((await withDatabase((db) => listAllApiClients(db, victim.userId)))[0]?.enabled).toBe(true);
  });
});

describe('admin: all projects', () => {
  it('lists another user’s project with its owner and a link to its builder, and searches by name or owner', async () => {
    const owner = uniqueId('owner');
    const created = await createProjectFor(owner);
    const { name } = ((await (await api(`/project/${created.id}`, { headers: bearerFor('group_user', owner) })).json()) as { item: { name: string } }).item;
    const headers = await admin();

    const all = await api('/admin/projects', { headers });
    expect(all.status).toBe(200);
    const row = (await all.text()).match(new RegExp(`<tr><td>${owner}</td><td><a href="/projects/${created.id}">([^<]*)</a></td><td>(\\d+)</td>`));
    expect(row?.[1]).toBe(name);
    expect(Number(row?.[2])).toBeGreaterThan(0);

    const byOwner = await (await api(`/admin/projects?q=${encodeURIComponent(owner.toUpperCase())}`, { headers })).text();
    expect(byOwner).toContain(`href="/projects/${created.id}"`);
    const byName = await (await api(`/admin/projects?q=${encodeURIComponent(name)}`, { headers })).text();
    expect(byName).toContain(`href="/projects/${created.id}"`);
    const none = await (await api(`/admin/projects?q=${encodeURIComponent(`${owner}-none`)}`, { headers })).text();
    expect(none).toContain('No project matches');
    expect(none).not.toContain(`href="/projects/${created.id}"`);
    // LIKE's wildcards are searched for as themselves.
    expect(await (await api('/admin/projects?q=%25', { headers })).text()).not.toContain(`href="/projects/${created.id}"`);
  });
});

describe('admin: app catalog', () => {
  it('lists the seeded apps', async () => {
    const html = await (await api('/admin/catalog', { headers: await admin() })).text();
    expect(html).toContain('<a href="/admin/catalog/nginx">nginx</a>');
    expect(html).toContain('<code>nginx:1.27</code>');
  });

  it('adds an app (empty rows dropped), edits it, deletes it', async () => {
    const headers = await admin();
    const code = newCode();
    const hostPort = freePort();

    const added = await postForm('/admin/catalog', headers, entryFields(code, {}, hostPort));
    expect(added.status).toBe(303);
    expect(added.headers.get('location')).toBe('/admin/catalog');
    expect(await catalogRow(code)).toMatchObject({
      code,
      name: `App ${code}`,
      category: 'Testing',
      description: 'A test app',
      image: 'grafana/grafana',
      tag: '11.2',
      ports: [{ host_port: hostPort, container_port: '3000' }],
      environment: [{ key: 'GF_SECURITY_ADMIN_USER', value: 'admin' }],
      volumes: [{ host_path: null, container_path: '/var/lib/grafana' }],
    });
    const cookie = added.headers.get('set-cookie')!.split(';')[0]!;
    const list = await (await api('/admin/catalog', { headers: { cookie: `${headers.cookie}; ${cookie}` } })).text();
    expect(list).toContain('added to the catalog');
    expect(list).toContain(`<a href="/admin/catalog/${code}">${code}</a>`);

    const form = await (await api(`/admin/catalog/${code}`, { headers })).text();
    expect(form).toContain(`<input id="field-code" name="code" type="text" value="${code}"`);
    expect(form).toContain('value="GF_SECURITY_ADMIN_USER"');
    expect(form).toContain('id="field-port_container-1"'); // the extra row for adding

    const edited = await postForm(`/admin/catalog/${code}`, headers, [
      ...entryFields(code, { name: 'Renamed', tag: '11.3' }, hostPort).filter(([name]) => !name.startsWith('env_')),
      ['port_host', ''],
      ['port_container', '9090'],
    ]);
    expect(edited.status).toBe(303);
    expect(await catalogRow(code)).toMatchObject({
      name: 'Renamed',
      tag: '11.3',
      ports: [
        { host_port: hostPort, container_port: '3000' },
        { host_port: '', container_port: '9090' },
      ],
      environment: [],
    });

    const deleted = await postForm(`/admin/catalog/${code}/delete`, headers);
    expect(deleted.status).toBe(303);
    expect(deleted.headers.get('location')).toBe('/admin/catalog');
    expect(await catalogRow(code)).toBeUndefined();
    expect((await api(`/admin/catalog/${code}`, { headers })).status).toBe(404);
    expect((await postForm(`/admin/catalog/${code}/delete`, headers)).status).toBe(404);
  });

  it('a bad entry comes back as the form with status 400 and each message next to its field', async () => {
    const headers = await admin();
    const code = newCode();
    const badImage = await postForm('/admin/catalog', headers, entryFields(code, { image: 'Not An Image' }));
    expect(badImage.status).toBe(400);
    const badImageHtml = await badImage.text();
    expectFieldError(badImageHtml, 'image', /not a valid image name/);
    expect(badImageHtml).toContain('value="Not An Image"');
    expect(badImageHtml).toContain('role="alert"');

    const fields = entryFields(code).map(([name, value]): [string, string] => [name, name === 'port_container' && value === '3000' ? '0' : value]);
    const badPort = await postForm('/admin/catalog', headers, [...fields, ['env_key', '1BAD'], ['env_value', 'x'], ['volume_host', ''], ['volume_container', 'relative/path']]);
    expect(badPort.status).toBe(400);
    const badPortHtml = await badPort.text();
    expectFieldError(badPortHtml, 'port_container.0', /1 to 65535/);
    expectFieldError(badPortHtml, 'env_key.1', /not starting with a digit/);
    expectFieldError(badPortHtml, 'volume_container.1', /absolute path/);
    expect(badPortHtml).not.toMatch(/<input id="field-port_host-0"[^>]*aria-invalid/);

    const duplicate = await postForm('/admin/catalog', headers, entryFields('nginx'));
    expect(duplicate.status).toBe(400);
    expectFieldError(await duplicate.text(), 'code', /taken by another catalog app/);

    const tooShort = await postForm('/admin/catalog', headers, entryFields('ab', { tag: 'bad tag' }));
    expect(tooShort.status).toBe(400);
    const tooShortHtml = await tooShort.text();
    expectFieldError(tooShortHtml, 'code', /at least 3/);
    expectFieldError(tooShortHtml, 'tag', /Docker tag/);

    expect(await catalogRow(code)).toBeUndefined();
    expect(await catalogRow('ab')).toBeUndefined();
    expect((await catalogRow('nginx'))?.name).toBe('Nginx');
  });

  it('an edit to a taken code or with a bad field is a 400 on the edit form and leaves the app as it was', async () => {
    const headers = await admin();
    const code = newCode();
    expect((await postForm('/admin/catalog', headers, entryFields(code))).status).toBe(303);
    const before = await catalogRow(code);

    const taken = await postForm(`/admin/catalog/${code}`, headers, entryFields('nginx', { name: 'Clash' }));
    expect(taken.status).toBe(400);
    const takenHtml = await taken.text();
    expect(takenHtml).toContain(`action="/admin/catalog/${code}"`);
    expectFieldError(takenHtml, 'code', /taken by another catalog app/);

    const badHost = await postForm(`/admin/catalog/${code}`, headers, [...entryFields(code), ['port_host', '70000'], ['port_container', '80']]);
    expect(badHost.status).toBe(400);
    expectFieldError(await badHost.text(), 'port_host.1', /1 to 65535/);

    // nginx publishes 8080: catalog apps publish different host ports, so any of them make a stack.
    const takenPort = await postForm(`/admin/catalog/${code}`, headers, entryFields(code, { name: 'Port clash' }, '8080'));
    expect(takenPort.status).toBe(400);
    expectFieldError(await takenPort.text(), 'port_host.0', /published by Nginx \(nginx\)/);
    const addTaken = await postForm('/admin/catalog', headers, entryFields(newCode(), {}, '8080'));
    expect(addTaken.status).toBe(400);
    expectFieldError(await addTaken.text(), 'port_host.0', /published by Nginx/);

    expect(await catalogRow(code)).toEqual(before);
    expect((await catalogRow('nginx'))?.name).toBe('Nginx');
  });
});

describe('admin: all API clients', () => {
  it('lists another user’s client without its secret; disable and enable work', async () => {
    const owner = uniqueId('owner');
    const victim = await createApiClientFor(owner);
    const headers = await admin();

    const page = await api('/admin/clients', { headers });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toMatch(new RegExp(`<tr id="client-${victim.id}"><td>${victim.id}</td><td>${owner}</td><td>enabled</td>`));
    expect(html).not.toContain(victim.secret);

    const disabled = await postForm(`/admin/clients/${victim.id}/disable`, headers);
    expect(disabled.status).toBe(303);
    expect(disabled.headers.get('location')).toBe('/admin/clients');
    expect((await api('/test/deploy', { method: 'POST', headers: await hmacHeaders(victim, 'POST', '/test/deploy') })).status).toBe(401);
    const filtered = await (await api(`/admin/clients?owner=${owner}`, { headers })).text();
    expect(filtered).toMatch(new RegExp(`<tr id="client-${victim.id}"><td>${victim.id}</td><td>${owner}</td><td>disabled</td>`));
    expect(filtered).toContain(`action="/admin/clients/${victim.id}/enable"`);

    // Disabling it again is a conflict page, not a 500.
    expect((await postForm(`/admin/clients/${victim.id}/disable`, headers)).status).toBe(409);

    const enabled = await postForm(`/admin/clients/${victim.id}/enable`, headers);
    expect(enabled.status).toBe(303);
    const [stored] = await withDatabase((db) => listAllApiClients(db, owner));
    expect(stored).toMatchObject({ id: victim.id, enabled: true });
    const after = await (await api('/admin/clients', { headers: { cookie: `${headers.cookie}; ${enabled.headers.get('set-cookie')!.split(';')[0]}` } })).text();
    expect(after).toContain('enabled with a new secret');
    expect(after).not.toContain(victim.secret);
    expect(after).not.toMatch(/[A-Za-z0-9_-]{48,}/);
  });

  it('an id that names no client is a 404 page', async () => {
    const headers = await admin();
    expect((await postForm('/admin/clients/2147483600/disable', headers)).status).toBe(404);
    expect((await postForm('/admin/clients/not-a-number/disable', headers)).status).toBe(404);
  });
});
