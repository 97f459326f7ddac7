import { sql } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import { api as rawApi, bearerFor, createApiClientFor, hmacHeaders, jsonRequest, uniqueId } from '../helpers/auth.ts';
import { withDatabase } from '../helpers/db.ts';

const CATEGORIES: Array<[api: string, db: string]> = [
  ['Application', 'application'],
  ['Cloud', 'cloud'],
  ['Project', 'project'],
  ['DeploymentSpeed', 'deploymentSpeed'],
  ['Documentation', 'documentation'],
  ['Design', 'design'],
  ['TechSupport', 'techSupport'],
  ['Price', 'price'],
  ['MemoryUsage', 'memoryUsage'],
];

const PUBLIC_KEYS = ['category', 'comment', 'id', 'obj_id', 'rate', 'user_id'];
const USER_KEYS = [...PUBLIC_KEYS, 'created_at', 'updated_at'].sort();
const ADMIN_KEYS = [...USER_KEYS, 'hidden'].sort();

interface RatingItem {
  id: number;
  user_id: string;
  obj_id: number;
  category: string;
  comment: string | null;
  rate: number | null;
  hidden?: boolean;
  created_at?: string;
  updated_at?: string;
}

interface ErrorBody {
  message: string;
  errors?: Array<{ path: string; message: string }>;
}

/** Every request of this file goes through here: no input may ever produce a 500. */
async function api(path: string, init?: RequestInit): Promise<Response> {
  const response = await rawApi(path, init);
  expect(response.status, `${init?.method ?? 'GET'} ${path}`).toBeLessThan(500);
  return response;
}

const user = () => uniqueId('rater');
const admin = () => bearerFor('group_admin', uniqueId('admin'));

async function body<T>(response: Response): Promise<T> {
  return (await response.json()) as T;
}

async function rate(userId: string, input: Record<string, unknown>): Promise<RatingItem> {
  const response = await api('/rating', jsonRequest('POST', { obj_id: 1, category: 'Application', rate: 7, ...input }, bearerFor('group_user', userId)));
  expect(response.status, JSON.stringify(input)).toBe(201);
  return (await body<{ item: RatingItem }>(response)).item;
}

async function adminGet(id: number): Promise<RatingItem> {
  const response = await api(`/admin/rating/${id}`, { headers: admin() });
  expect(response.status).toBe(200);
  return (await body<{ item: RatingItem }>(response)).item;
}

async function dbRows(userId: string) {
  return withDatabase(async (db) => {
    const result = await db.execute<{ id: number; obj_id: number; category: string; comment: string | null; rate: number; hidden: boolean; created_at: string; updated_at: string }>(
      sql`select id, obj_id, category::text as category, comment, rate, hidden, created_at, updated_at from rating where user_id = ${userId} order by id`,
    );
    return result.rows;
  });
}

async function errorPaths(response: Response): Promise<string[]> {
  return ((await body<ErrorBody>(response)).errors ?? []).map((error) => error.path).sort();
}

function expectFresh(timestamp: string | undefined) {
  expect(timestamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/);
  expect(Math.abs(Date.parse(timestamp!) - Date.now())).toBeLessThan(60_000);
}

const PRODUCT_2 = 1_900_000_000 + Math.floor(Math.random() * 100_000_000);

beforeAll(async () => {
  await withDatabase(async (db) => {
    // The access matrix hard-deletes /admin/rating/1 as an admin; make sure no rating here gets id 1.
    await db.execute(sql`select nextval(pg_get_serial_sequence('rating', 'id'))`);
    await db.execute(sql`insert into product (id, obj_id, obj_type) values (${PRODUCT_2}, ${PRODUCT_2}, 'Cloud') on conflict do nothing`);
  });
});

describe('POST /rating', () => {
  it('creates a rating of the caller, with real timestamps, visible to everyone', async () => {
    const userId = user();
    const response = await api('/rating', jsonRequest('POST', { obj_id: 1, category: 'Design', comment: 'neat', rate: 9 }, bearerFor('group_user', userId)));
    expect(response.status).toBe(201);
    const created = await body<{ message: string; item: RatingItem }>(response);
    expect(created.message).toBe('Created');
    expect(Object.keys(created.item).sort()).toEqual(USER_KEYS);
    expect(created.item).toMatchObject({ user_id: userId, obj_id: 1, category: 'Design', comment: 'neat', rate: 9 });
    expectFresh(created.item.created_at);
    expectFresh(created.item.updated_at);

    const [row] = await dbRows(userId);
    expect(row).toMatchObject({ id: created.item.id, obj_id: 1, category: 'design', comment: 'neat', rate: 9, hidden: false });
    expect(new Date(row!.created_at).toISOString()).toBe(created.item.created_at);

    const anonymous = await api(`/rating/${created.item.id}`);
    expect(anonymous.status).toBe(200);
    expect((await body<{ item: RatingItem }>(anonymous)).item).toEqual({ id: created.item.id, user_id: userId, obj_id: 1, category: 'Design', comment: 'neat', rate: 9 });
  });

  it('takes the author from the credentials, never from the body', async () => {
    const userId = user();
    const item = await rate(userId, { user_id: 'someone_else', hidden: true, id: 5 });
    expect(item.user_id).toBe(userId);
    expect((await adminGet(item.id)).hidden).toBe(false);
    expect(await dbRows('someone_else')).toEqual([]);
  });

  it('a comment is optional and may be null', async () => {
    expect((await rate(user(), {})).comment).toBeNull();
    expect((await rate(user(), { comment: null })).comment).toBeNull();
  });

  it.each(CATEGORIES)('category %s round-trips (stored as %s)', async (name, label) => {
    const userId = user();
    const item = await rate(userId, { category: name });
    expect(item.category).toBe(name);
    expect((await dbRows(userId))[0]?.category).toBe(label);
    const read = await body<{ item: RatingItem }>(await api(`/rating/${item.id}`));
    expect(read.item.category).toBe(name);
    const listed = await body<{ list: RatingItem[] }>(await api(`/rating?user_id=${userId}&category=${name}`));
    expect(listed.list.map((entry) => [entry.id, entry.category])).toEqual([[item.id, name]]);
    expect((await adminGet(item.id)).category).toBe(name);
  });

  it('accepts category names in any letter case and answers with the listed name', async () => {
    const userId = user();
    const spellings: Array<[string, string, string]> = [
      ['deploymentspeed', 'DeploymentSpeed', 'deploymentSpeed'],
      ['TECHSUPPORT', 'TechSupport', 'techSupport'],
      ['memoryUsage', 'MemoryUsage', 'memoryUsage'],
      ['application', 'Application', 'application'],
    ];
    for (const [input, answered] of spellings) {
      expect((await rate(userId, { category: input })).category).toBe(answered);
    }
    expect((await dbRows(userId)).map((row) => row.category)).toEqual(spellings.map(([, , label]) => label));
  });

  it('accepts rate 0 and 10, and a comment of 1000 characters (emoji count as one)', async () => {
    expect((await rate(user(), { rate: 0 })).rate).toBe(0);
    expect((await rate(user(), { rate: 10 })).rate).toBe(10);
    const long = '😀'.repeat(1000);
    expect((await rate(user(), { comment: long })).comment).toBe(long);
  });

  it.each<[string, unknown, string[]]>([
    ['an empty body', {}, ['body.category', 'body.obj_id', 'body.rate']],
    ['obj_id as a string', { obj_id: '1', category: 'Cloud', rate: 5 }, ['body.obj_id']],
    ['a fractional obj_id', { obj_id: 1.5, category: 'Cloud', rate: 5 }, ['body.obj_id']],
    ['obj_id 0', { obj_id: 0, category: 'Cloud', rate: 5 }, ['body.obj_id']],
    ['obj_id beyond 32 bits', { obj_id: 2 ** 31, category: 'Cloud', rate: 5 }, ['body.obj_id']],
    ['an unknown category', { obj_id: 1, category: 'Speed', rate: 5 }, ['body.category']],
    ['an empty category', { obj_id: 1, category: '', rate: 5 }, ['body.category']],
    ['a numeric category', { obj_id: 1, category: 3, rate: 5 }, ['body.category']],
    ['rate 11', { obj_id: 1, category: 'Cloud', rate: 11 }, ['body.rate']],
    ['rate -1', { obj_id: 1, category: 'Cloud', rate: -1 }, ['body.rate']],
    ['a fractional rate', { obj_id: 1, category: 'Cloud', rate: 5.5 }, ['body.rate']],
    ['rate as a string', { obj_id: 1, category: 'Cloud', rate: '5' }, ['body.rate']],
    ['a null rate', { obj_id: 1, category: 'Cloud', rate: null }, ['body.rate']],
    ['a comment of 1001 characters', { obj_id: 1, category: 'Cloud', rate: 5, comment: 'x'.repeat(1001) }, ['body.comment']],
    ['a comment with a NUL character', { obj_id: 1, category: 'Cloud', rate: 5, comment: 'a\u0000b' }, ['body.comment']],
    ['a numeric comment', { obj_id: 1, category: 'Cloud', rate: 5, comment: 42 }, ['body.comment']],
    ['an array body', [], ['body']],
  ])('refuses %s with 400 naming the field, and stores nothing', async (_name, input, paths) => {
    const userId = user();
    const response = await api('/rating', jsonRequest('POST', input, bearerFor('group_user', userId)));
    expect(response.status).toBe(400);
    expect(await errorPaths(response)).toEqual(paths);
    expect(await dbRows(userId)).toEqual([]);
  });

  it('a comment with a lone surrogate escape is stored, not a 500', async () => {
    const userId = user();
    const response = await api('/rating', {
      method: 'POST',
      headers: { ...bearerFor('group_user', userId), 'content-type': 'application/json' },
      body: '{"obj_id":1,"category":"Cloud","rate":5,"comment":"a\\ud800b"}',
    });
    expect(response.status).toBe(201);
    expect((await dbRows(userId))[0]?.comment).toMatch(/^a.b$/u);
  });

  it('refuses malformed JSON and a non-JSON body with a JSON 4xx', async () => {
    const headers = bearerFor('group_user', user());
    const malformed = await api('/rating', { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: '{"obj_id": 1,' });
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toEqual({ message: 'Malformed JSON in request body' });
    const text = await api('/rating', { method: 'POST', headers: { ...headers, 'content-type': 'text/plain' }, body: 'rate=5' });
    expect([400, 415]).toContain(text.status);
    expect(text.headers.get('content-type')).toMatch(/^application\/json/);
  });

  it('refuses a product that does not exist with 400 naming obj_id', async () => {
    const userId = user();
    const response = await api('/rating', jsonRequest('POST', { obj_id: 2_000_000_001, category: 'Cloud', rate: 5 }, bearerFor('group_user', userId)));
    expect(response.status).toBe(400);
    const error = await body<ErrorBody>(response);
    expect(error.errors).toEqual([{ path: 'body.obj_id', message: 'No product with id 2000000001' }]);
    expect(await dbRows(userId)).toEqual([]);
  });

  it('one rating per user, product and category: a second is 409, others are fine', async () => {
    const userId = user();
    const first = await rate(userId, { category: 'Price', rate: 3 });
    for (const category of ['Price', 'price', 'PRICE']) {
      const again = await api('/rating', jsonRequest('POST', { obj_id: 1, category, rate: 8 }, bearerFor('group_user', userId)));
      expect(again.status, category).toBe(409);
      expect(await again.json()).toEqual({ message: 'You have already rated product 1 in category Price' });
    }
    await rate(userId, { category: 'Cloud' });
    await rate(userId, { category: 'Price', obj_id: PRODUCT_2 });
    await rate(user(), { category: 'Price' });
    const rows = await dbRows(userId);
    expect(rows.map((row) => [row.obj_id, row.category])).toEqual([[1, 'price'], [1, 'cloud'], [PRODUCT_2, 'price']]);
    expect(rows[0]).toMatchObject({ id: first.id, rate: 3 });
  });

  it('holds the one-rating rule under concurrent posts', async () => {
    const userId = user();
    const headers = bearerFor('group_user', userId);
    await (await api('/whoami', { headers })).body?.cancel(); // the token is introspected once, so the posts start together
    const categories = ['Documentation', 'Design', 'Price', 'Cloud'];
    for (const category of categories) {
      const statuses = await Promise.all(
        Array.from({ length: 10 }, (_, i) => api('/rating', jsonRequest('POST', { obj_id: 1, category, rate: i }, headers)).then((r) => r.status)),
      );
      expect(statuses.filter((status) => status === 201), category).toHaveLength(1);
      expect(statuses.filter((status) => status === 409), category).toHaveLength(9);
    }
    expect(await dbRows(userId)).toHaveLength(categories.length);
  });

  it('a rating its author deleted does not block a new one; both stay for admins', async () => {
    const userId = user();
    const headers = bearerFor('group_user', userId);
    const old = await rate(userId, { category: 'Cloud', rate: 2, comment: 'old' });
    expect((await api(`/rating/${old.id}`, { method: 'DELETE', headers })).status).toBe(200);
    const fresh = await rate(userId, { category: 'Cloud', rate: 9, comment: 'new' });
    expect(fresh.id).not.toBe(old.id);

    const all = await body<{ list: RatingItem[] }>(await api(`/admin/rating?user_id=${userId}`, { headers: admin() }));
    expect(all.list.map((entry) => [entry.id, entry.hidden, entry.comment])).toEqual([
      [fresh.id, false, 'new'],
      [old.id, true, 'old'],
    ]);
    // Showing the old one again would give the author two visible ratings of one product and category.
    const unhide = await api(`/admin/rating/${old.id}`, jsonRequest('PUT', { hidden: false }, admin()));
    expect(unhide.status).toBe(409);
    expect((await adminGet(old.id)).hidden).toBe(true);
  });

  it('is for signed-in users: anonymous is 401 and stores nothing', async () => {
    const response = await api('/rating', jsonRequest('POST', { obj_id: 1, category: 'Cloud', rate: 5 }));
    expect(response.status).toBe(401);
  });

  it('a user id longer than the column is refused with 422, not a 500', async () => {
    const response = await api('/rating', jsonRequest('POST', { obj_id: 1, category: 'Cloud', rate: 5 }, bearerFor('group_user', 'u'.repeat(60))));
    expect(response.status).toBe(422);
    expect(await dbRows('u'.repeat(60))).toEqual([]);
  });
});

describe('GET /rating and GET /rating/{id}: each role its own view', () => {
  it('anonymous and API clients get the public view; users add timestamps; admins add hidden', async () => {
    const userId = user();
    const created = await rate(userId, { category: 'Project', comment: 'views', rate: 4 });
    const apiClient = await createApiClientFor();

    const anonymous = (await body<{ item: RatingItem }>(await api(`/rating/${created.id}`))).item;
    expect(Object.keys(anonymous).sort()).toEqual(PUBLIC_KEYS);
    const client = (await body<{ item: RatingItem }>(await api(`/rating/${created.id}`, { headers: await hmacHeaders(apiClient, 'GET', `/rating/${created.id}`) }))).item;
    expect(client).toEqual(anonymous);

    for (const headers of [bearerFor('group_user', userId), bearerFor('group_user', user()), admin()]) {
      const seen = (await body<{ item: RatingItem }>(await api(`/rating/${created.id}`, { headers }))).item;
      expect(Object.keys(seen).sort()).toEqual(USER_KEYS);
      expect(seen).toEqual({ ...anonymous, created_at: created.created_at, updated_at: created.updated_at });
    }

    const asAdmin = await adminGet(created.id);
    expect(Object.keys(asAdmin).sort()).toEqual(ADMIN_KEYS);
    expect(asAdmin).toEqual({ ...anonymous, hidden: false, created_at: created.created_at, updated_at: created.updated_at });

    const anonymousList = await body<{ message: string; list: RatingItem[] }>(await api(`/rating?user_id=${userId}`));
    expect(anonymousList).toEqual({ message: 'OK', list: [anonymous] });
    const userList = await body<{ list: RatingItem[] }>(await api(`/rating?user_id=${userId}`, { headers: bearerFor('group_user', user()) }));
    expect(userList.list.map((entry) => Object.keys(entry).sort())).toEqual([USER_KEYS]);
    const adminList = await body<{ list: RatingItem[] }>(await api(`/admin/rating?user_id=${userId}`, { headers: admin() }));
    expect(adminList.list).toEqual([asAdmin]);
  });

  it('lists visible ratings newest first, and filters by product, category and user', async () => {
    const userId = user();
    const a = await rate(userId, { category: 'Cloud' });
    const b = await rate(userId, { category: 'Design', obj_id: PRODUCT_2 });
    const c = await rate(userId, { category: 'Price' });
    const hidden = await rate(userId, { category: 'Project' });
    await api(`/rating/${hidden.id}`, { method: 'DELETE', headers: bearerFor('group_user', userId) });

    const ids = async (query: string) => (await body<{ list: RatingItem[] }>(await api(`/rating?${query}`))).list.map((entry) => entry.id);
    expect(await ids(`user_id=${userId}`)).toEqual([c.id, b.id, a.id]);
    expect(await ids(`user_id=${userId}&obj_id=${PRODUCT_2}`)).toEqual([b.id]);
    expect(await ids(`user_id=${userId}&category=price`)).toEqual([c.id]);
    expect(await ids(`user_id=${userId}&category=Project`)).toEqual([]);
    expect(await ids(`user_id=${userId}&limit=2`)).toEqual([c.id, b.id]);
    expect(await ids(`user_id=${userId}&limit=2&offset=2`)).toEqual([a.id]);

    const everything = await ids('limit=1000');
    expect(everything).not.toContain(hidden.id);
    expect(everything).toEqual([...everything].sort((x, y) => y - x));
  });

  it.each<[string, string]>([
    ['limit=0', 'query.limit'],
    ['limit=1001', 'query.limit'],
    ['limit=abc', 'query.limit'],
    ['offset=-1', 'query.offset'],
    ['obj_id=0', 'query.obj_id'],
    ['obj_id=x', 'query.obj_id'],
    ['category=Nope', 'query.category'],
    [`user_id=${'u'.repeat(51)}`, 'query.user_id'],
  ])('a bad query %s is 400 naming %s', async (query, path) => {
    for (const [route, headers] of [['/rating', {}], ['/admin/rating', admin()]] as const) {
      const response = await api(`${route}?${query}`, { headers });
      expect(response.status, route).toBe(400);
      expect(await errorPaths(response)).toEqual([path]);
    }
  });

  it('a missing or hidden rating is 404 on the public routes, even for its author', async () => {
    const userId = user();
    const created = await rate(userId, {});
    await api(`/rating/${created.id}`, { method: 'DELETE', headers: bearerFor('group_user', userId) });
    for (const headers of [{}, bearerFor('group_user', userId), admin()]) {
      const response = await api(`/rating/${created.id}`, { headers });
      expect(response.status).toBe(404);
      expect(await response.json()).toEqual({ message: 'Rating not found' });
    }
    expect((await api('/rating/2147483646')).status).toBe(404);
  });

  it('a bad id is 400 naming the path parameter on every rating route', async () => {
    const headers = admin();
    const routes: Array<[string, string, unknown?]> = [
      ['GET', '/rating/'],
      ['PUT', '/rating/', { rate: 1 }],
      ['DELETE', '/rating/'],
      ['GET', '/admin/rating/'],
      ['PUT', '/admin/rating/', { rate: 1 }],
      ['DELETE', '/admin/rating/'],
    ];
    for (const [method, prefix, payload] of routes) {
      for (const id of ['abc', '0', '-1', '99999999999', '1.5']) {
        const init = payload ? jsonRequest(method, payload, headers) : { method, headers };
        const response = await api(`${prefix}${id}`, init);
        expect(response.status, `${method} ${prefix}${id}`).toBe(400);
        expect(await errorPaths(response)).toEqual(['path.id']);
      }
    }
  });
});

describe('PUT /rating/{id} and DELETE /rating/{id} (the author)', () => {
  it('changes the given fields only and answers fresh timestamps', async () => {
    const userId = user();
    const headers = bearerFor('group_user', userId);
    const created = await rate(userId, { comment: 'first', rate: 5 });

    const response = await api(`/rating/${created.id}`, jsonRequest('PUT', { rate: 8 }, headers));
    expect(response.status).toBe(200);
    const updated = (await body<{ message: string; item: RatingItem }>(response)).item;
    expect(updated).toMatchObject({ id: created.id, rate: 8, comment: 'first', category: 'Application', created_at: created.created_at });
    expect(Date.parse(updated.updated_at!)).toBeGreaterThan(Date.parse(created.updated_at!));
    const [row] = await dbRows(userId);
    expect(new Date(row!.updated_at).toISOString()).toBe(updated.updated_at);
    expect(row).toMatchObject({ rate: 8, comment: 'first' });

    const commented = (await body<{ item: RatingItem }>(await api(`/rating/${created.id}`, jsonRequest('PUT', { comment: 'second' }, headers)))).item;
    expect(commented).toMatchObject({ rate: 8, comment: 'second' });
    expect(Date.parse(commented.updated_at!)).toBeGreaterThan(Date.parse(updated.updated_at!));

    const cleared = (await body<{ item: RatingItem }>(await api(`/rating/${created.id}`, jsonRequest('PUT', { comment: null }, headers)))).item;
    expect(cleared.comment).toBeNull();
    expect((await body<{ item: RatingItem }>(await api(`/rating/${created.id}`))).item).toMatchObject({ rate: 8, comment: null });
  });

  it.each<[string, unknown, string[]]>([
    ['an empty body', {}, ['body']],
    ['rate 11', { rate: 11 }, ['body.rate']],
    ['rate as a string', { rate: '3' }, ['body.rate']],
    ['a comment of 1001 characters', { comment: 'y'.repeat(1001) }, ['body.comment']],
    ['only a field users cannot set', { hidden: true }, ['body']],
  ])('refuses %s with 400 and changes nothing', async (_name, input, paths) => {
    const userId = user();
    const created = await rate(userId, { comment: 'keep', rate: 6 });
    const response = await api(`/rating/${created.id}`, jsonRequest('PUT', input, bearerFor('group_user', userId)));
    expect(response.status).toBe(400);
    expect(await errorPaths(response)).toEqual(paths);
    expect(await adminGet(created.id)).toMatchObject({ comment: 'keep', rate: 6, hidden: false, updated_at: created.updated_at });
  });

  it('another user’s rating is 404 on edit and delete, and nothing changes', async () => {
    const ownerId = user();
    const created = await rate(ownerId, { comment: 'mine', rate: 6 });
    for (const headers of [bearerFor('group_user', user()), bearerFor('user', user()), admin()]) {
      const edit = await api(`/rating/${created.id}`, jsonRequest('PUT', { rate: 0, comment: 'hacked' }, headers));
      expect(edit.status).toBe(404);
      expect(await edit.json()).toEqual({ message: 'Rating not found' });
      const remove = await api(`/rating/${created.id}`, { method: 'DELETE', headers });
      expect(remove.status).toBe(404);
    }
    expect(await adminGet(created.id)).toMatchObject({ comment: 'mine', rate: 6, hidden: false, updated_at: created.updated_at });
    expect((await api(`/rating/${created.id}`)).status).toBe(200);
  });

  it('delete hides the rating: gone for the public and its author, kept for admins', async () => {
    const userId = user();
    const headers = bearerFor('group_user', userId);
    const created = await rate(userId, { comment: 'bye' });
    const response = await api(`/rating/${created.id}`, { method: 'DELETE', headers });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ message: 'Deleted' });

    expect((await dbRows(userId))[0]).toMatchObject({ id: created.id, hidden: true, comment: 'bye' });
    expect((await api(`/rating/${created.id}`, { method: 'DELETE', headers })).status).toBe(404);
    expect((await api(`/rating/${created.id}`, jsonRequest('PUT', { rate: 1 }, headers))).status).toBe(404);
    const seen = await adminGet(created.id);
    expect(seen).toMatchObject({ hidden: true, comment: 'bye', rate: 7 });
    expect(Date.parse(seen.updated_at!)).toBeGreaterThan(Date.parse(created.updated_at!));
  });

  it('unknown ids are 404', async () => {
    const headers = bearerFor('group_user', user());
    expect((await api('/rating/2147483646', jsonRequest('PUT', { rate: 1 }, headers))).status).toBe(404);
    expect((await api('/rating/2147483646', { method: 'DELETE', headers })).status).toBe(404);
  });
});

describe('/admin/rating', () => {
  it('an admin edits, hides and shows again any rating, with fresh timestamps', async () => {
    const userId = user();
    const created = await rate(userId, { comment: 'rude', rate: 1 });

    const hide = await api(`/admin/rating/${created.id}`, jsonRequest('PUT', { hidden: true, comment: '[removed]' }, admin()));
    expect(hide.status).toBe(200);
    const hidden = (await body<{ item: RatingItem }>(hide)).item;
    expect(Object.keys(hidden).sort()).toEqual(ADMIN_KEYS);
    expect(hidden).toMatchObject({ id: created.id, user_id: userId, hidden: true, comment: '[removed]', rate: 1, created_at: created.created_at });
    expect(Date.parse(hidden.updated_at!)).toBeGreaterThan(Date.parse(created.updated_at!));
    expect((await api(`/rating/${created.id}`)).status).toBe(404);
    expect((await dbRows(userId))[0]).toMatchObject({ hidden: true, comment: '[removed]' });

    const show = (await body<{ item: RatingItem }>(await api(`/admin/rating/${created.id}`, jsonRequest('PUT', { hidden: false, rate: 2 }, admin())))).item;
    expect(show).toMatchObject({ hidden: false, rate: 2, comment: '[removed]' });
    expect((await body<{ item: RatingItem }>(await api(`/rating/${created.id}`))).item.rate).toBe(2);
  });

  it.each<[string, unknown, string[]]>([
    ['an empty body', {}, ['body']],
    ['hidden as a string', { hidden: 'yes' }, ['body.hidden']],
    ['rate 11', { rate: 11 }, ['body.rate']],
    ['a comment of 1001 characters', { comment: 'z'.repeat(1001) }, ['body.comment']],
  ])('refuses %s with 400 and changes nothing', async (_name, input, paths) => {
    const created = await rate(user(), { comment: 'same', rate: 4 });
    const response = await api(`/admin/rating/${created.id}`, jsonRequest('PUT', input, admin()));
    expect(response.status).toBe(400);
    expect(await errorPaths(response)).toEqual(paths);
    expect(await adminGet(created.id)).toMatchObject({ comment: 'same', rate: 4, hidden: false, updated_at: created.updated_at });
  });

  it('an admin deletes a rating for good', async () => {
    const userId = user();
    const created = await rate(userId, {});
    const response = await api(`/admin/rating/${created.id}`, { method: 'DELETE', headers: admin() });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ message: 'Deleted' });
    expect(await dbRows(userId)).toEqual([]);
    expect((await api(`/admin/rating/${created.id}`, { headers: admin() })).status).toBe(404);
    expect((await api(`/admin/rating/${created.id}`, { method: 'DELETE', headers: admin() })).status).toBe(404);
    // The slot is free again.
    await rate(userId, {});
  });

  it('unknown ids are 404', async () => {
    expect((await api('/admin/rating/2147483646', { headers: admin() })).status).toBe(404);
    expect((await api('/admin/rating/2147483646', jsonRequest('PUT', { rate: 1 }, admin()))).status).toBe(404);
    expect((await api('/admin/rating/2147483646', { method: 'DELETE', headers: admin() })).status).toBe(404);
  });

  it('plain users are refused with 403 and change nothing', async () => {
    const userId = user();
    const created = await rate(userId, { rate: 5 });
    const headers = bearerFor('group_user', userId);
    expect((await api('/admin/rating', { headers })).status).toBe(403);
    expect((await api(`/admin/rating/${created.id}`, { headers })).status).toBe(403);
    expect((await api(`/admin/rating/${created.id}`, jsonRequest('PUT', { rate: 10, hidden: true }, headers))).status).toBe(403);
    expect((await api(`/admin/rating/${created.id}`, { method: 'DELETE', headers })).status).toBe(403);
    expect(await adminGet(created.id)).toMatchObject({ rate: 5, hidden: false });
  });
});
