// What Stacker asks of a cloud provider, one small interface each provider implements over its public
// HTTP API (hetzner.ts, digitalocean.ts), and the HTTP client they share: bearer token, JSON bodies,
// every answer parsed with zod, 429 retried after Retry-After (bounded), a count of the calls made.
// Nothing here logs: the cloud token stays in the Authorization header, and a provider's answer is
// read for the fields below only (Hetzner's root_password is never read).
import { z } from 'zod';

/** The providers Stacker creates servers on, by the cloud key's provider code. */
export type CloudProviderCode = 'htz' | 'do';

/** The label (Hetzner) or tag prefix (DigitalOcean) that names the deployment a server belongs to. */
export const DEPLOYMENT_LABEL = 'stacker-deployment';

/**
 * A deployment hash as a label value: Hetzner's rules (at most 63 characters, letters, digits, `-`, `_`
 * and `.`, starting and ending with a letter or digit), which also fit in a DigitalOcean tag after
 * `stacker-deployment:` (letters, digits, `:`, `-`, `_`) but for the dot, refused there.
 */
export const deploymentLabelValue = /^[A-Za-z0-9](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?$/;

export interface CreateServerInput {
  /** A hostname (letters, digits, `-`, at most 63 characters); see serverNameFor in index.ts. */
  name: string;
  /** The provider's server type (Hetzner `cx22`) or size slug (DigitalOcean `s-1vcpu-1gb`). */
  type: string;
  /** Hetzner location (`fsn1`) or DigitalOcean region (`fra1`). */
  location: string;
  /** Hetzner image name (`ubuntu-24.04`) or DigitalOcean image slug (`ubuntu-24-04-x64`). */
  image: string;
  /** The `#cloud-config` document (deploy-engine/cloud-init.ts). */
  userData: string;
  /** The deployment hash: the server is labelled/tagged with it, and found again by it. */
  deployment: string;
  /** SSH keys already saved at the provider: Hetzner key names or IDs, DigitalOcean IDs or fingerprints. */
  sshKeys?: string[];
}

/** A server's status in Stacker's words; `providerStatus` keeps the provider's own. */
export type ServerStatus = 'starting' | 'running' | 'off' | 'deleting' | 'unknown';

export interface CloudServer {
  /** The provider's ID, as text. */
  id: string;
  name: string;
  status: ServerStatus;
  providerStatus: string;
  /** The public IPv4 address, once the provider assigned one. */
  ipv4: string | null;
  type: string;
  location: string;
  /** The deployment hash of its label/tag, if it has one. */
  deployment: string | null;
  createdAt: string;
  /** The server in the provider's console, for the deployment page. */
  consoleUrl: string;
}

export interface ServerTypePrice {
  location: string;
  /** Without VAT, in the offer's currency. */
  monthly: number;
  hourly: number;
}

export interface ServerTypeOffer {
  name: string;
  description: string;
  cores: number;
  memoryGb: number;
  diskGb: number;
  /** null when the provider does not say. */
  architecture: 'x86' | 'arm' | null;
  currency: string;
  /** One price per location where the type can be created now (none: not orderable anywhere). */
  prices: ServerTypePrice[];
}

export interface LocationOffer {
  name: string;
  description: string;
  country: string | null;
  city: string | null;
}

export interface ImageOffer {
  /** What createServer's `image` takes. */
  name: string;
  description: string;
  distribution: string;
  /** null: every architecture the provider has (Hetzner picks the server type's). */
  architecture: 'x86' | 'arm' | null;
}

export interface CallStats {
  /** HTTP requests sent to the provider, retries included. */
  calls: number;
  /** Of which retries after a 429 or a 5xx. */
  retries: number;
}

export interface CloudProvider {
  readonly code: CloudProviderCode;
  readonly label: string;
  /** Calls made through this adapter (shared with the options' `stats` when given). */
  readonly stats: CallStats;
  /** Creates a server. Not retried on a lost answer (5xx, timeout): look it up with findServersByDeployment first. */
  createServer(input: CreateServerInput): Promise<CloudServer>;
  /** The server, or null when the provider no longer has it. */
  getServer(id: string): Promise<CloudServer | null>;
  /** The servers labelled/tagged with this deployment hash (every page). */
  findServersByDeployment(deployment: string): Promise<CloudServer[]>;
  /** Deletes a server: true when deleted now, false when it was already gone. */
  deleteServer(id: string): Promise<boolean>;
  listServerTypes(): Promise<ServerTypeOffer[]>;
  listLocations(): Promise<LocationOffer[]>;
  listImages(): Promise<ImageOffer[]>;
}

/**
 * What a provider answered instead of doing it, in its own words (`status`, `code`, `message`), or
 * that it could not be reached (status 0, code `unreachable`). `retryable`: a 429, a 5xx or no
 * answer, where trying later may work; for a create, the server may exist all the same.
 */
export class CloudProviderError extends Error {
  readonly provider: CloudProviderCode;
  readonly status: number;
  readonly code: string;
  readonly retryAfterSeconds: number | undefined;
  constructor(provider: CloudProviderCode, status: number, code: string, message: string, retryAfterSeconds?: number) {
    super(message);
    this.name = 'CloudProviderError';
    this.provider = provider;
    this.status = status;
    this.code = code;
    this.retryAfterSeconds = retryAfterSeconds;
  }

  get retryable(): boolean {
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }
}

export interface ProviderOptions {
  /** API base, e.g. https://api.hetzner.cloud/v1 (HETZNER_API_URL, DIGITALOCEAN_API_URL). */
  baseUrl: string;
  /** The user's cloud token. */
  token: string;
  fetch?: typeof fetch;
  /** How to wait before a retry (tests pass a fake). */
  sleep?: (ms: number) => Promise<void>;
  /** Milliseconds since the epoch, for RateLimit-Reset. */
  now?: () => number;
  /** Retries after a 429 (any request) or a 5xx/no answer (reads and deletes only). Default 3. */
  maxRetries?: number;
  /** The longest wait before a retry; a longer Retry-After ends the call with the 429. Default 10 s. */
  maxRetryWaitMs?: number;
  /** Per request. Default 15 s. */
  timeoutMs?: number;
  /** Items per page asked for when listing. */
  pageSize?: number;
  /** At most this many pages per listing. Default 20. */
  maxPages?: number;
  /** A counter to share, e.g. one per deployment run. */
  stats?: CallStats;
}

export interface RequestSpec<T> {
  method: 'GET' | 'POST' | 'DELETE';
  path: string;
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  schema: z.ZodType<T>;
}

type ErrorReader = (status: number, body: unknown) => { code: string; message: string };

const DEFAULT_RETRY_WAIT_MS = 1_000;

/** The HTTP side every provider shares. */
export class ProviderHttp {
  readonly stats: CallStats;
  readonly pageSize: number | undefined;
  readonly maxPages: number;
  private readonly provider: CloudProviderCode;
  private readonly options: ProviderOptions;
  private readonly readError: ErrorReader;

  constructor(provider: CloudProviderCode, options: ProviderOptions, readError: ErrorReader) {
    this.provider = provider;
    this.options = options;
    this.readError = readError;
    this.stats = options.stats ?? { calls: 0, retries: 0 };
    this.pageSize = options.pageSize;
    this.maxPages = options.maxPages ?? 20;
  }

  /** Sends a request and parses a 2xx answer; throws CloudProviderError for anything else. */
  async send<T>(spec: RequestSpec<T>): Promise<T> {
    const response = await this.exchange(spec);
    return this.parse(spec, response.body);
  }

  /**
   * Every item of a paged listing, page after page (at most maxPages). `schema` reads one page as
   * its items and the next page's number; a next that does not move on ends the listing.
   */
  async allPages<T>(path: string, schema: z.ZodType<{ items: T[]; next: number | null }>, query: Record<string, string>, defaultPageSize: number): Promise<T[]> {
    const items: T[] = [];
    let page: number | null = 1;
    for (let pages = 0; page !== null && pages < this.maxPages; pages++) {
      const answer: { items: T[]; next: number | null } = await this.send({ method: 'GET', path, query: { ...query, page, per_page: this.pageSize ?? defaultPageSize }, schema });
      items.push(...answer.items);
      page = answer.next !== null && answer.next > page ? answer.next : null;
    }
    return items;
  }

  /** As send, but a 404 is null (a server that is gone). */
  async sendOrNull<T>(spec: RequestSpec<T>): Promise<T | null> {
    try {
      return await this.send(spec);
    } catch (error) {
      if (error instanceof CloudProviderError && error.status === 404) return null;
      throw error;
    }
  }

  private parse<T>(spec: RequestSpec<T>, body: unknown): T {
    const parsed = spec.schema.safeParse(body);
    if (parsed.success) return parsed.data;
    // The paths only: an answer's values (a root password, say) never go into a message.
    const where = [...new Set(parsed.error.issues.map((issue) => issue.path.join('.') || '(root)'))].slice(0, 5).join(', ');
    throw new CloudProviderError(this.provider, 502, 'unexpected_answer', `unexpected answer to ${spec.method} ${spec.path} (${where})`);
  }

  private url(spec: RequestSpec<unknown>): string {
    const url = new URL(`${this.options.baseUrl.replace(/\/+$/, '')}${spec.path}`);
    for (const [name, value] of Object.entries(spec.query ?? {})) if (value !== undefined) url.searchParams.set(name, String(value));
    return url.toString();
  }

  private async exchange(spec: RequestSpec<unknown>): Promise<{ status: number; body: unknown }> {
    const fetcher = this.options.fetch ?? fetch;
    const sleep = this.options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
    const maxRetries = this.options.maxRetries ?? 3;
    // A create whose answer is lost may have created the server: only a 429 (refused before anything
    // was done) is retried for it.
    const idempotent = spec.method !== 'POST';
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) this.stats.retries++;
      this.stats.calls++;
      let response: Response;
      try {
        response = await fetcher(this.url(spec), {
          method: spec.method,
          headers: {
            authorization: `Bearer ${this.options.token}`,
            accept: 'application/json',
            ...(spec.body !== undefined && { 'content-type': 'application/json' }),
          },
          body: spec.body === undefined ? undefined : JSON.stringify(spec.body),
          signal: AbortSignal.timeout(this.options.timeoutMs ?? 15_000),
        });
      } catch (caught) {
        const timedOut = caught instanceof Error && (caught.name === 'TimeoutError' || caught.name === 'AbortError');
        const error = new CloudProviderError(this.provider, 0, 'unreachable', timedOut ? 'no answer in time' : 'the provider could not be reached');
        if (idempotent && attempt < maxRetries) {
          await sleep(backoff(attempt));
          continue;
        }
        throw error;
      }
      const text = await response.text().catch(() => '');
      if (response.ok) return { status: response.status, body: text ? safeJson(text) : {} };

      const retryAfterMs = retryAfterOf(response.headers, this.options.now?.() ?? Date.now());
      const read = this.readError(response.status, safeJson(text));
      const error = new CloudProviderError(
        this.provider,
        response.status,
        read.code,
        read.message,
        retryAfterMs === undefined ? undefined : Math.ceil(retryAfterMs / 1000),
      );
      const retry = response.status === 429 || (idempotent && [500, 502, 503, 504].includes(response.status));
      if (!retry || attempt >= maxRetries) throw error;
      const wait = retryAfterMs ?? backoff(attempt);
      if (wait > (this.options.maxRetryWaitMs ?? 10_000)) throw error;
      await sleep(wait);
    }
  }
}

const backoff = (attempt: number) => DEFAULT_RETRY_WAIT_MS * 2 ** attempt;

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Retry-After (seconds or an HTTP date), else RateLimit-Reset (the Unix time both providers send). */
export function retryAfterOf(headers: Headers, now: number): number | undefined {
  const retryAfter = headers.get('retry-after')?.trim();
  if (retryAfter) {
    if (/^\d+$/.test(retryAfter)) return Number(retryAfter) * 1000;
    const date = Date.parse(retryAfter);
    if (!Number.isNaN(date)) return Math.max(0, date - now);
  }
  const reset = headers.get('ratelimit-reset')?.trim();
  if (reset && /^\d+$/.test(reset)) return Math.max(0, Number(reset) * 1000 - now);
  return undefined;
}

/** A provider's message as it may reach a user: one line, printable, bounded. */
export function providerWords(message: unknown, fallback: string): string {
  if (typeof message !== 'string' || !message.trim()) return fallback;
  const line = message.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return line.length > 300 ? `${line.slice(0, 299)}…` : line;
}

/** A price the provider gives as text ("3.7900000000") or a number. */
export const price = z.union([z.number(), z.string().regex(/^\d+(\.\d+)?$/).transform(Number)]);

export function architectureOf(value: string | null | undefined): 'x86' | 'arm' | null {
  if (!value) return null;
  if (/^(x86|amd64|x86_64)$/i.test(value)) return 'x86';
  if (/^(arm|arm64|aarch64)$/i.test(value)) return 'arm';
  return null;
}

export function assertDeploymentLabel(deployment: string): void {
  if (!deploymentLabelValue.test(deployment)) throw new Error(`a deployment hash must fit in a label value: ${JSON.stringify(deployment.slice(0, 80))}`);
}
