// The development OpenID provider of local runs (`npm start` with no OAuth provider configured).
//
// oidc-provider on loopback, with a sign-in form that takes a user name and a role and signs in
// anyone: it stands in for TryDirect's OAuth server, nothing more. It issues RS256 JWT access tokens
// for one audience (the local Worker), and the Worker verifies them as it verifies any provider's:
// OAUTH_JWKS_URL, OAUTH_ISSUER, OAUTH_AUDIENCE. Its signing key and cookie key are kept in
// <data dir>/dev-openid-provider.json (mode 600), so tokens outlive a restart of `npm start`.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import Provider, { errors, type ClientMetadata, type Configuration } from 'oidc-provider';
import { createMemoryAdapter } from 'oidc-provider/lib/adapters/memory_adapter.js';
import { z } from 'zod';

/** The public client of terminals (the tour's dev-login, later `stacker login`): loopback redirect, PKCE. */
export const CLI_CLIENT_ID = 'stacker-cli';
export const CLI_REDIRECT_URI = 'http://127.0.0.1/callback';
export const API_SCOPE = 'api';

export const devSignIn = z.object({
  name: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9._-]{1,64}$/, 'a user name is 1 to 64 of A-Z a-z 0-9 . _ -'),
  role: z.enum(['user', 'admin']).default('user'),
});
export type DevSignIn = z.infer<typeof devSignIn>;

/** The role claim the Worker's casbin rules know, for each choice of the form. */
const roleClaim = { user: 'group_user', admin: 'group_admin' } as const;

export interface DevOpenIdProvider {
  issuer: string;
  jwksUrl: string;
  audience: string;
  close(): Promise<void>;
}

interface KeptKeys {
  signingKey: JWK;
  cookieKey: string;
  /** Each user's role as last chosen on the form (the access token's role claim). */
  roles: Record<string, DevSignIn['role']>;
  /** The port it listened on last, tried first: the issuer (and so the tokens it gave) stay valid. */
  port?: number;
}

async function keptKeys(path: string): Promise<KeptKeys> {
  if (existsSync(path)) return JSON.parse(readFileSync(path, 'utf8')) as KeptKeys;
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const kept: KeptKeys = {
    signingKey: { ...(await exportJWK(privateKey)), alg: 'RS256', use: 'sig', kid: randomBytes(8).toString('hex') },
    cookieKey: randomBytes(32).toString('base64url'),
    roles: {},
  };
  save(path, kept);
  return kept;
}

function save(path: string, kept: KeptKeys): void {
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, JSON.stringify(kept, null, 2), { mode: 0o600 });
  renameSync(temporary, path);
}

export async function startDevOpenIdProvider(options: {
  dataDir: string;
  /** The resource the access tokens are for: the local Worker's URL. */
  audience: string;
  /** Redirect URIs of the dashboard's confidential-less web client, when it is served. */
  dashboardRedirectUris?: string[];
}): Promise<DevOpenIdProvider> {
  mkdirSync(options.dataDir, { recursive: true });
  const keysPath = join(options.dataDir, 'dev-openid-provider.json');
  const kept = await keptKeys(keysPath);

  let provider: Provider | undefined;
  const server = createServer((req, res) => {
    // No keep-alive: a client (workerd fetching the key set, a terminal) must never reuse a connection
    // to a provider that was restarted on the same port.
    res.setHeader('connection', 'close');
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    const interaction = /^\/interaction\/([\w-]+)$/.exec(path);
    if (interaction) {
      handleInteraction(provider!, kept, keysPath, req, res).catch((error: unknown) => {
        if (!res.headersSent) page(res, 400, 'Sign-in failed', `<p>${escapeHtml(error instanceof Error ? error.message : String(error))}</p>`);
      });
      return;
    }
    provider!.callback()(req, res);
  });
  const listen = (port: number) =>
    new Promise<boolean>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) => (error.code === 'EADDRINUSE' && port !== 0 ? resolve(false) : reject(error)));
      server.listen(port, '127.0.0.1', () => resolve(true));
    });
  if (!(await listen(kept.port ?? 0))) await listen(0);
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  if (kept.port !== port) {
    kept.port = port;
    save(keysPath, kept);
  }
  const issuer = `http://127.0.0.1:${port}`;

  const clients: ClientMetadata[] = [
    {
      client_id: CLI_CLIENT_ID,
      application_type: 'native',
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: [CLI_REDIRECT_URI],
    },
  ];
  if (options.dashboardRedirectUris?.length) {
    clients.push({
      client_id: 'stacker-dashboard',
      token_endpoint_auth_method: 'none',
      // Refreshes: the dashboard's session re-checks its user with them every few minutes.
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: options.dashboardRedirectUris,
    });
  }

  const configuration: Configuration = {
    clients,
    jwks: { keys: [kept.signingKey] },
    cookies: { keys: [kept.cookieKey] },
    pkce: { required: () => true },
    ttl: { AccessToken: 8 * 3600, AuthorizationCode: 60, IdToken: 3600, Interaction: 3600, Session: 14 * 24 * 3600, Grant: 14 * 24 * 3600, RefreshToken: 14 * 24 * 3600 },
    // Sessions, grants and codes in memory (signing in again after a restart is what a development
    // provider may ask): the library's memory adapter, taken by its factory, which skips the warning
    // it prints for production use.
    adapter: createMemoryAdapter(),
    scopes: ['openid', 'profile', 'email', 'offline_access', API_SCOPE],
    // A refresh token to every client allowed the grant, offline_access asked for or not: a refresh
    // answers the role as it is now (extraTokenClaims), which is how the dashboard sees a role change.
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    claims: { openid: ['sub'], email: ['email'], profile: ['name'] },
    features: {
      devInteractions: { enabled: false },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => options.audience,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resource) => {
          if (resource !== options.audience) throw new errors.InvalidTarget(`this provider issues tokens for ${options.audience} only`);
          return { scope: API_SCOPE, audience: options.audience, accessTokenTTL: 8 * 3600, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } };
        },
      },
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    findAccount: (_ctx, id) => ({
      accountId: id,
      claims: () => ({ sub: id, email: `${id}@example.com`, name: id }),
    }),
    extraTokenClaims: (_ctx, token) => {
      const accountId = 'accountId' in token ? (token.accountId as string | undefined) : undefined;
      if (!accountId) return undefined;
      return { role: roleClaim[kept.roles[accountId] ?? 'user'], email: `${accountId}@example.com` };
    },
    renderError: (ctx, out) => {
      ctx.type = 'html';
      ctx.body = pageHtml('Sign-in failed', `<p>${escapeHtml(String(out.error))}: ${escapeHtml(String(out.error_description ?? ''))}</p>`);
    },
  };
  provider = new Provider(issuer, configuration);
  // The issuer is plain http on loopback: oidc-provider is told the connection is what it is.
  provider.proxy = false;

  return {
    issuer,
    jwksUrl: `${issuer}/jwks`,
    audience: options.audience,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function handleInteraction(provider: Provider, kept: KeptKeys, keysPath: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const details = await provider.interactionDetails(req, res);
  if (details.prompt.name === 'consent') {
    // A development provider asks no consent: what the client asks for is granted.
    const grant = details.grantId
      ? ((await provider.Grant.find(details.grantId)) ?? new provider.Grant({ accountId: details.session!.accountId, clientId: details.params.client_id as string }))
      : new provider.Grant({ accountId: details.session!.accountId, clientId: details.params.client_id as string });
    const missing = details.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> };
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [resource, scopes] of Object.entries(missing.missingResourceScopes ?? {})) grant.addResourceScope(resource, scopes.join(' '));
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    return;
  }
  if (req.method === 'POST') {
    const form = new URLSearchParams(await readBody(req));
    const parsed = devSignIn.safeParse({ name: form.get('name') ?? '', role: form.get('role') || undefined });
    if (!parsed.success) {
      page(res, 400, 'Sign in', signInForm(details.uid, form.get('name') ?? '', parsed.error.issues[0]?.message));
      return;
    }
    kept.roles[parsed.data.name] = parsed.data.role;
    save(keysPath, kept);
    await provider.interactionFinished(req, res, { login: { accountId: parsed.data.name } }, { mergeWithLastSubmission: false });
    return;
  }
  page(res, 200, 'Sign in', signInForm(details.uid, ''));
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function signInForm(uid: string, name: string, error?: string): string {
  return `<p>Development sign-in: any name is accepted. This provider only runs with <code>npm start</code>.</p>
<form method="post" action="/interaction/${escapeHtml(uid)}">
  <label for="name">User name</label>
  <input id="name" name="name" value="${escapeHtml(name)}" autocomplete="username" required autofocus${error ? ' aria-invalid="true" aria-describedby="name-error"' : ''}>
  ${error ? `<small id="name-error">${escapeHtml(error)}</small>` : ''}
  <label for="role">Role</label>
  <select id="role" name="role"><option value="user">user</option><option value="admin">admin</option></select>
  <button type="submit">Sign in</button>
</form>`;
}

function page(res: ServerResponse, status: number, title: string, body: string): void {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(pageHtml(title, body));
}

function pageHtml(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · Stacker development provider</title>
<style>body{font-family:system-ui,sans-serif;max-width:26rem;margin:4rem auto;padding:0 1rem}label,input,select,button{display:block;box-sizing:border-box;width:100%;margin:.4rem 0;font-size:1rem;padding:.4rem}small{color:#b00020}</style>
</head><body><h1>${escapeHtml(title)}</h1>${body}</body></html>`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * Signs in at the development provider as a browser would, through its form, and returns the access
 * token of an authorization code + PKCE exchange for the CLI client. For terminals and tests.
 */
export async function signInAtDevProvider(issuer: string, who: DevSignIn): Promise<string> {
  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(16).toString('base64url');
  const redirectUri = CLI_REDIRECT_URI;
  const authorize = new URL('/auth', issuer);
  authorize.search = new URLSearchParams({
    client_id: CLI_CLIENT_ID,
    response_type: 'code',
    scope: `openid email profile ${API_SCOPE}`,
    redirect_uri: redirectUri,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    state,
  }).toString();

  const landed = await playBrowserAtDevProvider(authorize.toString(), who, redirectUri);
  if (landed.searchParams.get('state') !== state) throw new Error('the development provider answered with another state');
  const code = landed.searchParams.get('code');
  if (!code) throw new Error(`sign-in refused: ${landed.searchParams.get('error_description') ?? landed.searchParams.get('error')}`);
  const token = await fetch(new URL('/token', issuer), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, client_id: CLI_CLIENT_ID, code_verifier: verifier }),
  });
  const body = (await token.json()) as { access_token?: string; error_description?: string };
  if (!token.ok || !body.access_token) throw new Error(`token exchange refused: ${body.error_description ?? token.status}`);
  return body.access_token;
}

/**
 * What a browser does with an authorization URL of the development provider: follows its redirects,
 * fills in its sign-in form as `who`, and stops at the redirect back to the client (the first URL that
 * starts with `redirectPrefix`), which it returns without visiting. For terminals' sign-ins in tests
 * (`stacker login --no-browser` prints the URL; the test plays the browser and then visits the
 * returned loopback URL).
 */
export async function playBrowserAtDevProvider(authorizeUrl: string, who: DevSignIn, redirectPrefix: string): Promise<URL> {
  const cookies = new Map<string, string>();
  const go = async (url: string, init: RequestInit = {}): Promise<Response> => {
    const response = await fetch(url, {
      ...init,
      redirect: 'manual',
      headers: { ...(init.headers as Record<string, string>), cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; ') },
    });
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const at = pair!.indexOf('=');
      cookies.set(pair!.slice(0, at), pair!.slice(at + 1));
    }
    return response;
  };

  let response = await go(authorizeUrl);
  for (let hop = 0; hop < 10; hop++) {
    const location = response.headers.get('location');
    await response.body?.cancel();
    if (!location) throw new Error(`the development provider answered ${response.status} where a redirect was expected`);
    const next = new URL(location, authorizeUrl);
    if (next.href.startsWith(redirectPrefix)) return next;
    response = next.pathname.startsWith('/interaction/')
      ? await go(next.href, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ name: who.name, role: who.role }),
        })
      : await go(next.href);
    if (response.status === 400) throw new Error(`sign-in refused: ${(await response.text()).replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim()}`);
  }
  throw new Error('the development provider redirected too many times');
}
