import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { verifyBearer } from '../../functions/services/oauth.ts';
import { CLI_CLIENT_ID, signInAtDevProvider, startDevOpenIdProvider } from '../../scripts/dev-openid-provider.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'stacker-oidc-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));
const audience = 'http://127.0.0.1:8000';

async function verified(token: string, provider: { issuer: string; jwksUrl: string }) {
  // What the Worker checks (functions/services/oauth.ts): signature by the key set, issuer, audience.
  const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(provider.jwksUrl)), { issuer: provider.issuer, audience, algorithms: ['RS256'] });
  return payload;
}

describe('the development OpenID provider', () => {
  it('signs a name in as user or admin through its form: a JWT access token with sub, role and email for the Worker', async () => {
    const provider = await startDevOpenIdProvider({ dataDir, audience });
    try {
      const token = await signInAtDevProvider(provider.issuer, { name: 'carol', role: 'user' });
      const user = await verified(token, provider);
      expect(user).toMatchObject({ sub: 'carol', role: 'group_user', email: 'carol@example.com', client_id: CLI_CLIENT_ID, scope: 'api' });
      // An RFC 9068 access token (typ at+jwt): npm start sets OAUTH_ACCESS_TOKEN_TYP=at+jwt, so the Worker takes no ID token for one.
      const settings = { jwksUrl: provider.jwksUrl, issuer: provider.issuer, audience, accessTokenTyp: 'at+jwt' };
      expect(await verifyBearer(token, settings)).toMatchObject({ id: 'carol', role: 'group_user' });
      const admin = await verified(await signInAtDevProvider(provider.issuer, { name: 'dave', role: 'admin' }), provider);
      expect(admin).toMatchObject({ sub: 'dave', role: 'group_admin' });
      expect(admin.exp! - admin.iat!).toBe(8 * 3600);
    } finally {
      await provider.close();
    }
  });

  it('answers a bad user name on its form with the rule, and issues nothing', async () => {
    const provider = await startDevOpenIdProvider({ dataDir, audience });
    try {
      await expect(signInAtDevProvider(provider.issuer, { name: 'no spaces allowed', role: 'user' })).rejects.toThrow(
        /sign-in refused: .*a user name is 1 to 64 of A-Z a-z 0-9 \. _ -/,
      );
    } finally {
      await provider.close();
    }
  });

  it('refuses to issue tokens for another resource', async () => {
    const provider = await startDevOpenIdProvider({ dataDir, audience });
    try {
      const authorize = new URL('/auth', provider.issuer);
      authorize.search = new URLSearchParams({
        client_id: CLI_CLIENT_ID, response_type: 'code', scope: 'openid api', redirect_uri: 'http://127.0.0.1/callback',
        code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256', resource: 'https://elsewhere.example',
      }).toString();
      const answer = await fetch(authorize, { redirect: 'manual' });
      const location = new URL(answer.headers.get('location') ?? '', provider.issuer);
      expect(location.searchParams.get('error')).toBe('invalid_target');
    } finally {
      await provider.close();
    }
  });

  it('keeps its issuer and signing key across a restart on the same data folder, so tokens stay valid', async () => {
    const first = await startDevOpenIdProvider({ dataDir, audience });
    const token = await signInAtDevProvider(first.issuer, { name: 'erin', role: 'user' });
    await first.close();
    const second = await startDevOpenIdProvider({ dataDir, audience });
    try {
      expect(second.issuer).toBe(first.issuer);
      expect((await verified(token, second)).sub).toBe('erin');
    } finally {
      await second.close();
    }
  });
});
