// npm start's development OpenID provider gives the dashboard's client a refresh token, and a refresh
// answers the user's role as it is now (issue 29 point 4): the dashboard session re-checks its user
// with it every few minutes (functions/services/dashboard-sessions.ts), so an admin signed in again
// as a plain user loses the admin pages in every open session. Without a refresh token a session that
// holds a JWT ends at its first re-check.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { playBrowserAtDevProvider, startDevOpenIdProvider, type DevOpenIdProvider } from '../../scripts/dev-openid-provider.ts';

const worker = 'http://127.0.0.1:65001';
const redirectUri = `${worker}/auth/callback`;
const dataDir = mkdtempSync(join(tmpdir(), 'dev-provider-refresh-'));
let provider: DevOpenIdProvider;

beforeAll(async () => {
  provider = await startDevOpenIdProvider({ dataDir, audience: worker, dashboardRedirectUris: [redirectUri] });
});
afterAll(async () => {
  await provider.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const token = (body: Record<string, string>) =>
  fetch(`${provider.issuer}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ client_id: 'stacker-dashboard', ...body }) }).then(
    async (response) => ({ status: response.status, body: (await response.json()) as { access_token?: string; refresh_token?: string; error?: string } }),
  );

/** The dashboard's sign-in (code + PKCE with the scope npm start configures), as `role`. */
async function dashboardSignIn(name: string, role: 'user' | 'admin') {
  const verifier = randomBytes(32).toString('base64url');
  const authorize = new URL('/auth', provider.issuer);
  authorize.search = new URLSearchParams({
    client_id: 'stacker-dashboard',
    response_type: 'code',
    scope: 'openid profile email api',
    redirect_uri: redirectUri,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    state: 'state-1',
  }).toString();
  const landed = await playBrowserAtDevProvider(authorize.toString(), { name, role }, redirectUri);
  const code = landed.searchParams.get('code')!;
  return token({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier });
}

describe('the development provider and dashboard sessions', () => {
  it('issues the dashboard a refresh token; a refresh answers the role as it is now', async () => {
    const first = await dashboardSignIn('dana', 'admin');
    expect(first.status).toBe(200);
    expect(decodeJwt(first.body.access_token!).role).toBe('group_admin');
    expect(first.body.refresh_token).toBeTruthy();
    // Signed in again elsewhere as a plain user: the role the provider keeps for dana changes.
    expect((await dashboardSignIn('dana', 'user')).status).toBe(200);
    const refreshed = await token({ grant_type: 'refresh_token', refresh_token: first.body.refresh_token! });
    expect(refreshed.status).toBe(200);
    const claims = decodeJwt(refreshed.body.access_token!);
    expect(claims.role).toBe('group_user');
    expect(claims.aud).toBe(worker);
  });
});
