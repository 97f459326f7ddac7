import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { CLIENT_ROW_TTL_MS, clientCredentials } from '../../functions/services/api-clients.ts';
import { apiWith } from '../helpers/api.ts';
import { api, bearerFor, createApiClientFor, hmacHeaders, uniqueId } from '../helpers/auth.ts';
import { withDatabase } from '../helpers/db.ts';

interface ClientItem {
  id: number;
  user_id: string;
  enabled: boolean;
  secret?: string;
}

async function item(response: Response): Promise<ClientItem> {
  return ((await response.json()) as { item: ClientItem }).item;
}

const signedProbe = async (client: { id: number; secret: string }) =>
  (await api('/test/deploy', { method: 'POST', headers: await hmacHeaders(client, 'POST', '/test/deploy') })).status;

describe('POST /client', () => {
  it('creates a client for the caller and shows its secret once', async () => {
    const userId = uniqueId('owner');
    const response = await api('/client', { method: 'POST', headers: bearerFor('group_user', userId) });
    expect(response.status).toBe(201);
    const created = await item(response);
    expect(created).toMatchObject({ user_id: userId, enabled: true });
    expect(created.secret).toMatch(/^[A-Za-z0-9_-]{64}$/);
    expect(await signedProbe({ id: created.id, secret: created.secret! })).toBe(200);

    const disabled = await item(await api(`/client/${created.id}/disable`, { method: 'PUT', headers: bearerFor('group_user', userId) }));
    expect(disabled).not.toHaveProperty('secret');
  });

  it('refuses more than MAX_CLIENTS_NUMBER (2, wrangler.toml) clients per user with 409', async () => {
    const headers = bearerFor('user', uniqueId('limit'));
    expect((await api('/client', { method: 'POST', headers })).status).toBe(201);
    expect((await api('/client', { method: 'POST', headers })).status).toBe(201);
    const third = await api('/client', { method: 'POST', headers });
    expect(third.status).toBe(409);
    expect(await third.json()).toEqual({ message: 'Too many API clients: at most 2 per user' });
  });

  it('holds the limit under concurrent creations', async () => {
    const headers = bearerFor('group_user', uniqueId('race'));
    const statuses = await Promise.all(Array.from({ length: 5 }, () => api('/client', { method: 'POST', headers }).then((r) => r.status)));
    expect(statuses.filter((status) => status === 201)).toHaveLength(2);
    expect(statuses.filter((status) => status === 409)).toHaveLength(3);
  });

  it('with an Idempotency-Key creates one client: the same key again answers it with its secret (200)', async () => {
    const userId = uniqueId('idem');
    const create = (key: string, owner = userId) =>
      api('/client', { method: 'POST', headers: { ...bearerFor('group_user', owner), 'idempotency-key': key } });
    const first = await create('client-1');
    expect(first.status).toBe(201);
    const created = await item(first);
    const again = await create('client-1');
    expect(again.status).toBe(200);
    const answered = await item(again);
    expect(answered).toEqual(created);
    expect(await signedProbe({ id: answered.id, secret: answered.secret! })).toBe(200);

    // The key is the owner's: another user's same key is their own client.
    expect((await create('client-1', uniqueId('idem'))).status).toBe(201);
    // Another key is another client, within the limit of 2; the first key still answers the first.
    expect((await create('client-2')).status).toBe(201);
    expect((await create('client-3')).status).toBe(409);
    expect((await create('client-1')).status).toBe(200);

    // Disabled since: the retry cannot hand over a secret.
    await api(`/client/${created.id}/disable`, { method: 'PUT', headers: bearerFor('group_user', userId) });
    const afterDisable = await create('client-1');
    expect(afterDisable.status).toBe(409);
    expect(await afterDisable.json()).toEqual({ message: 'API client created with this Idempotency-Key is disabled' });
  });

  it('answers 503 naming SECURITY_KEY when it is not set', async () => {
    const response = await apiWith({ SECURITY_KEY: undefined }, '/client', { method: 'POST', headers: bearerFor('group_user', uniqueId('nokey')) });
    expect(response.status).toBe(503);
    expect(((await response.json()) as { message: string }).message).toMatch(/SECURITY_KEY is not set/);
  });
});

describe('PUT /client/{id} and enable/disable (owner)', () => {
  it('renews the secret: the new one works, the old one stops', async () => {
    const own = await createApiClientFor();
    const response = await api(`/client/${own.id}`, { method: 'PUT', headers: bearerFor('group_user', own.userId) });
    expect(response.status).toBe(200);
    const renewed = await item(response);
    expect(renewed.secret).toBeDefined();
    expect(renewed.secret).not.toBe(own.secret);
    expect(await signedProbe(own)).toBe(401);
    expect(await signedProbe({ id: own.id, secret: renewed.secret! })).toBe(200);
  });

  it('a signing key the Worker remembers (the stored ciphertext) stops at once on renewal and on disable', async () => {
    const own = await createApiClientFor();
    const headers = bearerFor('group_user', own.userId);
    expect(await signedProbe(own)).toBe(200);
    expect(await signedProbe(own)).toBe(200); // the second from the remembered key
    const renewed = await item(await api(`/client/${own.id}`, { method: 'PUT', headers }));
    expect(await signedProbe(own)).toBe(401);
    const current = { id: own.id, secret: renewed.secret! };
    expect(await signedProbe(current)).toBe(200);
    expect(await signedProbe(current)).toBe(200);
    expect((await api(`/client/${own.id}/disable`, { method: 'PUT', headers })).status).toBe(200);
    expect(await signedProbe(current)).toBe(401);
  });

  it('a disable behind the Worker’s back (SQL) is seen once the remembered row is CLIENT_ROW_TTL_MS old, not later', async () => {
    const own = await createApiClientFor();
    expect(await signedProbe(own)).toBe(200);
    await withDatabase((db) => db.execute(sql`update client set secret = null where id = ${own.id}`));
    expect(await signedProbe(own)).toBe(200); // within the documented bound
    // As if CLIENT_ROW_TTL_MS had passed: the row is read again ...
    const reread = await withDatabase((db) => clientCredentials(db, own.id, Date.now() + CLIENT_ROW_TTL_MS));
    expect(reread).toMatchObject({ id: own.id, secret: null });
    // ... and from then on the client is refused.
    expect(await signedProbe(own)).toBe(401);
  });

  it('another user cannot see or touch the client: 404, and nothing changes', async () => {
    const own = await createApiClientFor();
    const stranger = bearerFor('group_user', uniqueId('stranger'));
    for (const path of [`/client/${own.id}`, `/client/${own.id}/enable`, `/client/${own.id}/disable`]) {
      const response = await api(path, { method: 'PUT', headers: stranger });
      expect(response.status, path).toBe(404);
      expect(await response.json()).toEqual({ message: 'API client not found' });
    }
    expect(await signedProbe(own)).toBe(200);
  });

  it('disable then disable again is 409; enable an active client is 409; renew a disabled one is 409', async () => {
    const own = await createApiClientFor();
    const headers = bearerFor('group_user', own.userId);
    expect((await api(`/client/${own.id}/enable`, { method: 'PUT', headers })).status).toBe(409);
    expect((await api(`/client/${own.id}/disable`, { method: 'PUT', headers })).status).toBe(200);
    const again = await api(`/client/${own.id}/disable`, { method: 'PUT', headers });
    expect(again.status).toBe(409);
    expect(await again.json()).toEqual({ message: 'API client is not active' });
    expect((await api(`/client/${own.id}`, { method: 'PUT', headers })).status).toBe(409);
  });

  it('a bad id is 400 naming the path parameter; an unknown one is 404', async () => {
    const headers = bearerFor('group_user', uniqueId('ids'));
    for (const id of ['abc', '0', '-1', '99999999999', '1.5']) {
      const response = await api(`/client/${id}`, { method: 'PUT', headers });
      expect(response.status, id).toBe(400);
      expect(((await response.json()) as { errors: Array<{ path: string }> }).errors[0]?.path).toBe('path.id');
    }
    expect((await api('/client/2147483646', { method: 'PUT', headers })).status).toBe(404);
  });
});

describe('/admin/client', () => {
  it('an admin can renew, disable and enable anyone’s client', async () => {
    const own = await createApiClientFor();
    const admin = bearerFor('group_admin', uniqueId('admin'));
    const renewed = await item(await api(`/admin/client/${own.id}`, { method: 'PUT', headers: admin }));
    expect(renewed.user_id).toBe(own.userId);
    expect(await signedProbe({ id: own.id, secret: renewed.secret! })).toBe(200);
    expect((await api(`/admin/client/${own.id}/disable`, { method: 'PUT', headers: admin })).status).toBe(200);
    expect(await signedProbe({ id: own.id, secret: renewed.secret! })).toBe(401);
    const enabled = await item(await api(`/admin/client/${own.id}/enable`, { method: 'PUT', headers: admin }));
    expect(enabled.enabled).toBe(true);
    expect(await signedProbe({ id: own.id, secret: enabled.secret! })).toBe(200);
  });

  it('a plain user is refused with 403', async () => {
    const own = await createApiClientFor();
    const response = await api(`/admin/client/${own.id}`, { method: 'PUT', headers: bearerFor('group_user', own.userId) });
    expect(response.status).toBe(403);
  });
});
