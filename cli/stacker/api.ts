// The HTTP client of the CLI: the API's envelope ({message, item?, list?, errors?}) in, one-line
// errors that say what to do out.
import { loadCredentials } from './credentials.ts';
import { CliError, EXIT } from './output.ts';

export const DEFAULT_API_URL = 'http://127.0.0.1:8000';

export interface Envelope<T = unknown> {
  message: string;
  id?: number;
  item?: T;
  list?: T[];
  meta?: Record<string, unknown>;
  errors?: Array<{ path: string; message: string }>;
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  headers?: Record<string, string>;
  /** Milliseconds before the request is given up (default 30 s). */
  timeoutMs?: number;
  /** Send no credentials (public routes). */
  anonymous?: boolean;
}

export class Api {
  readonly baseUrl: string;
  readonly token: string | undefined;

  constructor(baseUrl: string, token: string | undefined) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.token = token;
  }

  url(path: string): string {
    return `${this.baseUrl}${path}`;
  }

  /** A GET answered 503 (a dependency of the server is briefly down) is asked again, twice, after a pause. */
  async request<T = unknown>(path: string, options: RequestOptions = {}): Promise<Envelope<T>> {
    const idempotent = (options.method ?? 'GET') === 'GET';
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.send<T>(path, options);
      } catch (error) {
        if (!idempotent || attempt >= 2 || !(error instanceof CliError) || error.status !== 503) throw error;
        await new Promise((resolve) => setTimeout(resolve, 400 * (attempt + 1)));
      }
    }
  }

  private async send<T>(path: string, options: RequestOptions): Promise<Envelope<T>> {
    const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
    if (!options.anonymous) {
      if (!this.token) throw new CliError(`not signed in to ${this.baseUrl}: run \`stacker login\` (or set STACKER_TOKEN)`, EXIT.auth);
      headers.authorization = `Bearer ${this.token}`;
    }
    let body: string | undefined;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] = 'application/json';
    }
    let response: Response;
    try {
      response = await fetch(this.url(path), { method: options.method ?? 'GET', headers, body, signal: AbortSignal.timeout(options.timeoutMs ?? 30_000) });
    } catch (error) {
      throw unreachable(this.baseUrl, error);
    }
    let parsed: Envelope<T>;
    const text = await response.text().catch((error: unknown) => {
      throw unreachable(this.baseUrl, error);
    });
    try {
      parsed = JSON.parse(text) as Envelope<T>;
    } catch {
      throw new CliError(`${this.baseUrl} answered ${response.status} with something that is not the Stacker API (is --api-url / STACKER_URL right?)`);
    }
    if (response.ok) return parsed;
    throw apiError(response.status, parsed, this.baseUrl);
  }

  get<T = unknown>(path: string, options: RequestOptions = {}) {
    return this.request<T>(path, options);
  }
  post<T = unknown>(path: string, body: unknown, options: RequestOptions = {}) {
    return this.request<T>(path, { ...options, method: 'POST', body });
  }
  put<T = unknown>(path: string, body: unknown, options: RequestOptions = {}) {
    return this.request<T>(path, { ...options, method: 'PUT', body });
  }
  delete<T = unknown>(path: string, options: RequestOptions = {}) {
    return this.request<T>(path, { ...options, method: 'DELETE' });
  }
}

export function unreachable(baseUrl: string, error: unknown): CliError {
  const cause = error instanceof Error ? ((error.cause as Error | undefined)?.message ?? error.message) : String(error);
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
    return new CliError(`${baseUrl} did not answer in time: try again, or check the server`, EXIT.unreachable);
  }
  return new CliError(`cannot reach ${baseUrl} (${cause}): is the server running? Set the address with --api-url or STACKER_URL`, EXIT.unreachable);
}

function apiError(status: number, body: Envelope, baseUrl: string): CliError {
  const message = body.message || `HTTP ${status}`;
  if (status === 401) return new CliError(`${message}: not signed in to ${baseUrl}, or the sign-in has expired: run \`stacker login\``, EXIT.auth);
  if (status === 403) return new CliError(`${message}: this account may not do that`, EXIT.auth);
  if (status === 429) return new CliError(`${message}: too many requests, wait a moment and try again`);
  const error = new CliError(message, EXIT.failed, body.errors ?? []);
  error.status = status;
  return error;
}

export interface GlobalOptions {
  apiUrl?: string;
  json?: boolean;
}

export function apiUrlOf(options: GlobalOptions): string {
  const url = options.apiUrl || process.env.STACKER_URL || DEFAULT_API_URL;
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('not http');
  } catch {
    throw new CliError(`--api-url / STACKER_URL "${url}" is not an http(s) URL`, EXIT.usage);
  }
  return url.replace(/\/+$/, '');
}

/** The API client for the chosen server, with STACKER_TOKEN or the saved sign-in. */
export function apiFor(options: GlobalOptions): Api {
  const url = apiUrlOf(options);
  const fromEnv = process.env.STACKER_TOKEN?.trim();
  if (fromEnv) return new Api(url, fromEnv);
  const saved = loadCredentials(url);
  if (saved?.expires_at && saved.expires_at * 1000 < Date.now()) {
    throw new CliError(`the sign-in to ${url} has expired: run \`stacker login\``, EXIT.auth);
  }
  return new Api(url, saved?.access_token);
}
