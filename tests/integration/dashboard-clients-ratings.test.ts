// The dashboard's API clients and ratings pages inside workerd: one-time secrets that really sign,
// owners only, CSRF, and form errors next to their fields.
import { env } from 'cloudflare:test';
import { sql } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import { createSession } from '../../functions/services/dashboard-sessions.ts';
import { BASE_URL } from '../helpers/api.ts';
import { api, bearerFor, createApiClientFor, hmacHeaders, jsonRequest, uniqueId } from '../helpers/auth.ts';
import { withDatabase } from '../helpers/db.ts';

async function signedIn(userId: string): Promise<Record<string, string>> {
  const token = await withDatabase((db) => createSession(db, { id: userId, role: 'group_user', email: `${userId}@example.com` }));
  return { cookie: `__Host-stacker_session=${token}` };
}

/** A form posted from the dashboard's own origin (or, for CSRF, another). */
function post(headers: Record<string, string>, fields: Record<string, string> = {}, origin = BASE_URL): RequestInit {
  return {
    method: 'POST',
    headers: { ...headers, origin, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
    redirect: 'manual',
  };
}

interface ShownClient {
  id: number;
  secret: string;
}

/** The id and secret a one-time page shows, with its copy buttons. */
function shownClient(html: string): ShownClient {
  const id = /<code id="new-client-id">(\d+)<\/code>/.exec(html)?.[1];
  const secret = /<code id="new-client-secret"[^>]*>([A-Za-z0-9_-]+)<\/code>/.exec(html)?.[1];
  expect(id, 'the page shows the client id').toBeDefined();
  expect(secret, 'the page shows the secret').toBeDefined();
  expect(html).toContain('<button type="button" data-copy="new-client-secret">Copy</button>');
  expect(html).toContain('data-copy="new-client-id"');
  expect(html).toContain('you will not see it again');
  return { id: Number(id), secret: secret! };
}

async function createOnPage(headers: Record<string, string>): Promise<{ response: Response; html: string; client: ShownClient }> {
  const response = await api('/clients', post(headers, { request_key: crypto.randomUUID() }));
  const html = await response.text();
  expect(response.status, html).toBe(200);
  return { response, html, client: shownClient(html) };
}

/** What a request signed with this secret gets from the API. */
const signedStatus = async (client: ShownClient) => (await api('/test/deploy', { method: 'POST', headers: await hmacHeaders(client, 'POST', '/test/deploy') })).status;

/**
 * A form field as the page draws it: its label, its control and its message, from the label to the
 * next field's label (or the end of the form), whether the label wraps the control or sits beside it.
 */
function fieldOf(html: string, field: string): string {
  const block = new RegExp(`<label for="field-${field}">[\\s\\S]*?(?=<label for=|</form>)`).exec(html)?.[0];
  expect(block, `a labelled field ${field}`).toBeDefined();
  expect(block).toMatch(new RegExp(`<(input|select|textarea) id="field-${field}" name="${field}"`));
  return block!;
}

/** The field's control says it is invalid and points at the message right after it. */
function expectFieldError(html: string, field: string, message: string) {
  const block = fieldOf(html, field);
  const control = new RegExp(`<(?:input|select|textarea) id="field-${field}"[^>]*>`).exec(block)![0];
  expect(control).toContain('aria-invalid="true"');
  expect(control).toContain(`aria-describedby="field-${field}-help"`);
  expect(new RegExp(`<small id="field-${field}-help">([^<]*)</small>`).exec(block)?.[1]).toBe(message);
}

const PRODUCT = 1_800_000_000 + Math.floor(Math.random() * 100_000_000);
const MISSING_PRODUCT = PRODUCT + 100_000_001;

beforeAll(async () => {
  await withDatabase(async (db) => {
    // The access matrix hard-deletes /admin/rating/1 as an admin; make sure no rating here gets id 1.
    await db.execute(sql`select nextval(pg_get_serial_sequence('rating', 'id'))`);
    await db.execute(sql`insert into product (id, obj_id, obj_type) values (${PRODUCT}, ${PRODUCT}, 'Application') on conflict do nothing`);
  });
});

const validRating = (overrides: Record<string, string> = {}) => ({ obj_id: String(PRODUCT), category: 'DeploymentSpeed', rate: '8', comment: 'Up in two minutes', ...overrides });

/** The user's visible ratings through the API. */
async function apiRatingsOf(userId: string) {
  const response = await api(`/rating?user_id=${userId}&obj_id=${PRODUCT}`, { headers: bearerFor('group_user', userId) });
  expect(response.status).toBe(200);
  return ((await response.json()) as { list: Array<{ id: number; category: string; rate: number | null; comment: string | null }> }).list;
}

describe('dashboard: sign-in and CSRF', () => {
  it('sends a visitor without a session to sign in, for pages and forms', async () => {
    for (const path of ['/clients', '/ratings', '/ratings/1/edit']) {
      const response = await api(path, { redirect: 'manual' });
      expect(response.status, path).toBe(303);
      expect(response.headers.get('location')).toBe('/login');
    }
    for (const path of ['/clients', '/clients/1/renew', '/ratings', '/ratings/1/delete']) {
      const response = await api(path, post({}, path === '/ratings' ? validRating() : {}));
      expect(response.status, path).toBe(303);
      expect(response.headers.get('location')).toBe('/login');
    }
  });

  it('refuses a form posted from another origin and changes nothing', async () => {
    const userId = uniqueId('csrf');
    const headers = await signedIn(userId);
    const client = await createApiClientFor(userId);
    const evil = 'https://evil.example';
    expect((await api('/clients', post(headers, {}, evil))).status).toBe(403);
    expect((await api(`/clients/${client.id}/disable`, post(headers, {}, evil))).status).toBe(403);
    expect((await api(`/clients/${client.id}/renew`, post(headers, {}, evil))).status).toBe(403);
    expect((await api('/ratings', post(headers, validRating(), evil))).status).toBe(403);
    expect(await signedStatus(client)).toBe(200);
    const list = await (await api('/clients', { headers })).text();
    expect(list.match(/<tr id="client-\d+">/g)).toHaveLength(1);
    expect(await apiRatingsOf(userId)).toEqual([]);
  });
});

describe('dashboard: API clients', () => {
  it('lists nothing for a new user and offers to create a client', async () => {
    const response = await api('/clients', { headers: await signedIn(uniqueId('cl')) });
    expect(response.status).toBe(200);
    const html = await response.text();
    expect(html).toContain('No API clients yet.');
    expect(html).toMatch(/<form method="post" action="\/clients">/);
    expect(html).toMatch(/<input type="hidden" name="request_key" value="[0-9a-f-]{36}"/);
  });

  it('shows a new client’s id and secret once, the secret signs requests, and the list never shows it', async () => {
    const userId = uniqueId('cl');
    const headers = await signedIn(userId);
    const { response, client } = await createOnPage(headers);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('location')).toBeNull();
    // The real secret: the API takes requests signed with it, for this user.
    const signed = await api('/test/deploy', { method: 'POST', headers: await hmacHeaders(client, 'POST', '/test/deploy') });
    expect(signed.status).toBe(200);
    expect(await signed.json()).toEqual({ message: 'success', item: { client_id: client.id, user_id: userId } });
    expect(await signedStatus({ id: client.id, secret: `${client.secret.slice(0, -1)}${client.secret.endsWith('A') ? 'B' : 'A'}` })).toBe(401);

    const list = await api('/clients', { headers });
    expect(list.status).toBe(200);
    const html = await list.text();
    expect(html).toMatch(new RegExp(`<tr id="client-${client.id}"><td>${client.id}</td><td>Enabled</td>`));
    expect(html).not.toContain(client.secret);
    expect(html).not.toContain('new-client-secret');
    expect(html).toContain(`action="/clients/${client.id}/renew"`);
    expect(html).toContain(`action="/clients/${client.id}/disable"`);
    // The API's view of the client has no secret either.
    expect(html).not.toContain(encodeURIComponent(client.secret));
  });

  it('the same create form sent twice makes one client and does not show its secret again', async () => {
    const headers = await signedIn(uniqueId('cl'));
    const fields = { request_key: crypto.randomUUID() };
    const first = await api('/clients', post(headers, fields));
    expect(first.status).toBe(200);
    const client = shownClient(await first.text());
    const again = await api('/clients', post(headers, fields));
    expect(again.status).toBe(303);
    expect(again.headers.get('location')).toBe('/clients');
    expect(again.headers.get('set-cookie')).toContain('stacker_notice=');
    expect(await again.text()).not.toContain(client.secret);
    const list = await (await api('/clients', { headers })).text();
    expect(list.match(/<tr id="client-\d+">/g)).toEqual([`<tr id="client-${client.id}">`]);
    const tampered = await api('/clients', post(headers, { request_key: 'not-a-uuid' }));
    expect(tampered.status).toBe(400);
  });

  it('shows the per-user limit as a message on the page, not an error', async () => {
    const headers = await signedIn(uniqueId('cl'));
    // wrangler.toml's [vars] (2), as the app reads it.
    const limit = Number((env as unknown as Record<string, unknown>).MAX_CLIENTS_NUMBER);
    expect(limit).toBeGreaterThan(0);
    for (let i = 0; i < limit; i++) await createOnPage(headers);
    const refused = await api('/clients', post(headers, { request_key: crypto.randomUUID() }));
    expect(refused.status).toBe(409);
    const html = await refused.text();
    expect(html).toContain(`Too many API clients: at most ${limit} per user`);
    expect(html).toContain('role="alert"');
    expect(html).not.toContain('new-client-secret');
    expect(html.match(/<tr id="client-\d+">/g)).toHaveLength(limit);
  });

  it('disable, enable and renew change the client; each new secret is shown once and the old one stops working', async () => {
    const headers = await signedIn(uniqueId('cl'));
    const { client } = await createOnPage(headers);

    const disabled = await api(`/clients/${client.id}/disable`, post(headers));
    expect(disabled.status).toBe(303);
    expect(disabled.headers.get('location')).toBe('/clients');
    expect(await signedStatus(client)).toBe(401);
    let list = await (await api('/clients', { headers })).text();
    expect(list).toMatch(new RegExp(`<tr id="client-${client.id}"><td>${client.id}</td><td>Disabled</td>`));
    expect(list).toContain(`action="/clients/${client.id}/enable"`);
    expect(list).not.toContain(`action="/clients/${client.id}/renew"`);
    // Disabling twice is refused with a page, not a 500.
    expect((await api(`/clients/${client.id}/disable`, post(headers))).status).toBe(409);
    expect((await api(`/clients/${client.id}/renew`, post(headers))).status).toBe(409);

    const enabledPage = await api(`/clients/${client.id}/enable`, post(headers));
    expect(enabledPage.status).toBe(200);
    const enabled = shownClient(await enabledPage.text());
    expect(enabled.id).toBe(client.id);
    expect(enabled.secret).not.toBe(client.secret);
    expect(await signedStatus(enabled)).toBe(200);
    expect(await signedStatus(client)).toBe(401);

    const renewedPage = await api(`/clients/${client.id}/renew`, post(headers));
    expect(renewedPage.status).toBe(200);
    expect(renewedPage.headers.get('cache-control')).toBe('no-store');
    const renewed = shownClient(await renewedPage.text());
    expect(renewed.id).toBe(client.id);
    expect(renewed.secret).not.toBe(enabled.secret);
    expect(await signedStatus(renewed)).toBe(200);
    expect(await signedStatus(enabled)).toBe(401);

    list = await (await api('/clients', { headers })).text();
    expect(list).toMatch(new RegExp(`<tr id="client-${client.id}"><td>${client.id}</td><td>Enabled</td>`));
    for (const secret of [client.secret, enabled.secret, renewed.secret]) expect(list).not.toContain(secret);
  });

  it('another user’s client is not found: its pages and forms answer 404 and change nothing', async () => {
    const owner = uniqueId('own');
    const client = await createApiClientFor(owner);
    const headers = await signedIn(uniqueId('other'));
    for (const action of ['disable', 'renew', 'enable']) {
      const response = await api(`/clients/${client.id}/${action}`, post(headers));
      expect(response.status, action).toBe(404);
      const html = await response.text();
      expect(html).toContain('API client not found');
      expect(html).not.toContain('new-client-secret');
    }
    expect((await api('/clients/not-a-number/disable', post(headers))).status).toBe(404);
    expect(await signedStatus(client)).toBe(200);
    const list = await (await api('/clients', { headers })).text();
    expect(list).toContain('No API clients yet.');
    expect(list).not.toContain(`client-${client.id}`);
  });
});

describe('dashboard: ratings', () => {
  it('the owner rates a product, sees it listed, edits it and deletes it', async () => {
    const userId = uniqueId('rt');
    const headers = await signedIn(userId);
    const page = await api('/ratings', { headers });
    expect(page.status).toBe(200);
    const empty = await page.text();
    expect(empty).toContain('No ratings yet.');
    expect(empty).toContain(`<option value="${PRODUCT}">`);
    for (const field of ['obj_id', 'category', 'rate', 'comment']) fieldOf(empty, field);
    expect(fieldOf(empty, 'category')).toContain('<option value="MemoryUsage">Memory usage</option>');

    const created = await api('/ratings', post(headers, validRating()));
    expect(created.status).toBe(303);
    expect(created.headers.get('location')).toBe('/ratings');
    const [rating] = await apiRatingsOf(userId);
    expect(rating).toMatchObject({ category: 'DeploymentSpeed', rate: 8, comment: 'Up in two minutes' });

    const list = await (await api('/ratings', { headers })).text();
    expect(list).toMatch(new RegExp(`<tr id="rating-${rating!.id}"><td>#${PRODUCT}</td><td>Deployment speed</td><td>8</td><td>Up in two minutes</td>`));
    expect(list).toContain(`href="/ratings/${rating!.id}/edit"`);
    expect(list).toMatch(new RegExp(`<form method="post" action="/ratings/${rating!.id}/delete" class="inline" data-confirm="[^"]+">`));

    const edit = await api(`/ratings/${rating!.id}/edit`, { headers });
    expect(edit.status).toBe(200);
    const editHtml = await edit.text();
    expect(fieldOf(editHtml, 'rate')).toContain('<option value="8" selected="">8</option>');
    expect(fieldOf(editHtml, 'comment')).toContain('>Up in two minutes</textarea>');

    const saved = await api(`/ratings/${rating!.id}`, post(headers, { rate: '3', comment: '' }));
    expect(saved.status).toBe(303);
    expect(await apiRatingsOf(userId)).toMatchObject([{ id: rating!.id, rate: 3, comment: null }]);

    // One visible rating per product and category: a second is a message on the form.
    const twice = await api('/ratings', post(headers, validRating({ rate: '5' })));
    expect(twice.status).toBe(409);
    expect(await twice.text()).toContain(`You have already rated product ${PRODUCT} in category DeploymentSpeed`);

    const deleted = await api(`/ratings/${rating!.id}/delete`, post(headers));
    expect(deleted.status).toBe(303);
    expect(await apiRatingsOf(userId)).toEqual([]);
    expect((await api(`/ratings/${rating!.id}/edit`, { headers })).status).toBe(404);
    expect(await (await api('/ratings', { headers })).text()).toContain('No ratings yet.');
  });

  it('bad input is a 400 with the message next to its field, and saves nothing', async () => {
    const userId = uniqueId('rt');
    const headers = await signedIn(userId);
    const cases: Array<[fields: Record<string, string>, field: string, message: string]> = [
      [validRating({ rate: '11' }), 'rate', 'must be at most 10'],
      [validRating({ rate: '-1' }), 'rate', 'must be at least 0'],
      [validRating({ rate: 'lots' }), 'rate', 'must be a whole number'],
      [validRating({ rate: '' }), 'rate', 'is required'],
      [validRating({ obj_id: '' }), 'obj_id', 'is required'],
      [validRating({ obj_id: '0' }), 'obj_id', 'must be a positive integer'],
      [validRating({ obj_id: String(MISSING_PRODUCT) }), 'obj_id', `No product with id ${MISSING_PRODUCT}`],
      [validRating({ category: 'Nope' }), 'category', 'must be one of Application, Cloud, Project, DeploymentSpeed, Documentation, Design, TechSupport, Price, MemoryUsage'],
      [validRating({ category: '' }), 'category', 'is required'],
      [validRating({ comment: 'x'.repeat(1001) }), 'comment', 'must be at most 1000 characters'],
    ];
    for (const [fields, field, message] of cases) {
      const response = await api('/ratings', post(headers, fields));
      const html = await response.text();
      expect(response.status, `${field}=${fields[field]?.slice(0, 20)}`).toBe(400);
      expectFieldError(html, field, message);
      expect(html).toContain('role="alert"');
      for (const other of ['obj_id', 'category', 'rate', 'comment'].filter((name) => name !== field)) {
        expect(fieldOf(html, other)).not.toContain('aria-invalid="true"');
      }
    }
    // What was typed is kept.
    const kept = await (await api('/ratings', post(headers, validRating({ rate: '11', comment: 'keep <this>' })))).text();
    expect(fieldOf(kept, 'comment')).toContain('>keep &lt;this&gt;</textarea>');
    expect(fieldOf(kept, 'category')).toContain('<option value="DeploymentSpeed" selected="">');
    expect(await apiRatingsOf(userId)).toEqual([]);

    // The edit form checks the same way.
    expect((await api('/ratings', post(headers, validRating()))).status).toBe(303);
    const [rating] = await apiRatingsOf(userId);
    const badEdit = await api(`/ratings/${rating!.id}`, post(headers, { rate: '42', comment: 'changed' }));
    expect(badEdit.status).toBe(400);
    expectFieldError(await badEdit.text(), 'rate', 'must be at most 10');
    const noRate = await api(`/ratings/${rating!.id}`, post(headers, { rate: '', comment: 'changed' }));
    expect(noRate.status).toBe(400);
    expectFieldError(await noRate.text(), 'rate', 'is required');
    expect(await apiRatingsOf(userId)).toMatchObject([{ rate: 8, comment: 'Up in two minutes' }]);
  });

  it('another user’s rating is not found: its edit page and forms answer 404 and change nothing', async () => {
    const owner = uniqueId('own');
    const created = await api('/rating', jsonRequest('POST', { obj_id: PRODUCT, category: 'Design', rate: 9, comment: 'mine' }, bearerFor('group_user', owner)));
    expect(created.status).toBe(201);
    const { id } = ((await created.json()) as { item: { id: number } }).item;
    const headers = await signedIn(uniqueId('other'));
    expect((await api(`/ratings/${id}/edit`, { headers })).status).toBe(404);
    expect((await api(`/ratings/${id}`, post(headers, { rate: '1', comment: 'yours now' }))).status).toBe(404);
    // A bad form for someone else's rating says nothing about it either.
    expect((await api(`/ratings/${id}`, post(headers, { rate: '99', comment: '' }))).status).toBe(404);
    expect((await api(`/ratings/${id}/delete`, post(headers))).status).toBe(404);
    expect((await api('/ratings/abc/edit', { headers })).status).toBe(404);
    const list = await (await api('/ratings', { headers })).text();
    expect(list).not.toContain(`rating-${id}`);
    expect(await apiRatingsOf(owner)).toMatchObject([{ id, category: 'Design', rate: 9, comment: 'mine' }]);
  });
});
