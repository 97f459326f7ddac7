import { sql } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import { pruneClientNonces } from '../../functions/services/client-signature.ts';
import { api, apiWith, bearerFor, bodyOnlyHmacHeaders, createApiClientFor, hmacHeaders, type TestClient } from '../helpers/auth.ts';
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
    const response = await api('/test/deploy', { method: 'POST', headers: { ...(await hmacHeaders(apiClient, 'POST', '/test/deploy', body)), 'content-type': 'application/json' }, body });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ message: 'success', item: { client_id: apiClient.id, user_id: apiClient.userId } });
  });

  it('accepts an uppercase hex signature too', async () => {
    const headers = await hmacHeaders(apiClient, 'POST', '/test/deploy', body);
    headers['stacker-hash'] = headers['stacker-hash']!.toUpperCase();
    const response = await api('/test/deploy', { method: 'POST', headers, body });
    expect(response.status).toBe(200);
  });

  it('signs GET requests over the empty body, with the path and query as sent', async () => {
    const response = await api('/health_check?x=1', { headers: await hmacHeaders(apiClient, 'GET', '/health_check?x=1') });
    expect(response.status).toBe(200);
    const wrongSecret = await api('/health_check', { headers: await hmacHeaders({ id: apiClient.id, secret: 'wrong' }, 'GET', '/health_check') });
    expect(wrongSecret.status).toBe(401);
    // The query is signed: another query under the same signature is refused.
    const otherQuery = await api('/health_check?x=2', { headers: await hmacHeaders(apiClient, 'GET', '/health_check?x=1') });
    expect(otherQuery.status).toBe(401);
    expect(await message(otherQuery)).toBe('Invalid API client credentials');
  });

  it('signs the method and the path: a signature of one route is refused on another', async () => {
    const otherMethod = await api('/test/deploy', { method: 'POST', headers: await hmacHeaders(apiClient, 'GET', '/test/deploy') });
    expect(otherMethod.status).toBe(401);
    const otherPath = await api('/health_check', { headers: await hmacHeaders(apiClient, 'GET', '/whoami') });
    expect(otherPath.status).toBe(401);
  });

  it('refuses the same signed request sent twice ("replayed"), and a second request with a nonce already used', async () => {
    const headers = await hmacHeaders(apiClient, 'POST', '/test/deploy', body);
    expect((await api('/test/deploy', { method: 'POST', headers, body })).status).toBe(200);
    const replay = await api('/test/deploy', { method: 'POST', headers, body });
    expect(replay.status).toBe(401);
    expect(await message(replay)).toMatch(/replayed/);
    // Another app instance (as after a restart or in another isolate) refuses it too: the nonce is in Postgres.
    const elsewhere = await apiWith({}, '/test/deploy', { method: 'POST', headers, body });
    expect(elsewhere.status).toBe(401);
    expect(await message(elsewhere)).toMatch(/replayed/);
    const kept = await withDatabase((db) =>
      db.execute<{ n: number }>(sql`select count(*)::int as n from api_client_nonce where client_id = ${apiClient.id} and nonce = ${headers['stacker-nonce']!}`),
    );
    expect(kept.rows[0]!.n).toBe(1);
    // The same nonce on another route, freshly signed, is still a replay.
    const sameNonce = await api('/whoami', { headers: await hmacHeaders(apiClient, 'GET', '/whoami', '', { nonce: headers['stacker-nonce']! }) });
    expect(sameNonce.status).toBe(401);
    expect(await message(sameNonce)).toMatch(/replayed/);
  });

  it('does not spend a nonce on a request whose signature is refused', async () => {
    const nonce = `n${crypto.randomUUID().replace(/-/g, '')}`;
    const bad = await api('/whoami', { headers: await hmacHeaders({ id: apiClient.id, secret: 'not-the-secret' }, 'GET', '/whoami', '', { nonce }) });
    expect(bad.status).toBe(401);
    expect((await api('/whoami', { headers: await hmacHeaders(apiClient, 'GET', '/whoami', '', { nonce }) })).status).toBe(200);
  });

  it('refuses a timestamp more than 300 s from the server clock, either way, and says so', async () => {
    // From the clock as each request is signed (the one before can take seconds on a loaded
    // machine); ahead by 305, not 301, for the time the request itself takes to be read.
    for (const offset of [-301, 305]) {
      const timestamp = Math.floor(Date.now() / 1000) + offset;
      const response = await api('/whoami', { headers: await hmacHeaders(apiClient, 'GET', '/whoami', '', { timestamp }) });
      expect(response.status).toBe(401);
      expect(await message(response)).toBe('stacker-timestamp is more than 300 s from the server clock');
    }
    expect((await api('/whoami', { headers: await hmacHeaders(apiClient, 'GET', '/whoami', '', { timestamp: Math.floor(Date.now() / 1000) - 250 }) })).status).toBe(200);
  });

  it('refuses a malformed stacker-timestamp or stacker-nonce', async () => {
    const good = await hmacHeaders(apiClient, 'GET', '/whoami');
    for (const [name, value, expected] of [
      ['stacker-timestamp', '12.5', /stacker-timestamp must be/],
      ['stacker-nonce', 'a'.repeat(65), /stacker-nonce must be 1 to 64/],
      ['stacker-nonce', 'a b', /stacker-nonce must be 1 to 64/],
    ] as const) {
      const response = await api('/whoami', { headers: { ...good, [name]: value } });
      expect(response.status, `${name}: ${value}`).toBe(401);
      expect(await message(response)).toMatch(expected);
    }
  });

  it('refuses the old body-only signature unless HMAC_BODY_ONLY=on', async () => {
    const old = await bodyOnlyHmacHeaders(apiClient, body);
    const refused = await api('/test/deploy', { method: 'POST', headers: old, body });
    expect(refused.status).toBe(401);
    expect(await message(refused)).toBe('stacker-timestamp and stacker-nonce are required: a signature of the body alone is refused (docs/api-clients.md)');
    const withNonceOnly = await api('/test/deploy', { method: 'POST', headers: { ...old, 'stacker-nonce': 'abc' }, body });
    expect(withNonceOnly.status).toBe(401);
    const allowed = await apiWith({ HMAC_BODY_ONLY: 'on' }, '/test/deploy', { method: 'POST', headers: old, body });
    expect(allowed.status).toBe(200);
    const wrong = await apiWith({ HMAC_BODY_ONLY: 'on' }, '/test/deploy', { method: 'POST', headers: await bodyOnlyHmacHeaders({ id: apiClient.id, secret: 'x' }, body), body });
    expect(wrong.status).toBe(401);
  });

  it('the cron forgets nonces whose window has ended, and only those', async () => {
    const headers = await hmacHeaders(apiClient, 'GET', '/whoami');
    expect((await api('/whoami', { headers })).status).toBe(200);
    const stale = `stale${crypto.randomUUID().replace(/-/g, '')}`;
    await withDatabase((db) => db.execute(sql`insert into api_client_nonce (client_id, nonce, expires_at) values (${apiClient.id}, ${stale}, now() - interval '1 second')`));
    await withDatabase((db) => pruneClientNonces(db));
    const left = await withDatabase((db) =>
      db.execute<{ nonce: string }>(sql`select nonce from api_client_nonce where client_id = ${apiClient.id} and nonce in (${stale}, ${headers['stacker-nonce']!})`),
    );
    expect(left.rows.map((row) => row.nonce)).toEqual([headers['stacker-nonce']]);
  });

  it('refuses a missing stacker-hash', async () => {
    const response = await api('/test/deploy', { method: 'POST', headers: { 'stacker-id': String(apiClient.id) }, body });
    expect(response.status).toBe(401);
    expect(await message(response)).toBe('stacker-hash header is required with stacker-id');
  });

  it('refuses a malformed stacker-id or stacker-hash', async () => {
    const good = await hmacHeaders(apiClient, 'POST', '/test/deploy', body);
    const badId = await api('/test/deploy', { method: 'POST', headers: { ...good, 'stacker-id': 'abc' }, body });
    expect(badId.status).toBe(401);
    expect(await message(badId)).toMatch(/stacker-id must be/);
    const badHash = await api('/test/deploy', { method: 'POST', headers: { ...good, 'stacker-hash': 'zz' }, body });
    expect(badHash.status).toBe(401);
    expect(await message(badHash)).toMatch(/stacker-hash must be/);
  });

  it('refuses an unknown client', async () => {
    const response = await api('/test/deploy', { method: 'POST', headers: await hmacHeaders({ id: 999_999_999, secret: apiClient.secret }, 'POST', '/test/deploy', body), body });
    expect(response.status).toBe(401);
    expect(await message(response)).toBe('Invalid API client credentials');
  });

  it('refuses a wrong hash', async () => {
    const response = await api('/test/deploy', { method: 'POST', headers: await hmacHeaders({ id: apiClient.id, secret: 'not-the-secret' }, 'POST', '/test/deploy', body), body });
    expect(response.status).toBe(401);
    expect(await message(response)).toBe('Invalid API client credentials');
  });

  it('refuses a body changed after signing', async () => {
    const headers = await hmacHeaders(apiClient, 'POST', '/test/deploy', body);
    const response = await api('/test/deploy', { method: 'POST', headers, body: body.replace('fra1', 'nyc3') });
    expect(response.status).toBe(401);
  });

  it('refuses a disabled client, and accepts it again once re-enabled with its new secret', async () => {
    const own = await createApiClientFor();
    const disable = await api(`/client/${own.id}/disable`, { method: 'PUT', headers: bearerFor('group_user', own.userId) });
    expect(disable.status).toBe(200);
    const refused = await api('/test/deploy', { method: 'POST', headers: await hmacHeaders(own, 'POST', '/test/deploy', body), body });
    expect(refused.status).toBe(401);
    expect(await message(refused)).toBe('API client is disabled');

    const enable = await api(`/client/${own.id}/enable`, { method: 'PUT', headers: bearerFor('group_user', own.userId) });
    const secret = ((await enable.json()) as { item: { secret: string } }).item.secret;
    expect((await api('/test/deploy', { method: 'POST', headers: await hmacHeaders(own, 'POST', '/test/deploy', body), body })).status).toBe(401);
    expect((await api('/test/deploy', { method: 'POST', headers: await hmacHeaders({ id: own.id, secret }, 'POST', '/test/deploy', body), body })).status).toBe(200);
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
