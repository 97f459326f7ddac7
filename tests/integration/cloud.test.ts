import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { apiWith } from '../helpers/api.ts';
import { api, bearerFor, createApiClientFor, hmacHeaders, jsonRequest, uniqueId } from '../helpers/auth.ts';
import { withDatabase } from '../helpers/db.ts';
import { fixtures } from '../helpers/fixtures.ts';

interface CloudItem {
  id: number;
  user_id: string;
  provider: string;
  cloud_token: string | null;
  cloud_key: string | null;
  cloud_secret: string | null;
  save_token: boolean;
}

const longToken = `hcloud_${'A1b2C3d4'.repeat(80)}`; // 647 characters: did not fit the reference's varchar(255)

async function createCloud(userId: string, body: unknown = fixtures.cloud): Promise<CloudItem> {
  const response = await api('/cloud', jsonRequest('POST', body, bearerFor('group_user', userId)));
  expect(response.status).toBe(201);
  return ((await response.json()) as { item: CloudItem }).item;
}

async function storedRow(id: number) {
  return withDatabase(async (db) => (await db.execute<Record<string, string | null>>(sql`select * from cloud where id = ${id}`)).rows[0]);
}

describe('POST /cloud', () => {
  it('saves the fixture for the caller, answers masked, stores ciphertext', async () => {
    const userId = uniqueId('cloud');
    const created = await createCloud(userId);
    expect(created).toMatchObject({
      user_id: userId,
      provider: 'htz',
      cloud_token: 'clou****',
      cloud_key: 'clou****',
      cloud_secret: 'clou****',
      save_token: true,
    });
    const row = await storedRow(created.id);
    for (const value of [row!.cloud_token, row!.cloud_key, row!.cloud_secret]) {
      expect(value).not.toMatch(/cloud_(token|key|secret)_here/);
    }
    // each value has its own nonce: the same plaintext twice gives two ciphertexts
    const again = await createCloud(userId);
    expect((await storedRow(again.id))!.cloud_token).not.toBe(row!.cloud_token);
  });

  it('encrypts even when save_token is false, and keeps long tokens', async () => {
    const created = await createCloud(uniqueId('plain'), { provider: 'htz', cloud_token: longToken, save_token: false });
    expect(created.cloud_token).toBe('hclo****');
    expect(created.save_token).toBe(false);
    expect(JSON.stringify(await storedRow(created.id))).not.toContain(longToken.slice(10, 40));
  });

  it('takes the owner from the caller, never from the body', async () => {
    const userId = uniqueId('owner');
    const created = await createCloud(userId, { ...fixtures.cloud, user_id: 'someone-else' });
    expect(created.user_id).toBe(userId);
  });

  it('rejects bad input with 400 naming the field', async () => {
    const headers = bearerFor('group_user', uniqueId('bad'));
    const cases: Array<[unknown, string]> = [
      [{ cloud_token: 'x' }, 'body.provider'],
      [{ provider: 'h' }, 'body.provider'],
      [{ provider: 'x'.repeat(51) }, 'body.provider'],
      [{ provider: 42 }, 'body.provider'],
      [{ provider: 'htz', save_token: 'yes' }, 'body.save_token'],
      [{ provider: 'htz', cloud_token: 7 }, 'body.cloud_token'],
      [{ provider: 'htz', cloud_secret: 'x'.repeat(5000) }, 'body.cloud_secret'],
    ];
    for (const [body, path] of cases) {
      const response = await api('/cloud', jsonRequest('POST', body, headers));
      expect(response.status, JSON.stringify(body)).toBe(400);
      const errors = ((await response.json()) as { errors: Array<{ path: string }> }).errors;
      expect(errors.map((error) => error.path)).toContain(path);
    }
    const notJson = await api('/cloud', { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: '{' });
    expect(notJson.status).toBe(400);
  });

  it('answers 503 naming SECURITY_KEY when it is missing, and when it is not the key the secrets were saved with', async () => {
    const userId = uniqueId('key');
    const created = await createCloud(userId);
    const headers = bearerFor('group_user', userId);
    const missing = await apiWith({ SECURITY_KEY: undefined }, `/cloud/${created.id}`, { headers });
    expect(missing.status).toBe(503);
    expect(((await missing.json()) as { message: string }).message).toMatch(/SECURITY_KEY is not set/);
    const wrong = await apiWith({ SECURITY_KEY: 'b'.repeat(32) }, `/cloud/${created.id}`, { headers });
    expect(wrong.status).toBe(503);
    expect(((await wrong.json()) as { message: string }).message).toMatch(/SECURITY_KEY/);
  });
});

describe('GET /cloud and /cloud/{id}', () => {
  it('lists only the caller’s clouds, masked', async () => {
    const userId = uniqueId('list');
    const mine = await createCloud(userId);
    await createCloud(uniqueId('other'));
    const response = await api('/cloud', { headers: bearerFor('group_user', userId) });
    const list = ((await response.json()) as { list: CloudItem[] }).list;
    expect(list.map((cloud) => cloud.id)).toEqual([mine.id]);
    expect(JSON.stringify(list)).not.toContain('cloud_token_here');
  });

  it('another user gets 404; an admin may read it; the owner’s API client may read it', async () => {
    const userId = uniqueId('own');
    const created = await createCloud(userId);
    expect((await api(`/cloud/${created.id}`, { headers: bearerFor('group_user', uniqueId('x')) })).status).toBe(404);
    expect((await api(`/cloud/${created.id}`, { headers: bearerFor('group_admin', uniqueId('adm')) })).status).toBe(200);
    const apiClient = await createApiClientFor(userId);
    const viaClient = await api(`/cloud/${created.id}`, { headers: await hmacHeaders(apiClient, 'GET', `/cloud/${created.id}`) });
    expect(viaClient.status).toBe(200);
    expect(((await viaClient.json()) as { item: CloudItem }).item.cloud_token).toBe('clou****');
  });

  it('an unknown or malformed id is 404 or 400', async () => {
    const headers = bearerFor('group_user', uniqueId('ids'));
    expect((await api('/cloud/2147483000', { headers })).status).toBe(404);
    expect((await api('/cloud/abc', { headers })).status).toBe(400);
  });
});

describe('PUT and DELETE /cloud/{id}', () => {
  it('replaces provider and credentials with the update fixture', async () => {
    const userId = uniqueId('upd');
    const created = await createCloud(userId);
    const response = await api(`/cloud/${created.id}`, jsonRequest('PUT', fixtures.cloudUpdate, bearerFor('group_user', userId)));
    expect(response.status).toBe(200);
    const updated = ((await response.json()) as { item: CloudItem }).item;
    expect(updated).toMatchObject({ id: created.id, user_id: userId, cloud_token: 'clou****', save_token: false });
    const read = ((await (await api(`/cloud/${created.id}`, { headers: bearerFor('group_user', userId) })).json()) as { item: CloudItem }).item;
    expect(read.save_token).toBe(false);
  });

  it('another user cannot update or delete it (404) and nothing changes', async () => {
    const userId = uniqueId('keep');
    const created = await createCloud(userId);
    const before = await storedRow(created.id);
    const stranger = bearerFor('group_user', uniqueId('str'));
    expect((await api(`/cloud/${created.id}`, jsonRequest('PUT', fixtures.cloudUpdate, stranger))).status).toBe(404);
    expect((await api(`/cloud/${created.id}`, { method: 'DELETE', headers: stranger })).status).toBe(404);
    expect(await storedRow(created.id)).toEqual(before);
  });

  it('the owner deletes it; a second delete is 404', async () => {
    const userId = uniqueId('del');
    const created = await createCloud(userId);
    const headers = bearerFor('group_user', userId);
    const response = await api(`/cloud/${created.id}`, { method: 'DELETE', headers });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ message: 'Deleted' });
    expect(await storedRow(created.id)).toBeUndefined();
    expect((await api(`/cloud/${created.id}`, { method: 'DELETE', headers })).status).toBe(404);
  });
});
