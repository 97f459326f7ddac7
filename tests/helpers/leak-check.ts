// Secrets never leak (issue 7): the scan behind the check that tests/global-setup.ts runs at the end of
// the suite over every log line and response body (gathered by tests/helpers/leak-collector.ts).
// Plain code, no I/O: it runs in Node for the check and in workerd for tests/unit/leak-check.test.ts.
import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';

/** A stored secret, in clear. The kind names it in reports; the value is never printed. */
export interface Secret {
  kind: string;
  value: string;
}

/** Secrets known only by their SHA-256 (agent tokens made by tests, whose database keeps the hash). */
export interface HashedSecrets {
  kind: string;
  /** Lowercase hex SHA-256 of each secret. */
  sha256: ReadonlySet<string>;
  /** Every secret of this kind is a whole match of this pattern (it must have the g flag). */
  candidates: RegExp;
}

/** A text to search: one log line, or one response body. */
export interface Collected {
  source: 'log' | 'response';
  /** Which test it came from (and for a response, which request): for the report. */
  where: string;
  text: string;
  /** For responses, what the exemptions match on. */
  method?: string;
  path?: string;
}

export interface Leak {
  kind: string;
  /** How it appeared: "in clear", "base64", "hex", ... */
  form: string;
  source: Collected['source'];
  where: string;
}

/** A response whose purpose is to hand a secret to its owner once. */
export interface Exemption {
  method: string;
  path: RegExp;
  kind: string;
  /** The secret(s) the response hands over: only these values, in clear, are excused. */
  handedOver(body: unknown): unknown[];
  /** How the body is read for handedOver: JSON unless the response is a page (then its own reader). */
  parse?: (text: string) => unknown;
}

/** The dashboard's one-time page (functions/dashboard/api-clients.tsx): the secret in its own element. */
const NEW_CLIENT_SECRET = /<code id="new-client-secret"[^>]*>([A-Za-z0-9_-]+)<\/code>/;
const dashboardSecret = (text: string) => NEW_CLIENT_SECRET.exec(text)?.[1];

/** The exemption's reading of a body, or undefined when it cannot read it. */
function readBody(exemption: Exemption, text: string): { body: unknown } | undefined {
  try {
    return { body: (exemption.parse ?? JSON.parse)(text) };
  } catch {
    return undefined;
  }
}

export const CLIENT_SECRET = 'API client secret';
export const AGENT_TOKEN = 'agent token';
export const PROJECT_SECRET = 'project secret';
/**
 * A project secret that is one lowercase word ("password", the value the reference's fixture gives
 * PGPASSWORD) is in many pages as that word: it is not searched for, as values too short are not.
 * Every secret Stacker generates is 64 mixed letters and digits, and searched.
 */
export const searchedProjectSecret = (value: unknown): boolean => typeof value === 'string' && !/^[a-z]+$/.test(value);
/** Where an agent token could stand in a text: a whole run of 32–256 token characters (agentTokenSchema). */
export const AGENT_TOKEN_CANDIDATES = /(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{32,256}(?![A-Za-z0-9_-])/g;

const item = (body: unknown) => (body as { item?: Record<string, unknown> } | null)?.item;

export const EXEMPTIONS: readonly Exemption[] = [
  // functions/api/clients.ts: creation, renewal and re-enabling answer with the new secret.
  { method: 'POST', path: /^\/client$/, kind: CLIENT_SECRET, handedOver: (body) => [item(body)?.secret] },
  { method: 'PUT', path: /^\/(admin\/)?client\/\d+(\/enable)?$/, kind: CLIENT_SECRET, handedOver: (body) => [item(body)?.secret] },
  // functions/dashboard/api-clients.tsx: the pages that create, renew or re-enable a client show its new secret once.
  { method: 'POST', path: /^\/clients(\/\d+\/(renew|enable))?$/, kind: CLIENT_SECRET, parse: dashboardSecret, handedOver: (secret) => [secret] },
  // functions/api/agents.ts: registration answers with the token in item and again in data.item.
  {
    method: 'POST',
    path: /^\/api\/v1\/agent\/register$/,
    kind: AGENT_TOKEN,
    handedOver: (body) => [item(body)?.agent_token, item((body as { data?: unknown } | null)?.data)?.agent_token],
  },
  // functions/api/install.ts: an install command's enrollment answers the agent's env file, token included.
  {
    method: 'POST',
    path: /^\/install\/[A-Za-z0-9_-]+\/enroll$/,
    kind: AGENT_TOKEN,
    parse: (text) => /^AGENT_TOKEN=(.*)$/m.exec(text)?.[1],
    handedOver: (token) => [token],
  },
  // functions/api/agents-admin.ts: rotation answers with the new token.
  { method: 'POST', path: /^\/admin\/agent\/[^/]+\/rotate-token$/, kind: AGENT_TOKEN, handedOver: (body) => [item(body)?.agent_token] },
  // functions/api/project-secrets.ts: the owner asks for one secret's value (reveal).
  { method: 'GET', path: /^\/project\/\d+\/secrets\/[A-Za-z0-9_]+$/, kind: PROJECT_SECRET, handedOver: (body) => [item(body)?.value].filter(searchedProjectSecret) },
  // functions/dashboard/builder/secrets.tsx: the secrets page shows one value its owner asked to reveal.
  {
    method: 'POST',
    path: /^\/projects\/\d+\/secrets\/[A-Za-z0-9_]+\/reveal$/,
    kind: PROJECT_SECRET,
    parse: (text) => /<code id="revealed-secret"[^>]*>([^<]*)<\/code>/.exec(text)?.[1],
    handedOver: (value) => [value].filter(searchedProjectSecret),
  },
  // functions/api/agents.ts: the deploy step hands the agent the project's secrets as deploy_app's env_vars.
  {
    method: 'GET',
    path: /^\/api\/v1\/agent\/commands\/wait\/[^/]+$/,
    kind: PROJECT_SECRET,
    handedOver: (body) => {
      const parameters = (item(body) as { parameters?: { env_vars?: unknown } } | undefined)?.parameters;
      const envVars = parameters?.env_vars;
      return envVars && typeof envVars === 'object' ? Object.values(envVars as Record<string, unknown>).filter(searchedProjectSecret) : [];
    },
  },
];

/** Shorter values (or ones like "********") would match by chance: they are counted, not searched. */
export const MIN_SECRET_LENGTH = 8;
const MIN_DISTINCT_CHARACTERS = 4;

export function isSearchable(value: string): boolean {
  return value.length >= MIN_SECRET_LENGTH && new Set(value).size >= MIN_DISTINCT_CHARACTERS;
}

const toBase64Url = (base64: string) => base64.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

/**
 * The base64 of `bytes` wherever they start in a longer encoded text (e.g. "user:secret" in a Basic
 * header): for each of the 3 alignments, the characters that depend on these bytes alone.
 */
function base64Cores(bytes: Buffer): string[] {
  const cores: string[] = [];
  for (let offset = 0; offset < 3; offset++) {
    const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString('base64').replace(/=+$/, '');
    // Drop the first group when it mixes in the bytes before, and a last group left incomplete.
    const core = encoded.slice(offset === 0 ? 0 : 4, Math.floor((offset + bytes.length) / 3) * 4);
    if (core.length >= 12) cores.push(core);
  }
  return cores;
}

/** The forms in which a service could plausibly print a secret, each with a name for the report. */
export function formsOf(value: string): Map<string, string> {
  const forms = new Map<string, string>();
  const add = (form: string, text: string) => {
    if (text.length >= MIN_SECRET_LENGTH && !forms.has(text)) forms.set(text, form);
  };
  add('in clear', value);
  add('JSON-escaped', JSON.stringify(value).slice(1, -1));
  add('URL-encoded', encodeURIComponent(value));
  const bytes = Buffer.from(value, 'utf8');
  for (const core of base64Cores(bytes)) {
    add('base64', core);
    add('base64url', toBase64Url(core));
  }
  add('hex', bytes.toString('hex'));
  add('hex', bytes.toString('hex').toUpperCase());
  // Keys that are themselves encodings (SECURITY_KEY is base64, webhook secrets are hex): their bytes
  // printed in the other encoding.
  const decoded = /^[0-9a-f]+$/i.test(value) && value.length % 2 === 0
    ? Buffer.from(value, 'hex')
    : /^[A-Za-z0-9+/_-]+={0,2}$/.test(value)
      ? Buffer.from(value.replace(/-/g, '+').replace(/_/g, '/'), 'base64')
      : undefined;
  if (decoded && decoded.length >= 16) {
    add('decoded, as hex', decoded.toString('hex'));
    add('decoded, as base64', decoded.toString('base64').replace(/=+$/, ''));
    add('decoded, as base64url', toBase64Url(decoded.toString('base64')));
  }
  return forms;
}

interface Needle {
  text: string;
  form: string;
  secret: Secret;
}

// Needles are indexed by a hash of their first PREFIX characters; the same hash of each window of a
// text is rolled along it (Rabin–Karp), so a text is read once whatever the number of secrets.
const PREFIX = MIN_SECRET_LENGTH;
const BASE = 31;
let power = 1;
for (let i = 1; i < PREFIX; i++) power = Math.imul(power, BASE);
const LEADING_POWER = power;

function prefixHash(text: string): number {
  let hash = 0;
  for (let i = 0; i < PREFIX; i++) hash = (Math.imul(hash, BASE) + text.charCodeAt(i)) | 0;
  return hash;
}

/**
 * Searches every text for every form of every secret, and for every candidate whose SHA-256 is a known
 * hashed secret. Returns the leaks, without the secrets' values. `exemptions` excuses a secret in clear
 * only in a response to a matching request, and only the very value that response hands over.
 */
export function scanForSecrets(
  texts: Iterable<Collected>,
  secrets: readonly Secret[],
  hashed: readonly HashedSecrets[] = [],
  exemptions: readonly Exemption[] = EXEMPTIONS,
): Leak[] {
  const byPrefix = new Map<number, Needle[]>();
  for (const secret of secrets) {
    if (!isSearchable(secret.value)) continue;
    for (const [text, form] of formsOf(secret.value)) {
      const key = prefixHash(text);
      const list = byPrefix.get(key) ?? [];
      list.push({ text, form, secret });
      byPrefix.set(key, list);
    }
  }
  const hashOf = new Map<string, string>();
  const sha256 = (text: string) => {
    let hash = hashOf.get(text);
    if (hash === undefined) {
      hash = createHash('sha256').update(text).digest('hex');
      hashOf.set(text, hash);
    }
    return hash;
  };

  const leaks: Leak[] = [];
  for (const collected of texts) {
    const found: Array<{ kind: string; form: string; value: string; text: string }> = [];
    const text = collected.text;
    let hash = 0;
    for (let end = 0; end < text.length; end++) {
      if (end >= PREFIX) hash = (hash - Math.imul(text.charCodeAt(end - PREFIX), LEADING_POWER)) | 0;
      hash = (Math.imul(hash, BASE) + text.charCodeAt(end)) | 0;
      const needles = end >= PREFIX - 1 ? byPrefix.get(hash) : undefined;
      if (!needles) continue;
      const start = end - PREFIX + 1;
      for (const needle of needles) {
        if (text.startsWith(needle.text, start)) found.push({ kind: needle.secret.kind, form: needle.form, value: needle.secret.value, text: needle.text });
      }
    }
    for (const { kind, sha256: known, candidates } of hashed) {
      for (const [candidate] of text.matchAll(candidates)) {
        if (known.has(sha256(candidate))) found.push({ kind, form: 'in clear', value: candidate, text: candidate });
      }
    }
    if (found.length === 0) continue;

    // One leak per secret and text, in clear if it is there in clear. A secret handed over is excused
    // in clear, with the forms that are part of it (base64 without its padding), and nowhere else; a
    // JSON answer hands it over JSON-escaped (a value its owner set may hold a quote).
    const excused = excusedValues(collected, exemptions);
    const perSecret = new Map<string, { kind: string; form: string }>();
    for (const { kind, form, value, text: match } of found) {
      if (excused.get(kind)?.has(value) && (value.includes(match) || form === 'JSON-escaped')) continue;
      const key = `${kind}\u0000${value}`;
      const seen = perSecret.get(key);
      if (!seen || (seen.form !== 'in clear' && form === 'in clear')) perSecret.set(key, { kind, form });
    }
    for (const { kind, form } of perSecret.values()) leaks.push({ kind, form, source: collected.source, where: collected.where });
  }
  return leaks;
}

/** For a response that hands a secret to its owner: which values of which kind it may carry. */
function excusedValues(collected: Collected, exemptions: readonly Exemption[]): Map<string, Set<unknown>> {
  const excused = new Map<string, Set<unknown>>();
  if (collected.source !== 'response') return excused;
  const matching = exemptions.filter((exemption) => exemption.method === collected.method && exemption.path.test(collected.path ?? ''));
  for (const exemption of matching) {
    const read = readBody(exemption, collected.text);
    if (!read) continue;
    const values = excused.get(exemption.kind) ?? new Set<unknown>();
    for (const value of exemption.handedOver(read.body)) if (typeof value === 'string') values.add(value);
    excused.set(exemption.kind, values);
  }
  return excused;
}

/**
 * Secrets handed over by the responses that exist for that (new client secrets, agent tokens): also
 * those replaced since, which the database and Vault no longer hold.
 */
export function handedOverSecrets(texts: readonly Collected[], exemptions: readonly Exemption[] = EXEMPTIONS): Secret[] {
  const secrets: Secret[] = [];
  for (const collected of texts) {
    if (collected.source !== 'response') continue;
    for (const exemption of exemptions) {
      if (exemption.method !== collected.method || !exemption.path.test(collected.path ?? '')) continue;
      const read = readBody(exemption, collected.text);
      if (!read) continue;
      for (const value of exemption.handedOver(read.body)) if (typeof value === 'string') secrets.push({ kind: exemption.kind, value });
    }
  }
  return secrets;
}

/** One line per leak, grouped: never a secret, only its kind, its form and where it appeared. */
export function describeLeaks(leaks: readonly Leak[]): string {
  const counts = new Map<string, number>();
  for (const leak of leaks) {
    const line = `${leak.kind} (${leak.form}) in a ${leak.source === 'log' ? 'log line' : 'response body'}: ${leak.where}`;
    counts.set(line, (counts.get(line) ?? 0) + 1);
  }
  return [...counts].map(([line, count]) => `  - ${line}${count > 1 ? ` (×${count})` : ''}`).join('\n');
}
