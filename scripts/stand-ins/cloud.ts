// What the Hetzner Cloud and DigitalOcean stand-ins (hetzner.ts, digitalocean.ts) share: a loopback
// HTTP server, one account (project) per token with its own servers, and the faults tests ask for.
// Each provider module speaks its own wire format; this one never answers the API itself.
//
// Controls, in process (the returned object) or over HTTP under /__stand-in/ (the account's token as
// the bearer, so tests running in workerd can drive a stand-in started by the global setup):
//   POST /__stand-in/accounts {"token"}                 another account (no bearer needed)
//   POST /__stand-in/rate-limit {"retry_after", "times"} the next `times` API calls answer 429
//   POST /__stand-in/lose-next-create {"how"}           the next create creates the server, then drops
//                                                        the connection ("drop") or answers 503 ("503")
//   POST /__stand-in/boot-after {"ms"}                  created servers run after ms; null: on /boot only
//   POST /__stand-in/servers/{id}/boot                  the server runs now
//   GET  /__stand-in/servers                            the account's servers, deleted ones too, with user data
//   GET  /__stand-in/requests                           the account's API calls: method, path, status
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

export interface StandInServer {
  id: number;
  name: string;
  /** The provider's status word (Hetzner initializing/running, DigitalOcean new/active). */
  status: string;
  type: string;
  location: string;
  image: string;
  userData: string;
  /** Hetzner labels; DigitalOcean keeps its tags in `tags`. */
  labels: Record<string, string>;
  tags: string[];
  sshKeys: unknown[];
  ipv4: string | null;
  createdAt: string;
  deletedAt: string | null;
  /** The provider's JSON of the server's type, image and location, as the create found them. */
  details: Record<string, unknown>;
}

export interface RequestRecord {
  method: string;
  path: string;
  status: number;
  /** When it came (milliseconds since the epoch). */
  at: number;
}

export interface Account {
  token: string;
  servers: Map<number, StandInServer>;
  requests: RequestRecord[];
  rateLimit: { retryAfter: number; times: number } | null;
  loseNextCreate: 'drop' | '503' | null;
  bootAfterMs: number | null;
}

export interface CloudStandInOptions {
  /** The token of the first account. */
  token: string;
  /** Any bearer token opens an account on first use (npm start: whatever token a newcomer saved works). */
  acceptAnyToken?: boolean;
  /** The public IPv4 address of the n-th server created (from 1); default TEST-NET-3, 203.0.113.n. */
  address?: string | ((n: number) => string);
  /** Created servers run this long after their create; null: only when told (boot). Default 500 ms. */
  bootAfterMs?: number | null;
  /** Called once per created server (answer lost or not), e.g. to "boot" it by running its user data. */
  onServerCreated?: (server: StandInServer) => void | Promise<void>;
  onServerDeleted?: (server: StandInServer) => void | Promise<void>;
}

export interface CloudStandIn {
  /** http://127.0.0.1:<port>: the controls are under /__stand-in/. */
  url: string;
  /** The API base to configure (HETZNER_API_URL, DIGITALOCEAN_API_URL). */
  apiUrl: string;
  addAccount(token: string): void;
  rateLimitNext(token: string, options?: { retryAfterSeconds?: number; times?: number }): void;
  loseNextCreate(token: string, how?: 'drop' | '503'): void;
  setBootAfter(token: string, ms: number | null): void;
  /** The server runs now (with its address). False if there is no such server, or it is deleted. */
  boot(id: number): boolean;
  servers(token: string): StandInServer[];
  requests(token: string): RequestRecord[];
  close(): Promise<void>;
}

export interface ApiRequest {
  method: string;
  /** The path under the API base, e.g. /servers/42. */
  path: string;
  query: URLSearchParams;
  /** The parsed JSON body; `invalid` when it was not JSON. */
  body: unknown;
  /** The URL the request was made to, for DigitalOcean's absolute links. */
  url: URL;
}

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** What a provider module gives the shared server. */
export interface Flavor {
  basePath: string;
  /** The provider's error body. */
  error(status: number, code: string, message: string): Reply;
  unauthorized: Reply;
  rateLimited(retryAfterSeconds: number): Reply;
  serviceUnavailable: Reply;
  /** Answers an API call of an account; `create` registers a new server (and reports it to the hooks). */
  route(request: ApiRequest, account: Account, tools: FlavorTools): Reply | Promise<Reply>;
  /** The provider's status word for a server that runs. */
  runningStatus: string;
  /** Whether the address is assigned at create (Hetzner) or once the server runs (DigitalOcean). */
  addressAtCreate: boolean;
}

export interface FlavorTools {
  /** Stores a new server: ID, address, timers and hooks. Returns it for the provider's answer. */
  create(account: Account, server: Omit<StandInServer, 'id' | 'ipv4' | 'createdAt' | 'deletedAt'>): StandInServer;
  delete(account: Account, server: StandInServer): void;
  now(): string;
}

const CONTROL = '/__stand-in';

export async function startCloudStandIn(flavor: Flavor, options: CloudStandInOptions): Promise<CloudStandIn> {
  const accounts = new Map<string, Account>();
  const timers = new Set<NodeJS.Timeout>();
  let serversMade = 0;
  let nextId = 1000 + Math.floor(Math.random() * 1000);
  const defaultBoot = options.bootAfterMs === undefined ? 500 : options.bootAfterMs;
  const addressOf = (n: number) =>
    typeof options.address === 'function' ? options.address(n) : (options.address ?? `203.0.113.${((n - 1) % 254) + 1}`);

  const addAccount = (token: string) => {
    if (!accounts.has(token)) {
      accounts.set(token, { token, servers: new Map(), requests: [], rateLimit: null, loseNextCreate: null, bootAfterMs: defaultBoot });
    }
  };
  addAccount(options.token);
  const accountOf = (token: string) => {
    const account = accounts.get(token);
    if (!account) throw new Error('no such stand-in account');
    return account;
  };

  const boot = (id: number) => {
    for (const account of accounts.values()) {
      const server = account.servers.get(id);
      if (!server || server.deletedAt) continue;
      server.status = flavor.runningStatus;
      server.ipv4 ??= server.details.address as string;
      return true;
    }
    return false;
  };

  const tools: FlavorTools = {
    now: () => new Date().toISOString(),
    create(account, fields) {
      const n = ++serversMade;
      const address = addressOf(n);
      const server: StandInServer = {
        ...fields,
        id: nextId++,
        ipv4: flavor.addressAtCreate ? address : null,
        createdAt: new Date().toISOString(),
        deletedAt: null,
        details: { ...fields.details, address },
      };
      account.servers.set(server.id, server);
      if (account.bootAfterMs !== null) {
        const timer = setTimeout(() => {
          timers.delete(timer);
          boot(server.id);
        }, account.bootAfterMs);
        timers.add(timer);
      }
      void Promise.resolve(options.onServerCreated?.(server)).catch((error: unknown) => console.error('stand-in: onServerCreated failed:', error));
      return server;
    },
    delete(_account, server) {
      server.deletedAt = new Date().toISOString();
      server.status = 'deleted';
      void Promise.resolve(options.onServerDeleted?.(server)).catch((error: unknown) => console.error('stand-in: onServerDeleted failed:', error));
    },
  };

  const bearerOf = (req: IncomingMessage) => /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1]?.trim();

  async function control(req: IncomingMessage, url: URL, body: unknown): Promise<Reply> {
    const path = url.pathname.slice(CONTROL.length);
    const input = (body ?? {}) as Record<string, unknown>;
    if (req.method === 'POST' && path === '/accounts') {
      if (typeof input.token !== 'string' || !input.token) return { status: 400, body: { message: 'token required' } };
      addAccount(input.token);
      return { status: 201, body: { token: input.token } };
    }
    const account = accounts.get(bearerOf(req) ?? '');
    if (!account) return { status: 401, body: { message: 'unknown account token' } };
    if (req.method === 'POST' && path === '/rate-limit') {
      account.rateLimit = { retryAfter: Number(input.retry_after ?? 1), times: Number(input.times ?? 1) };
      return { status: 200, body: account.rateLimit };
    }
    if (req.method === 'POST' && path === '/lose-next-create') {
      account.loseNextCreate = input.how === '503' ? '503' : 'drop';
      return { status: 200, body: { how: account.loseNextCreate } };
    }
    if (req.method === 'POST' && path === '/boot-after') {
      account.bootAfterMs = input.ms === null ? null : Number(input.ms);
      return { status: 200, body: { ms: account.bootAfterMs } };
    }
    const bootMatch = /^\/servers\/(\d+)\/boot$/.exec(path);
    if (req.method === 'POST' && bootMatch) {
      const id = Number(bootMatch[1]);
      return account.servers.has(id) && boot(id) ? { status: 200, body: { id } } : { status: 404, body: { message: 'no such server' } };
    }
    if (req.method === 'GET' && path === '/servers') return { status: 200, body: { servers: [...account.servers.values()] } };
    if (req.method === 'GET' && path === '/requests') return { status: 200, body: { requests: account.requests } };
    return { status: 404, body: { message: 'no such control' } };
  }

  async function handle(req: IncomingMessage, res: ServerResponse, text: string): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = 'invalid';
    }
    if (url.pathname.startsWith(`${CONTROL}/`)) return send(res, await control(req, url, body));
    if (!url.pathname.startsWith(`${flavor.basePath}/`)) return send(res, flavor.error(404, 'not_found', 'not found'));

    const bearer = bearerOf(req);
    if (bearer && options.acceptAnyToken) addAccount(bearer);
    const account = accounts.get(bearer ?? '');
    if (!account) return send(res, flavor.unauthorized);
    const record = (status: number) => account.requests.push({ method: req.method ?? 'GET', path: `${url.pathname.slice(flavor.basePath.length)}${url.search}`, status, at: Date.now() });
    if (account.rateLimit && account.rateLimit.times > 0) {
      account.rateLimit.times--;
      const reply = flavor.rateLimited(account.rateLimit.retryAfter);
      if (account.rateLimit.times <= 0) account.rateLimit = null;
      record(reply.status);
      return send(res, reply);
    }
    const request: ApiRequest = {
      method: req.method ?? 'GET',
      path: url.pathname.slice(flavor.basePath.length) || '/',
      query: url.searchParams,
      body,
      url: new URL(`${origin}${url.pathname}${url.search}`),
    };
    const serversBefore = account.servers.size;
    const reply = await flavor.route(request, account, tools);
    const created = account.servers.size > serversBefore;
    if (created && account.loseNextCreate) {
      const how = account.loseNextCreate;
      account.loseNextCreate = null;
      if (how === 'drop') {
        record(0);
        res.socket?.destroy();
        return;
      }
      record(flavor.serviceUnavailable.status);
      return send(res, flavor.serviceUnavailable);
    }
    record(reply.status);
    send(res, reply);
  }

  const server = createServer((req, res) => {
    // No keep-alive: workerd would reuse a connection the stand-in is closing.
    res.setHeader('connection', 'close');
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      handle(req, res, Buffer.concat(chunks).toString('utf8')).catch((error: unknown) => {
        if (!res.headersSent) send(res, flavor.error(500, 'server_error', `stand-in failure: ${String(error)}`));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  const origin = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;

  return {
    url: origin,
    apiUrl: `${origin}${flavor.basePath}`,
    addAccount,
    rateLimitNext(token, { retryAfterSeconds = 1, times = 1 } = {}) {
      accountOf(token).rateLimit = { retryAfter: retryAfterSeconds, times };
    },
    loseNextCreate(token, how = 'drop') {
      accountOf(token).loseNextCreate = how;
    },
    setBootAfter(token, ms) {
      accountOf(token).bootAfterMs = ms;
    },
    boot,
    servers: (token) => [...accountOf(token).servers.values()],
    requests: (token) => [...accountOf(token).requests],
    close: () =>
      new Promise<void>((resolve) => {
        for (const timer of timers) clearTimeout(timer);
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function send(res: ServerResponse, reply: Reply): void {
  if (reply.status === 204 || reply.body === undefined) {
    res.writeHead(reply.status, reply.headers ?? {}).end();
    return;
  }
  res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers }).end(JSON.stringify(reply.body));
}

/** Page `page` of `items` at `perPage` (1-based). */
export function pageOf<T>(items: T[], query: URLSearchParams, defaults: { perPage: number; maxPerPage: number }) {
  const perPage = Math.min(Math.max(Number(query.get('per_page')) || defaults.perPage, 1), defaults.maxPerPage);
  const page = Math.max(Number(query.get('page')) || 1, 1);
  const lastPage = Math.max(Math.ceil(items.length / perPage), 1);
  return { items: items.slice((page - 1) * perPage, page * perPage), page, perPage, lastPage, total: items.length };
}

export const isHostname = (name: unknown): name is string =>
  typeof name === 'string' && name.length <= 63 && /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(name);

