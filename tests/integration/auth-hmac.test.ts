import { sql } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import { hmacSha256Hex } from '../../functions/services/crypto.ts';
import { api, bearerFor, createApiClientFor, hmacHeaders, type TestClient } from '../helpers/auth.ts';
import { withDatabase } from '../helpers/db.ts';

let apiClient: TestClient;
beforeAll(async () => {
  apiClient = await createApiClientFor();
});

const body = JSON.stringify({ stack: 'wordpress', region: 'fra1' });

async function message(response: Response): Promise<string> {
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  return ((await response.json()) as { message: string }).message;
}

describe('HMAC API client authentication', () => {
  it('accepts a correctly signed request and acts as subject client for its owner', async () => {
    const response = await api('/test/deploy', { method: 'POST', headers: { ...(await hmacHeaders(apiClient, body)), 'content-type': 'application/json' }, body });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ message: 'success', item: { client_id: apiClient.id, user_id: apiClient.userId } });
  });

  it('accepts an uppercase hex signature too', async () => {
    const headers = await hmacHeaders(apiClient, body);
    headers['stacker-hash'] = headers['stacker-hash']!.toUpperCase();
    const response = await api('/test/deploy', { method: 'POST', headers, body });
    expect(response.status).toBe(200);
  });

  it('signs GET requests over the empty body', async () => {
    const response = await api('/health_check', { headers: await hmacHeaders(apiClient, '') });
    expect(response.status).toBe(200);
    const unsigned = await api('/health_check', { headers: { 'stacker-id': String(apiClient.id), 'stacker-hash': await hmacSha256Hex('wrong', new Uint8Array()) } });
    expect(unsigned.status).toBe(401);
  });

  it('refuses a missing stacker-hash', async () => {
    const response = await api('/test/deploy', { method: 'POST', headers: { 'stacker-id': String(apiClient.id) }, body });
    expect(response.status).toBe(401);
    expect(await message(response)).toBe('stacker-hash header is required with stacker-id');
  });

  it('refuses a malformed stacker-id or stacker-hash', async () => {
    const good = await hmacHeaders(apiClient, body);
    const badId = await api('/test/deploy', { method: 'POST', headers: { ...good, 'stacker-id': 'abc' }, body });
    expect(badId.status).toBe(401);
    expect(await message(badId)).toMatch(/stacker-id must be/);
    const badHash = await api('/test/deploy', { method: 'POST', headers: { ...good, 'stacker-hash': 'zz' }, body });
    expect(badHash.status).toBe(401);
    expect(await message(badHash)).toMatch(/stacker-hash must be/);
  });

  it('refuses an unknown client', async () => {
    const response = await api('/test/deploy', { method: 'POST', headers: await hmacHeaders({ id: 999_999_999, secret: apiClient.secret }, body), body });
    expect(response.status).toBe(401);
    expect(await message(response)).toBe('Invalid API client credentials');
  });

  it('refuses a wrong hash', async () => {
    const response = await api('/test/deploy', { method: 'POST', headers: await hmacHeaders({ id: apiClient.id, secret: 'not-the-secret' }, body), body });
    expect(response.status).toBe(401);
    expect(await message(response)).toBe('Invalid API client credentials');
  });

  it('refuses a body changed after signing', async () => {
    const headers = await hmacHeaders(apiClient, body);
    const response = await api('/test/deploy', { method: 'POST', headers, body: body.replace('fra1', 'nyc3') });
    expect(response.status).toBe(401);
  });

  it('refuses a disabled client, and accepts it again once re-enabled with its new secret', async () => {
    const own = await createApiClientFor();
    const disable = await api(`/client/${own.id}/disable`, { method: 'PUT', headers: bearerFor('group_user', own.userId) });
    expect(disable.status).toBe(200);
    const refused = await api('/test/deploy', { method: 'POST', headers: await hmacHeaders(own, body), body });
    expect(refused.status).toBe(401);
    expect(await message(refused)).toBe('API client is disabled');

    const enable = await api(`/client/${own.id}/enable`, { method: 'PUT', headers: bearerFor('group_user', own.userId) });
    const secret = ((await enable.json()) as { item: { secret: string } }).item.secret;
    expect((await api('/test/deploy', { method: 'POST', headers: await hmacHeaders(own, body), body })).status).toBe(401);
    expect((await api('/test/deploy', { method: 'POST', headers: await hmacHeaders({ id: own.id, secret }, body), body })).status).toBe(200);
  });

  it('stores the secret encrypted, never in clear', async () => {
    const stored = await withDatabase(async (db) => {
      const result = await db.execute<{ secret: string }>(sql`select secret from client where id = ${apiClient.id}`);
      return result.rows[0]!.secret;
    });
    expect(stored).not.toContain(apiClient.secret);
    expect(stored.length).toBeGreaterThan(apiClient.secret.length);
  });
});
