import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { api as rawApi, bearerFor, createApiClientFor, hmacHeaders, jsonRequest, uniqueId } from '../helpers/auth.ts';
import { withDatabase } from '../helpers/db.ts';

interface AgreementItem {
  id: number;
  name: string;
  text: string;
  created_at: string;
  updated_at: string;
}

interface AcceptanceItem {
  id: number;
  agrt_id: number;
  user_id: string;
  created_at: string;
  updated_at: string;
}

interface ErrorBody {
  message: string;
  errors?: Array<{ path: string; message: string }>;
}

const AGREEMENT_KEYS = ['created_at', 'id', 'name', 'text', 'updated_at'];
const ACCEPTANCE_KEYS = ['agrt_id', 'created_at', 'id', 'updated_at', 'user_id'];
const UNKNOWN_ID = 2_147_483_646;

/** Every request of this file goes through here: no input may ever produce a 500. */
async function api(path: string, init?: RequestInit): Promise<Response> {
  const response = await rawApi(path, init);
  expect(response.status, `${init?.method ?? 'GET'} ${path}`).toBeLessThan(500);
  return response;
}

const admin = () => bearerFor('group_admin', uniqueId('admin'));
const userHeaders = (id: string) => bearerFor('group_user', id);

async function body<T>(response: Response): Promise<T> {
  return (await response.json()) as T;
}

async function errorPaths(response: Response): Promise<string[]> {
  return ((await body<ErrorBody>(response)).errors ?? []).map((error) => error.path).sort();
}

function expectFresh(timestamp: string) {
  expect(timestamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/);
  expect(Math.abs(Date.parse(timestamp) - Date.now())).toBeLessThan(60_000);
}

async function publish(name = uniqueId('Terms '), text = 'You agree.'): Promise<AgreementItem> {
  const response = await api('/admin/agreement', jsonRequest('POST', { name, text }, admin()));
  expect(response.status).toBe(201);
  return (await body<{ item: AgreementItem }>(response)).item;
}

async function agreementRow(id: number) {
  return withDatabase(async (db) => {
    const result = await db.execute<{ name: string; text: string; created_at: string; updated_at: string }>(
      sql`select name, text, created_at, updated_at from agreement where id = ${id}`,
    );
    return result.rows[0];
  });
}

async function agreementsNamed(name: string): Promise<number> {
  return withDatabase(async (db) => {
    const result = await db.execute<{ n: number }>(sql`select count(*)::int as n from agreement where name = ${name}`);
    return result.rows[0]!.n;
  });
}

async function agreementCount(): Promise<number> {
  return withDatabase(async (db) => {
    const result = await db.execute<{ n: number }>(sql`select count(*)::int as n from agreement`);
    return result.rows[0]!.n;
  });
}

async function acceptances(userId: string) {
  return withDatabase(async (db) => {
    const result = await db.execute<{ id: number; agrt_id: number }>(sql`select id, agrt_id from user_agreement where user_id = ${userId} order by id`);
    return result.rows;
  });
}

describe('POST /admin/agreement', () => {
  it('publishes an agreement with real timestamps', async () => {
    const name = uniqueId('Privacy ');
    const response = await api('/admin/agreement', jsonRequest('POST', { name, text: 'We keep your data safe.' }, admin()));
    expect(response.status).toBe(201);
    const created = await body<{ message: string; item: AgreementItem }>(response);
    expect(created.message).toBe('Created');
    expect(Object.keys(created.item).sort()).toEqual(AGREEMENT_KEYS);
    expect(created.item).toMatchObject({ name, text: 'We keep your data safe.' });
    expectFresh(created.item.created_at);
    expectFresh(created.item.updated_at);

    const row = await agreementRow(created.item.id);
    expect(row).toMatchObject({ name, text: 'We keep your data safe.' });
    expect(new Date(row!.created_at).toISOString()).toBe(created.item.created_at);
  });

  it('accepts a name of 100 and a text of 5000 characters', async () => {
    const name = `${uniqueId('n')}${'é'.repeat(100 - 13)}`;
    const created = await publish(name, '✓'.repeat(5000));
    expect((await agreementRow(created.id))).toMatchObject({ name, text: '✓'.repeat(5000) });
  });

  it.each<[string, Record<string, unknown>, string[]]>([
    ['an empty body', {}, ['body.name', 'body.text']],
    ['a missing text', { name: 'X' }, ['body.text']],
    ['an empty name', { name: '', text: 't' }, ['body.name']],
    ['a blank name', { name: '   ', text: 't' }, ['body.name']],
    ['an empty text', { name: 'X', text: '' }, ['body.text']],
    ['a numeric name', { name: 12, text: 't' }, ['body.name']],
    ['a name of 101 characters', { name: 'n'.repeat(101), text: 't' }, ['body.name']],
    ['a text of 5001 characters', { name: 'X', text: 't'.repeat(5001) }, ['body.text']],
    ['a NUL character in the text', { name: 'X', text: 'a\u0000b' }, ['body.text']],
  ])('refuses %s with 400 naming the field, and stores nothing', async (_name, input, paths) => {
    const before = await agreementCount();
    const response = await api('/admin/agreement', jsonRequest('POST', input, admin()));
    expect(response.status).toBe(400);
    expect(await errorPaths(response)).toEqual(paths);
    expect(await agreementCount()).toBe(before);
  });

  it('plain users are refused with 403 and nothing is stored', async () => {
    const name = uniqueId('Sneaky ');
    const response = await api('/admin/agreement', jsonRequest('POST', { name, text: 't' }, userHeaders(uniqueId('u'))));
    expect(response.status).toBe(403);
    expect(await agreementsNamed(name)).toBe(0);
  });
});

describe('PUT /admin/agreement/{id}', () => {
  it('replaces the text and keeps the name when none is given (the text never lands in the name)', async () => {
    const created = await publish('Original name', 'Original text');
    const response = await api(`/admin/agreement/${created.id}`, jsonRequest('PUT', { text: 'Second text' }, admin()));
    expect(response.status).toBe(200);
    const updated = (await body<{ message: string; item: AgreementItem }>(response)).item;
    expect(updated).toMatchObject({ id: created.id, name: 'Original name', text: 'Second text', created_at: created.created_at });
    expect(Date.parse(updated.updated_at)).toBeGreaterThan(Date.parse(created.updated_at));

    const row = await agreementRow(created.id);
    expect(row).toMatchObject({ name: 'Original name', text: 'Second text' });
    expect(new Date(row!.updated_at).toISOString()).toBe(updated.updated_at);
  });

  it('replaces name and text when both are given', async () => {
    const created = await publish('Old', 'Old text');
    const updated = (await body<{ item: AgreementItem }>(await api(`/admin/agreement/${created.id}`, jsonRequest('PUT', { name: 'New', text: 'New text' }, admin())))).item;
    expect(updated).toMatchObject({ name: 'New', text: 'New text' });
    const read = (await body<{ item: AgreementItem }>(await api(`/admin/agreement/${created.id}`, { headers: admin() }))).item;
    expect(read).toEqual(updated);
  });

  it.each<[string, Record<string, unknown>, string[]]>([
    ['an empty body', {}, ['body.text']],
    ['a name without a text', { name: 'Only name' }, ['body.text']],
    ['a text of 5001 characters', { text: 't'.repeat(5001) }, ['body.text']],
    ['a name of 101 characters', { name: 'n'.repeat(101), text: 'ok' }, ['body.name']],
    ['a numeric text', { text: 5 }, ['body.text']],
  ])('refuses %s with 400 and changes nothing', async (_name, input, paths) => {
    const created = await publish('Stable', 'Stable text');
    const response = await api(`/admin/agreement/${created.id}`, jsonRequest('PUT', input, admin()));
    expect(response.status).toBe(400);
    expect(await errorPaths(response)).toEqual(paths);
    const row = await agreementRow(created.id);
    expect(row).toMatchObject({ name: 'Stable', text: 'Stable text' });
    expect(new Date(row!.updated_at).toISOString()).toBe(created.updated_at);
  });

  it('an unknown id is 404; a bad one is 400 naming the path parameter', async () => {
    const unknown = await api(`/admin/agreement/${UNKNOWN_ID}`, jsonRequest('PUT', { text: 'x' }, admin()));
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ message: `Agreement ${UNKNOWN_ID} not found` });
    for (const id of ['abc', '0', '-1', '99999999999']) {
      const response = await api(`/admin/agreement/${id}`, jsonRequest('PUT', { text: 'x' }, admin()));
      expect(response.status, id).toBe(400);
      expect(await errorPaths(response)).toEqual(['path.id']);
    }
  });

  it('plain users are refused with 403 and nothing changes', async () => {
    const created = await publish('Fixed', 'Fixed text');
    const response = await api(`/admin/agreement/${created.id}`, jsonRequest('PUT', { name: 'Mine', text: 'Mine' }, userHeaders(uniqueId('u'))));
    expect(response.status).toBe(403);
    expect(await agreementRow(created.id)).toMatchObject({ name: 'Fixed', text: 'Fixed text' });
  });
});

describe('GET /agreement/{id} and GET /admin/agreement/{id}', () => {
  it('users, API clients and admins read an agreement', async () => {
    const created = await publish();
    const apiClient = await createApiClientFor();
    const reads: Array<[string, Record<string, string>]> = [
      [`/agreement/${created.id}`, userHeaders(uniqueId('u'))],
      [`/agreement/${created.id}`, bearerFor('user', uniqueId('u'))],
      [`/agreement/${created.id}`, await hmacHeaders(apiClient, 'GET', `/agreement/${created.id}`)],
      [`/agreement/${created.id}`, admin()],
      [`/admin/agreement/${created.id}`, admin()],
    ];
    for (const [path, headers] of reads) {
      const response = await api(path, { headers });
      expect(response.status, path).toBe(200);
      expect(await response.json()).toEqual({ message: 'OK', item: created });
    }
  });

  it('anonymous callers are 401', async () => {
    const created = await publish();
    expect((await api(`/agreement/${created.id}`)).status).toBe(401);
  });

  it('an unknown id is 404; a bad one is 400 naming the path parameter', async () => {
    for (const prefix of ['/agreement/', '/admin/agreement/']) {
      const unknown = await api(`${prefix}${UNKNOWN_ID}`, { headers: admin() });
      expect(unknown.status, prefix).toBe(404);
      expect(await unknown.json()).toEqual({ message: `Agreement ${UNKNOWN_ID} not found` });
      for (const id of ['abc', '0', '1.5', '99999999999']) {
        const response = await api(`${prefix}${id}`, { headers: admin() });
        expect(response.status, `${prefix}${id}`).toBe(400);
        expect(await errorPaths(response)).toEqual(['path.id']);
      }
    }
  });
});

describe('POST /agreement and GET /agreement/accepted/{id}', () => {
  it('a user accepts an agreement once and can see that they did', async () => {
    const created = await publish();
    const userId = uniqueId('signer');
    const headers = userHeaders(userId);

    const before = await api(`/agreement/accepted/${created.id}`, { headers });
    expect(before.status).toBe(404);
    expect(await before.json()).toEqual({ message: `You have not accepted agreement ${created.id}` });

    const response = await api('/agreement', jsonRequest('POST', { agrt_id: created.id, user_id: 'someone_else' }, headers));
    expect(response.status).toBe(201);
    const accepted = await body<{ message: string; item: AcceptanceItem }>(response);
    expect(accepted.message).toBe('Accepted');
    expect(Object.keys(accepted.item).sort()).toEqual(ACCEPTANCE_KEYS);
    expect(accepted.item).toMatchObject({ agrt_id: created.id, user_id: userId });
    expectFresh(accepted.item.created_at);
    expect(await acceptances(userId)).toEqual([{ id: accepted.item.id, agrt_id: created.id }]);
    expect(await acceptances('someone_else')).toEqual([]);

    const after = await api(`/agreement/accepted/${created.id}`, { headers });
    expect(after.status).toBe(200);
    expect(await after.json()).toEqual({ message: 'OK', item: accepted.item });
  });

  it('a second acceptance is 409 (the unique index decides), and one row stays', async () => {
    const created = await publish();
    const userId = uniqueId('twice');
    const headers = userHeaders(userId);
    expect((await api('/agreement', jsonRequest('POST', { agrt_id: created.id }, headers))).status).toBe(201);
    const again = await api('/agreement', jsonRequest('POST', { agrt_id: created.id }, headers));
    expect(again.status).toBe(409);
    expect(await again.json()).toEqual({ message: `You have already accepted agreement ${created.id}` });
    expect(await acceptances(userId)).toHaveLength(1);
  });

  it('concurrent acceptances: exactly one 201, the rest 409, never a 500', async () => {
    const created = await publish();
    const userId = uniqueId('race');
    const statuses = await Promise.all(
      Array.from({ length: 6 }, () => api('/agreement', jsonRequest('POST', { agrt_id: created.id }, userHeaders(userId))).then((r) => r.status)),
    );
    expect(statuses.filter((status) => status === 201)).toHaveLength(1);
    expect(statuses.filter((status) => status === 409)).toHaveLength(5);
    expect(await acceptances(userId)).toHaveLength(1);
  });

  it('acceptances are per user: another user has not accepted, and can', async () => {
    const created = await publish();
    const first = uniqueId('first');
    const second = uniqueId('second');
    expect((await api('/agreement', jsonRequest('POST', { agrt_id: created.id }, userHeaders(first)))).status).toBe(201);
    expect((await api(`/agreement/accepted/${created.id}`, { headers: userHeaders(second) })).status).toBe(404);
    expect((await api('/agreement', jsonRequest('POST', { agrt_id: created.id }, userHeaders(second)))).status).toBe(201);
    expect((await api(`/agreement/accepted/${created.id}`, { headers: userHeaders(second) })).status).toBe(200);
    expect(await acceptances(first)).toHaveLength(1);
  });

  it('an unknown agreement is 404 for accept and for accepted', async () => {
    const userId = uniqueId('nobody');
    const accept = await api('/agreement', jsonRequest('POST', { agrt_id: UNKNOWN_ID }, userHeaders(userId)));
    expect(accept.status).toBe(404);
    expect(await accept.json()).toEqual({ message: `Agreement ${UNKNOWN_ID} not found` });
    const accepted = await api(`/agreement/accepted/${UNKNOWN_ID}`, { headers: userHeaders(userId) });
    expect(accepted.status).toBe(404);
    expect(await accepted.json()).toEqual({ message: `Agreement ${UNKNOWN_ID} not found` });
    expect(await acceptances(userId)).toEqual([]);
  });

  it.each<[string, unknown]>([
    ['a missing agrt_id', {}],
    ['agrt_id as a string', { agrt_id: '1' }],
    ['a fractional agrt_id', { agrt_id: 1.5 }],
    ['agrt_id 0', { agrt_id: 0 }],
    ['agrt_id beyond 32 bits', { agrt_id: 2 ** 31 }],
    ['a null agrt_id', { agrt_id: null }],
  ])('refuses %s with 400 naming body.agrt_id', async (_name, input) => {
    const userId = uniqueId('bad');
    const response = await api('/agreement', jsonRequest('POST', input, userHeaders(userId)));
    expect(response.status).toBe(400);
    expect(await errorPaths(response)).toEqual(['body.agrt_id']);
    expect(await acceptances(userId)).toEqual([]);
  });

  it('a bad id on accepted is 400 naming the path parameter', async () => {
    for (const id of ['abc', '0', '-1', '99999999999']) {
      const response = await api(`/agreement/accepted/${id}`, { headers: userHeaders(uniqueId('u')) });
      expect(response.status, id).toBe(400);
      expect(await errorPaths(response)).toEqual(['path.id']);
    }
  });

  it('is for signed-in users: anonymous is 401, API clients are 403', async () => {
    const created = await publish();
    expect((await api('/agreement', jsonRequest('POST', { agrt_id: created.id }))).status).toBe(401);
    expect((await api(`/agreement/accepted/${created.id}`)).status).toBe(401);
    const apiClient = await createApiClientFor();
    const payload = JSON.stringify({ agrt_id: created.id });
    const signed = await api('/agreement', { method: 'POST', body: payload, headers: { 'content-type': 'application/json', ...(await hmacHeaders(apiClient, 'POST', '/agreement', payload)) } });
    expect(signed.status).toBe(403);
    expect(await acceptances(apiClient.userId)).toEqual([]);
  });

  it('a user id longer than the column is refused with 422, not a 500', async () => {
    const created = await publish();
    const response = await api('/agreement', jsonRequest('POST', { agrt_id: created.id }, userHeaders('u'.repeat(60))));
    expect(response.status).toBe(422);
  });
});
