// `stacker login`: OAuth 2.0 authorization code + PKCE (RFC 7636) with a loopback redirect (RFC 8252
// §7.3) against the provider the server names at GET /auth/config; or a given token (CI).
import { createHash, randomBytes } from 'node:crypto';
import open from 'open';
import { Api, type Envelope } from './api.ts';
import { saveCredentials, type CredentialEntry } from './credentials.ts';
import { CliError, EXIT, info } from './output.ts';

export interface AuthConfig {
  issuer: string | null;
  authorize_url: string | null;
  token_url: string | null;
  client_id: string;
  scope: string;
  audience: string | null;
}

export interface WhoAmI {
  kind: string;
  subject: string;
  user_id?: string;
  client_id?: number;
}

/** Checks a token with GET /whoami: the caller it belongs to, or a CliError. */
export async function whoAmI(api: Api): Promise<WhoAmI> {
  const answer = await api.get<WhoAmI>('/whoami');
  const me = answer.item!;
  if (me.kind === 'anonymous') throw new CliError(`${api.baseUrl} does not accept this token: run \`stacker login\` again`, EXIT.auth);
  return me;
}

export async function loginWithToken(apiUrl: string, token: string): Promise<WhoAmI> {
  const me = await whoAmI(new Api(apiUrl, token));
  saveCredentials(apiUrl, { access_token: token, method: 'token', user_id: me.user_id, saved_at: new Date().toISOString() });
  return me;
}

export interface BrowserLoginOptions {
  /** Print the URL instead of opening a browser. */
  noBrowser: boolean;
  /** Loopback port to listen on (0: any free port). */
  port: number;
  timeoutMs: number;
}

export async function loginInBrowser(apiUrl: string, options: BrowserLoginOptions): Promise<WhoAmI> {
  const anonymous = new Api(apiUrl, undefined);
  let config: AuthConfig;
  try {
    config = (await anonymous.get<AuthConfig>('/auth/config', { anonymous: true })).item!;
  } catch (error) {
    if (error instanceof CliError && error.exitCode === EXIT.unreachable) throw error;
    throw new CliError(`${apiUrl} does not say how to sign in (GET /auth/config): use \`stacker login --token <access token>\``, EXIT.auth);
  }
  if (!config.authorize_url || !config.token_url) {
    throw new CliError(`${apiUrl} has no sign-in for terminals configured (OAUTH_AUTHORIZE_URL, OAUTH_TOKEN_URL): use \`stacker login --token <access token>\``, EXIT.auth);
  }

  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(16).toString('base64url');
  const callback = await listenForCallback(options.port, state, options.timeoutMs);
  const redirectUri = `http://127.0.0.1:${callback.port}/callback`;
  const authorize = new URL(config.authorize_url);
  authorize.search = new URLSearchParams({
    ...Object.fromEntries(authorize.searchParams),
    client_id: config.client_id,
    response_type: 'code',
    scope: config.scope,
    redirect_uri: redirectUri,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    state,
  }).toString();

  info(`To sign in, open this address in a browser:\n\n  ${authorize.href}\n`);
  if (!options.noBrowser) openBrowser(authorize.href);
  info(`Waiting for the sign-in to come back to ${redirectUri} ...`);

  let code: string;
  try {
    code = await callback.code;
  } finally {
    callback.close();
  }

  let response: Response;
  try {
    response = await fetch(config.token_url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, client_id: config.client_id, code_verifier: verifier }),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (error) {
    throw new CliError(`cannot reach the sign-in provider at ${config.token_url} (${error instanceof Error ? error.message : String(error)})`, EXIT.unreachable);
  }
  const body = (await response.json().catch(() => ({}))) as { access_token?: string; refresh_token?: string; expires_in?: number; error?: string; error_description?: string };
  if (!response.ok || !body.access_token) {
    throw new CliError(`the sign-in provider refused the code: ${body.error_description ?? body.error ?? `HTTP ${response.status}`}; run \`stacker login\` again`, EXIT.auth);
  }
  const me = await whoAmI(new Api(apiUrl, body.access_token));
  const entry: CredentialEntry = {
    access_token: body.access_token,
    ...(body.refresh_token && { refresh_token: body.refresh_token }),
    ...(body.expires_in && { expires_at: Math.floor(Date.now() / 1000) + body.expires_in }),
    token_url: config.token_url,
    client_id: config.client_id,
    method: 'browser',
    user_id: me.user_id,
    saved_at: new Date().toISOString(),
  };
  saveCredentials(apiUrl, entry);
  return me;
}

const page = (title: string, text: string) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head><body style="font-family:system-ui,sans-serif;max-width:30rem;margin:4rem auto"><h1>${title}</h1><p>${text}</p></body></html>`;

/** The loopback server the provider redirects the browser to: resolves with the code of the right state. */
async function listenForCallback(port: number, state: string, timeoutMs: number) {
  // Imported here, not at the top: loading node:http as a module costs every other command of the CLI
  // a third of its start (Node loads its HTTP client with it).
  const { createServer } = await import('node:http');
  let settle!: { resolve: (code: string) => void; reject: (error: Error) => void };
  const code = new Promise<string>((resolve, reject) => (settle = { resolve, reject }));
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    res.setHeader('connection', 'close');
    if (url.pathname !== '/callback') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    const error = url.searchParams.get('error');
    if (error) {
      res.writeHead(400, { 'content-type': 'text/html; charset=utf-8' }).end(page('Sign-in refused', 'Go back to the terminal.'));
      settle.reject(new CliError(`the sign-in was refused: ${url.searchParams.get('error_description') ?? error}`, EXIT.auth));
      return;
    }
    if (url.searchParams.get('state') !== state || !url.searchParams.get('code')) {
      res.writeHead(400, { 'content-type': 'text/html; charset=utf-8' }).end(page('Not this sign-in', 'This answer is not for the sign-in the terminal started.'));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page('Signed in', 'You can close this tab and go back to the terminal.'));
    settle.resolve(url.searchParams.get('code')!);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(new CliError(`cannot listen on 127.0.0.1:${port} for the sign-in (${error.code ?? error.message}): pick another --port`, EXIT.failed)),
    );
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const timer = setTimeout(
    () => settle.reject(new CliError(`no sign-in came back within ${Math.round(timeoutMs / 1000)} s: run \`stacker login\` again`, EXIT.timeout)),
    timeoutMs,
  );
  return {
    port: typeof address === 'object' && address ? address.port : port,
    code,
    close() {
      clearTimeout(timer);
      server.closeAllConnections();
      server.close();
    },
  };
}

/**
 * Opens the address with the `open` package: the platform's opener (xdg-open, macOS open, Windows'
 * own launcher) gets it as one argument, never through a command interpreter that would read `&` or
 * quotes in an address the server supplied.
 */
function openBrowser(url: string): void {
  const failed = () => info('(no browser could be opened: open the address above yourself)');
  open(url).then((child) => child.once('error', failed), failed);
}

export type { Envelope };
