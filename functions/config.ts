import { z } from 'zod';

/**
 * Every setting the service reads, by its variable name (Worker `[vars]`/secrets, or the process
 * environment under `npm start`). Values are validated when present; whether a setting is required
 * is decided where it is used, through `requireSetting`, so a route that does not need Vault keeps
 * working when Vault is not configured.
 */
const optionalString = z
  .string()
  .transform((value) => value.trim())
  .optional()
  .transform((value) => (value === '' ? undefined : value));

const optionalUrl = optionalString.pipe(z.url({ message: 'must be an absolute URL' }).optional());

const integerIn = (min: number, max: number, fallback: number) =>
  optionalString.pipe(
    z
      .string()
      .regex(/^\d+$/, 'must be a whole number')
      .transform(Number)
      .pipe(z.number().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`))
      .optional()
      .transform((value) => value ?? fallback),
  );

const securityKey = optionalString.pipe(
  z
    .string()
    .transform((value, ctx) => {
      const key = decodeSecurityKey(value);
      if (!key) {
        ctx.addIssue({ code: 'custom', message: 'must be 32 bytes: 32 characters, or base64 of 32 bytes' });
        return z.NEVER;
      }
      return key;
    })
    .optional(),
);

export const configSchema = z.object({
  DATABASE_URL: optionalString.pipe(
    z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
      .optional(),
  ),
  /** host:port of a WebSocket-to-TCP proxy for the Neon driver (local runs and tests only). */
  DATABASE_WS_PROXY: optionalString.pipe(z.string().regex(/^[^/\s]+:\d{1,5}$/, 'must be host:port').optional()),
  AUTH_URL: optionalUrl,
  OAUTH_JWKS_URL: optionalUrl,
  OAUTH_ISSUER: optionalString,
  OAUTH_AUDIENCE: optionalString,
  /**
   * The JWT header `typ` the provider gives its access tokens (RFC 9068: at+jwt). When set, a JWT
   * bearer without it (an ID token, say) is refused; unset, `typ` is not checked.
   */
  OAUTH_ACCESS_TOKEN_TYP: optionalString.pipe(z.string().regex(/^[\w.+/-]{1,64}$/, 'must be a media type like at+jwt').optional()),
  /** The dashboard's sign-in (authorization code + PKCE): the provider's endpoints and this app's client id. */
  OAUTH_AUTHORIZE_URL: optionalUrl,
  OAUTH_TOKEN_URL: optionalUrl,
  OAUTH_CLIENT_ID: optionalString,
  /** The public client of terminals (`stacker login`: code + PKCE, loopback redirect), told by GET /auth/config. */
  OAUTH_CLI_CLIENT_ID: optionalString.pipe(z.string().default('stacker-cli')),
  OAUTH_SCOPE: optionalString.pipe(z.string().default('openid profile email')),
  VAULT_ADDRESS: optionalUrl,
  VAULT_TOKEN: optionalString,
  VAULT_AGENT_PATH_PREFIX: optionalString.pipe(z.string().default('agent')),
  /**
   * The keys under <prefix>/<deployment_hash>/ that receive an agent's token: `token` is where the
   * reference writes and older agents read, `status_panel_token` where the current agent reads.
   */
  VAULT_AGENT_TOKEN_KEYS: optionalString.pipe(
    z
      .string()
      .regex(/^[a-z_]+(,[a-z_]+)*$/, 'must be a comma-separated list of key names')
      .default('token,status_panel_token')
      .transform((value) => value.split(',')),
  ),
  /** debug, info (one line per request), warn or error. */
  LOG_LEVEL: optionalString.pipe(z.enum(['debug', 'info', 'warn', 'error'], { message: 'must be debug, info, warn or error' }).default('info')),
  /** "on": agent requests must carry X-Agent-Signature, X-Timestamp and X-Request-Id. */
  AGENT_REQUIRE_SIGNATURE: optionalString.pipe(z.enum(['on', 'off'], { message: 'must be "on" or "off"' }).default('off')),
  /**
   * "on": API clients may still sign the body alone (stacker-id + stacker-hash, no timestamp or nonce),
   * a signature that can be replayed forever. Off by default: see docs/api-clients.md.
   */
  HMAC_BODY_ONLY: optionalString.pipe(z.enum(['on', 'off'], { message: 'must be "on" or "off"' }).default('off')),
  QSTASH_URL: optionalUrl,
  QSTASH_TOKEN: optionalString,
  QSTASH_CURRENT_SIGNING_KEY: optionalString,
  QSTASH_NEXT_SIGNING_KEY: optionalString,
  INSTALL_SERVICE_URL: optionalUrl,
  INSTALL_WEBHOOK_SECRET: optionalString,
  DOCKERHUB_URL: optionalUrl.pipe(z.string().default('https://hub.docker.com')),
  DOCKERHUB_CHECK: optionalString.pipe(z.enum(['on', 'off'], { message: 'must be "on" or "off"' }).default('on')),
  SECURITY_KEY: securityKey,
  AGENT_BASE_URL: optionalUrl,
  MAX_CLIENTS_NUMBER: integerIn(1, 1000, 2),
  /** A deployment not finished this many minutes after it started ends as timed_out. */
  DEPLOY_TIMEOUT_MINUTES: integerIn(1, 7 * 24 * 60, 60),
  PORT: integerIn(1, 65535, 8000),
  /**
   * Who carries out a deploy: `install-service` (jobs to INSTALL_SERVICE_URL, the default when it is
   * set) or `builtin` (the deployment's Durable Object drives the server's agent; the default otherwise).
   */
  DEPLOY_ENGINE: optionalString.pipe(z.enum(['builtin', 'install-service'], { message: 'must be "builtin" or "install-service"' }).optional()),
  /** The agent container the install command starts. */
  AGENT_IMAGE: optionalString.pipe(
    z
      .string()
      .regex(/^[a-z0-9][a-z0-9._/-]{0,200}(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$/, 'must be an image reference like trydirect/status:v0.2.1')
      .default('trydirect/status:v0.2.1'),
  ),
  /** The built-in engine's deadlines: the agent online after the install command, the stack healthy after its apply. */
  DEPLOY_AGENT_TIMEOUT_SECONDS: integerIn(1, 7 * 24 * 3600, 900),
  DEPLOY_HEALTH_TIMEOUT_SECONDS: integerIn(1, 24 * 3600, 300),
  /** How long an install command may be used (once) after it was issued. */
  DEPLOY_ENROLLMENT_TTL_SECONDS: integerIn(60, 30 * 24 * 3600, 24 * 3600),
  /** How long a server created in the user's cloud may take to run, from the create. */
  DEPLOY_SERVER_TIMEOUT_SECONDS: integerIn(1, 24 * 3600, 600),
  /** "on": a server Stacker created for a deployment that failed before its stack ran is kept (for debugging) instead of deleted. */
  DEPLOY_KEEP_FAILED_SERVERS: optionalString.pipe(z.enum(['on', 'off'], { message: 'must be "on" or "off"' }).default('off')),
  /** The cloud providers' API bases (stand-ins under npm start and in tests). */
  HETZNER_API_URL: optionalUrl.pipe(z.string().default('https://api.hetzner.cloud/v1')),
  DIGITALOCEAN_API_URL: optionalUrl.pipe(z.string().default('https://api.digitalocean.com/v2')),
  /** The address servers reach this service at (install commands, the agent's DASHBOARD_URL); default: the request's origin. */
  PUBLIC_URL: optionalString.pipe(z.url({ message: 'must be an absolute URL' }).regex(/^https?:\/\/[^/?#\s]+\/?$/, 'must be an origin like https://stacker.example.com').optional()),
  /**
   * "on": the service runs behind Cloudflare, which sets CF-Connecting-IP itself, so it names the caller's
   * address (per-address rate limits). "off" (default): the header is anyone's to send and is ignored;
   * callers without credentials then share one bucket.
   */
  TRUST_CF_CONNECTING_IP: optionalString.pipe(z.enum(['on', 'off'], { message: 'must be "on" or "off"' }).default('off')),
  /** Requests per minute per caller (a token bucket refilled continuously); 0 turns that limit off. */
  RATE_LIMIT_USER_PER_MINUTE: integerIn(0, 1_000_000, 600),
  RATE_LIMIT_CLIENT_PER_MINUTE: integerIn(0, 1_000_000, 600),
  RATE_LIMIT_AGENT_PER_MINUTE: integerIn(0, 1_000_000, 300),
  /** Per IP address (see TRUST_CF_CONNECTING_IP), for callers without credentials (health checks, first registration). */
  RATE_LIMIT_ANONYMOUS_PER_MINUTE: integerIn(0, 1_000_000, 120),
  /**
   * Failed authentications (a 401 to a bearer, an API client's signature, an agent's token, or a
   * dashboard sign-in callback) per IP address per minute; past it, 429 with Retry-After. 0 turns it off.
   */
  RATE_LIMIT_AUTH_FAILURES_PER_MINUTE: integerIn(0, 1_000_000, 30),
  /**
   * Browser origins allowed to call the API with credentials (comma-separated, e.g.
   * https://console.example.com). Unset: no CORS headers, so browsers allow same-origin calls only.
   */
  CORS_ALLOWED_ORIGINS: optionalString.pipe(
    z
      .string()
      .transform((value) => value.split(',').map((origin) => origin.trim()).filter(Boolean))
      .pipe(z.array(z.string().regex(/^https?:\/\/[^/\s,]+$/, 'must be origins like https://console.example.com (scheme and host, no path)')))
      .default([]),
  ),
});

export type Config = z.output<typeof configSchema>;

/** The engine that carries out deploys under this configuration (DEPLOY_ENGINE, else by INSTALL_SERVICE_URL). */
export const deployEngineOf = (config: Config): 'builtin' | 'install-service' =>
  config.DEPLOY_ENGINE ?? (config.INSTALL_SERVICE_URL ? 'install-service' : 'builtin');
export type SettingName = keyof Config;
export const settingNames = Object.keys(configSchema.shape) as SettingName[];

/** A setting that is missing or malformed. Answered as 503: the service is not usable as configured. */
export class ConfigError extends Error {
  readonly settings: string[];
  constructor(message: string, settings: string[]) {
    super(message);
    this.name = 'ConfigError';
    this.settings = settings;
  }
}

/** Parses the settings out of a bindings/environment object. Throws ConfigError naming each bad variable. */
export function parseConfig(source: Record<string, unknown>): Config {
  const input: Record<string, unknown> = {};
  for (const name of settingNames) {
    const value = source[name];
    if (typeof value === 'string') input[name] = value;
    else if (typeof value === 'number' || typeof value === 'boolean') input[name] = String(value);
  }
  const result = configSchema.safeParse(input);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${String(issue.path[0])} ${issue.message}`);
    const names = [...new Set(result.error.issues.map((issue) => String(issue.path[0])))];
    throw new ConfigError(`Invalid configuration: ${problems.join('; ')}`, names);
  }
  return result.data;
}

const parsedByBindings = new WeakMap<object, Config>();

/** parseConfig, remembered per bindings object (plain data, safe to keep per isolate). */
export function configFromBindings(bindings: object): Config {
  let config = parsedByBindings.get(bindings);
  if (!config) {
    config = parseConfig(bindings as Record<string, unknown>);
    parsedByBindings.set(bindings, config);
  }
  return config;
}

/** Returns a setting that the caller cannot do without, or throws a ConfigError naming it. */
export function requireSetting<K extends SettingName>(config: Config, name: K): NonNullable<Config[K]> {
  const value = config[name];
  if (value === undefined || value === null) {
    throw new ConfigError(`${name} is not set`, [name]);
  }
  return value as NonNullable<Config[K]>;
}

function decodeSecurityKey(value: string): Uint8Array | undefined {
  const utf8 = new TextEncoder().encode(value);
  if (utf8.length === 32) return utf8;
  if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(value)) {
    try {
      const binary = atob(value.replace(/-/g, '+').replace(/_/g, '/'));
      if (binary.length === 32) return Uint8Array.from(binary, (char) => char.charCodeAt(0));
    } catch {
      return undefined;
    }
  }
  return undefined;
}
