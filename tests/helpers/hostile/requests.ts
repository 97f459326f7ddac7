// Hostile requests for one operation of the document, as fast-check arbitraries of plans, and the
// credentials that make a plan reach validation (or, for the auth category, fail authentication).
import { env } from 'cloudflare:test';
import fc from 'fast-check';
import { agentSignature } from '../../../functions/services/agent-signature.ts';
import { hmacSha256Hex } from '../../../functions/services/crypto.ts';
import { signLikeQStash } from '../../../functions/services/queue.ts';
import { createApp, MAX_BODY_BYTES } from '../../../functions/app.ts';
import { apiOf, BASE_URL } from '../api.ts';
import { bearerFor, hmacHeaders, signJwt } from '../auth.ts';
import { installSignature } from '../deploy.ts';
import { isDashboardPath } from '../../../functions/dashboard/index.tsx';
import { brokenBodies, exampleOf, wrongContentTypes, type Hints } from './bodies.ts';
import { encodeJson, type OpenApiDocument, type Operation, type Parameter, type Schema, type Value } from './schema.ts';
import { isolated, type Seeded } from './seed.ts';

export const CATEGORIES = ['body', 'content-type', 'path', 'query', 'header', 'auth'] as const;
export type Category = (typeof CATEGORIES)[number];

export type Subject = 'anonymous' | 'user' | 'admin' | 'client' | 'agent' | 'agent-signed' | 'webhook';

type HeaderList = Array<[string, string]>;
/** The request credentials are made for: API clients sign its method and path with query. */
export interface SentRequest {
  method: string;
  url: string;
}
type Credentials = (body: Uint8Array, request: SentRequest) => Promise<HeaderList>;

/** The path and query a client signs: the URL as fetch sends it (normalised as the server reads it). */
const signedPath = (url: string) => {
  const parsed = new URL(url, BASE_URL);
  return parsed.pathname + parsed.search;
};

export interface Plan {
  category: Category;
  op: Operation;
  /** The subject the request is authenticated as, or the name of the hostile credentials. */
  who: string;
  defect: string;
  /** Path and query, as sent (percent-encoding included). */
  url: string;
  headers: HeaderList;
  body?: Uint8Array;
  credentials: Credentials;
  /** The statuses the server may answer. */
  expected: number[];
  /** Refused before credentials are looked at (an unknown path, a body over the size limit). */
  beforeAuthentication?: boolean;
}

/** Which subjects the document lets call an operation (`/admin` routes: admins). */
export function subjectsFor(op: Operation): Subject[] {
  const subjects = new Set<Subject>();
  for (const schemes of op.security) {
    if (schemes.length === 0) subjects.add('anonymous');
    else if (schemes.includes('agentId')) subjects.add('agent').add('agent-signed');
    else if (schemes.includes('bearer')) subjects.add(op.path.startsWith('/admin/') ? 'admin' : 'user');
    else if (schemes.includes('hmacClient')) subjects.add('client');
    else if (schemes.includes('installSignature') || schemes.includes('upstashSignature')) subjects.add('webhook');
  }
  return [...subjects];
}

/** Which categories of defect an operation can be sent. */
export function categoriesFor(op: Operation): Category[] {
  const has = (where: Parameter['in']) => op.parameters.some((parameter) => parameter.in === where);
  return CATEGORIES.filter((category) => {
    if (category === 'body' || category === 'content-type') return op.body !== undefined;
    if (category === 'path') return has('path');
    if (category === 'query') return has('query');
    if (category === 'header') return has('header');
    return true;
  });
}

const encoder = new TextEncoder();

/**
 * A JWT for these claims and options, signed once per run: RS256 signing is the costliest step of a
 * hostile request, and the same claims give a token refused for the same reason each time (an exp or
 * nbf given as an absolute time stays past or future for the run).
 */
const signedTokens = new Map<string, Promise<string>>();
function signedOnce(claims: Record<string, unknown>, options: Parameters<typeof signJwt>[1]): Promise<string> {
  const key = JSON.stringify([claims, options]);
  let token = signedTokens.get(key);
  if (!token) signedTokens.set(key, (token = signJwt(claims, options)));
  return token;
}

export class HostileRequests {
  readonly doc: OpenApiDocument;
  readonly seeded: Seeded;
  /** Values for properties of these names in clean bodies: the seeded rows, realistic words. */
  readonly hints: Hints;

  constructor(doc: OpenApiDocument, seeded: Seeded) {
    this.doc = doc;
    this.seeded = seeded;
    this.hints = {
      deployment_hash: seeded.deploymentHash,
      command_id: seeded.commandId,
      agrt_id: seeded.agreementId,
      obj_id: 1,
      deploy_id: seeded.deploymentId,
      app_code: 'web',
      status: 'success',
      completed_at: new Date().toISOString(),
      command_type: 'health',
      parameters: { app_code: 'web' },
      name: 'Hostile terms',
      text: 'Be nice.',
      provider: 'htz',
      rate: 5,
      category: 'Application',
      agent_version: '0.2.1',
      capabilities: ['docker'],
    };
  }

  // ---- clean parts ------------------------------------------------------------------------------

  /** The value of a path parameter that names a seeded row the caller may see. */
  validPathValue(op: Operation, name: string): string {
    const s = this.seeded;
    const byName: Record<string, string | number> = {
      deployment_hash: s.deploymentHash,
      command_id: s.commandId,
      user_id: s.userId,
      cloud_id: s.cloudId,
      deployment_id: s.deploymentId,
      // A project secret's name (issue 28): a well-formed one; PUT sets it, GET and rotate find it then.
      name: 'HOSTILE_SECRET',
      // A well-formed install command secret that names no enrollment (the hostile cases must not use one up).
      secret: 'unknown-install-secret-000000000000000000000',
    };
    if (byName[name] !== undefined) return String(byName[name]);
    const resource = op.path.split('/').filter((segment) => segment && segment !== 'admin')[0];
    const byResource: Record<string, number> = {
      project: s.projectId,
      cloud: s.cloudId,
      server: s.serverId,
      client: s.client.id,
      rating: s.ratingId,
      agreement: s.agreementId,
    };
    const id = resource === undefined ? undefined : byResource[resource];
    if (id === undefined) throw new Error(`no seeded value for {${name}} of ${op.key}`);
    return String(id);
  }

  /** A body the operation would accept (the suite checks each one conforms to its schema). */
  cleanBody(op: Operation): Value | undefined {
    if (!op.body) return undefined;
    return exampleOf(this.doc, op.body.schema, this.hints);
  }

  url(op: Operation, pathValues: Record<string, string> = {}, query = ''): string {
    const path = op.path.replace(/\{([^}]+)\}/g, (_, name: string) => pathValues[name] ?? this.validPathValue(op, name));
    return `${path}${query ? `?${query}` : ''}`;
  }

  // ---- credentials ------------------------------------------------------------------------------

  credentialsOf(subject: Subject): Credentials {
    const s = this.seeded;
    return async (body, request) => {
      switch (subject) {
        case 'anonymous':
          return [];
        case 'user':
          return Object.entries(bearerFor('group_user', s.userId));
        case 'admin':
          return Object.entries(bearerFor('group_admin', s.adminId));
        case 'client':
          // The nonce's prefix: a correctly signed request records it (seed.ts EXPECTED_CHANGES).
          return Object.entries(await hmacHeaders(s.client, request.method, signedPath(request.url), body, { nonce: `hostilesigned${crypto.randomUUID().replace(/-/g, '')}` }));
        case 'agent':
          return [
            ['x-agent-id', s.agent.agentId],
            ['authorization', `Bearer ${s.agent.token}`],
          ];
        case 'agent-signed':
          return [
            ['x-agent-id', s.agent.agentId],
            ['authorization', `Bearer ${s.agent.token}`],
            ['x-timestamp', String(Math.floor(Date.now() / 1000))],
            ['x-request-id', `hostile-signed-${crypto.randomUUID()}`],
            ['x-agent-signature', await agentSignature(s.agent.token, body)],
          ];
        case 'webhook':
          return [['x-install-signature', await installSignature(env.INSTALL_WEBHOOK_SECRET as string, body)]];
      }
    };
  }

  /** Credentials that must not authenticate anyone: malformed, duplicated, forged, stale. */
  hostileCredentials(op: Operation): Array<{ name: string; headers: Credentials }> {
    const s = this.seeded;
    const agentToken = `Bearer ${s.agent.token}`;
    const now = Math.floor(Date.now() / 1000);
    const fixed = (name: string, headers: HeaderList) => ({ name, headers: async () => headers });
    const signedAgent = (name: string, change: (headers: Record<string, string>, body: Uint8Array) => Promise<void> | void) => ({
      name,
      headers: async (body: Uint8Array) => {
        const headers: Record<string, string> = {
          'x-agent-id': s.agent.agentId,
          authorization: agentToken,
          'x-timestamp': String(now),
          // Not the "hostile-signed-" prefix: a refused signature must never record its request id.
          'x-request-id': `hostile-refused-${crypto.randomUUID()}`,
          'x-agent-signature': await agentSignature(s.agent.token, body),
        };
        await change(headers, body);
        return Object.entries(headers);
      },
    });
    // Signed as docs/api-clients.md says (stacker-timestamp, stacker-nonce); `hash` gives stacker-hash
    // from a signer that signs this request (fresh nonce) with a secret, and `change` edits the headers.
    type Signer = (secret: string, body?: Uint8Array) => Promise<string>;
    const client = (name: string, id: string, hash: (sign: Signer) => Promise<string | undefined>, change?: (headers: Record<string, string>) => void) => ({
      name,
      headers: async (body: Uint8Array, request: SentRequest) => {
        // Not the "hostilesigned" prefix: a refused request must never record its nonce.
        const options = { timestamp: now, nonce: `hostilerefused${crypto.randomUUID().replace(/-/g, '')}` };
        const sign: Signer = async (secret, signedBody = body) =>
          (await hmacHeaders({ id: 0, secret }, request.method, signedPath(request.url), signedBody, options))['stacker-hash']!;
        const headers: Record<string, string> = { 'stacker-id': id, 'stacker-timestamp': String(options.timestamp), 'stacker-nonce': options.nonce };
        const value = await hash(sign);
        if (value !== undefined) headers['stacker-hash'] = value;
        change?.(headers);
        return Object.entries(headers);
      },
    });
    const validHash = (secret: string) => (sign: Signer) => sign(secret);
    const jwt = (name: string, claims: Record<string, unknown>, options: Parameters<typeof signJwt>[1]) => ({
      name,
      headers: async () => [['authorization', `Bearer ${await signedOnce(claims, options)}`]] as HeaderList,
    });
    const admin = { sub: s.adminId, role: 'group_admin', email: 'a@example.test' };

    const sets = [
      // Authorization: Bearer, malformed or forged
      fixed('Bearer with nothing', [['authorization', 'Bearer']]),
      fixed('Bearer and spaces', [['authorization', 'Bearer   ']]),
      fixed('lower-case scheme', [['authorization', `bearer user-group_admin-${s.adminId}`]]),
      fixed('Basic scheme', [['authorization', 'Basic aG9zdGlsZTpob3N0aWxl']]),
      fixed('token with a space', [['authorization', `Bearer user-group_admin-${s.adminId} x`]]),
      fixed('two bearers in one header', [['authorization', `Bearer user-group_user-${s.userId}, Bearer user-group_admin-${s.adminId}`]]),
      fixed('two Authorization headers', [
        ['authorization', `Bearer user-group_user-${s.userId}`],
        ['authorization', `Bearer user-group_admin-${s.adminId}`],
      ]),
      fixed('non-ASCII token', [['authorization', 'Bearer t\u00f6k\u00e9n']]),
      fixed('8 KiB token', [['authorization', `Bearer ${'A'.repeat(8192)}`]]),
      fixed('unknown opaque token', [['authorization', 'Bearer hostile-unknown-token']]),
      fixed('user with an empty role', [['authorization', 'Bearer user--hostile']]),
      fixed('user without an id', [['authorization', 'Bearer user-group_admin-']]),
      fixed('unsigned JWT (alg none)', [['authorization', 'Bearer eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJob3N0aWxlIiwicm9sZSI6Imdyb3VwX2FkbWluIn0.']]),
      fixed('JWT with a garbage signature', [['authorization', 'Bearer eyJhbGciOiJSUzI1NiIsImtpZCI6InRlc3Qta2V5LTEifQ.eyJzdWIiOiJob3N0aWxlIiwicm9sZSI6Imdyb3VwX2FkbWluIn0.c2lnbmF0dXJl']]),
      jwt('expired JWT', admin, { expiresIn: now - 60 }),
      jwt('JWT for another audience', admin, { audience: 'another-api' }),
      jwt('JWT from another issuer', admin, { issuer: 'https://evil.example' }),
      jwt('JWT not valid yet', admin, { notBefore: now + 3600 }),
      jwt('JWT without a role', { sub: s.adminId }, {}),
      // X-Agent-Id: not a UUID, duplicated, or with the wrong token
      fixed('X-Agent-Id not a UUID', [['x-agent-id', 'not-a-uuid'], ['authorization', agentToken]]),
      fixed('X-Agent-Id -1', [['x-agent-id', '-1'], ['authorization', agentToken]]),
      fixed('X-Agent-Id empty', [['x-agent-id', ''], ['authorization', agentToken]]),
      fixed('X-Agent-Id twice, joined', [['x-agent-id', `${s.agent.agentId}, ${s.agent.agentId}`], ['authorization', agentToken]]),
      fixed('two X-Agent-Id headers', [['x-agent-id', s.agent.agentId], ['x-agent-id', s.agent.agentId], ['authorization', agentToken]]),
      fixed('X-Agent-Id without Authorization', [['x-agent-id', s.agent.agentId]]),
      fixed('X-Agent-Id with an empty Bearer', [['x-agent-id', s.agent.agentId], ['authorization', 'Bearer']]),
      fixed('X-Agent-Id with a user bearer', [['x-agent-id', s.agent.agentId], ['authorization', `Bearer user-group_admin-${s.adminId}`]]),
      fixed('X-Agent-Id with another token', [['x-agent-id', s.agent.agentId], ['authorization', `Bearer ${s.agent.token}x`]]),
      fixed('unknown agent with the right token', [['x-agent-id', crypto.randomUUID()], ['authorization', agentToken]]),
      signedAgent('agent signature too short', (h) => void (h['x-agent-signature'] = 'abc')),
      signedAgent('agent signature with the wrong key', async (h, body) => void (h['x-agent-signature'] = await agentSignature('not-the-token', body))),
      signedAgent('agent signature of another body', async (h) => void (h['x-agent-signature'] = await agentSignature(s.agent.token, encoder.encode('{}x')))),
      signedAgent('agent signature of 64 non-hex characters', (h) => void (h['x-agent-signature'] = 'z'.repeat(64))),
      signedAgent('stale X-Timestamp', (h) => void (h['x-timestamp'] = String(now - 3600))),
      signedAgent('X-Timestamp not a number', (h) => void (h['x-timestamp'] = 'yesterday')),
      signedAgent('X-Timestamp in milliseconds', (h) => void (h['x-timestamp'] = String(Date.now()))),
      signedAgent('X-Timestamp missing', (h) => void delete h['x-timestamp']),
      signedAgent('X-Request-Id missing', (h) => void delete h['x-request-id']),
      signedAgent('X-Request-Id of 500 characters', (h) => void (h['x-request-id'] = `hostile-refused-${'r'.repeat(500)}`)),
      signedAgent('X-Request-Id with spaces', (h) => void (h['x-request-id'] = 'hostile refused id')),
      // HMAC clients
      client('stacker-id -1', '-1', validHash(s.client.secret)),
      client('stacker-id 1e9', '1e9', validHash(s.client.secret)),
      client('stacker-id abc', 'abc', validHash(s.client.secret)),
      client('stacker-id empty', '', validHash(s.client.secret)),
      client('stacker-id of 10 digits', '9999999999', validHash(s.client.secret)),
      client('stacker-id 0', '0', validHash(s.client.secret)),
      client('stacker-id twice, joined', `${s.client.id}, ${s.client.id}`, validHash(s.client.secret)),
      client('stacker-hash missing', String(s.client.id), async () => undefined),
      client('stacker-hash 63 characters', String(s.client.id), async (sign) => (await sign(s.client.secret)).slice(1)),
      client('stacker-hash 65 characters', String(s.client.id), async (sign) => `${await sign(s.client.secret)}0`),
      client('stacker-hash not hex', String(s.client.id), async () => 'g'.repeat(64)),
      client('stacker-hash with the wrong secret', String(s.client.id), validHash('not-the-secret')),
      client('stacker-hash of another body', String(s.client.id), (sign) => sign(s.client.secret, encoder.encode('other'))),
      client('disabled client, signed correctly', String(s.disabledClient.id), validHash(s.disabledClient.secret)),
      client('stale stacker-timestamp', String(s.client.id), async () => 'a'.repeat(64), (h) => void (h['stacker-timestamp'] = String(now - 3600))),
      client('stacker-timestamp missing', String(s.client.id), validHash(s.client.secret), (h) => void delete h['stacker-timestamp']),
      client('stacker-nonce missing', String(s.client.id), validHash(s.client.secret), (h) => void delete h['stacker-nonce']),
      client('stacker-nonce of 65 characters', String(s.client.id), validHash(s.client.secret), (h) => void (h['stacker-nonce'] = 'n'.repeat(65))),
      {
        name: 'body-only signature (the old scheme)',
        headers: async (body: Uint8Array) => [['stacker-id', String(s.client.id)], ['stacker-hash', await hmacSha256Hex(s.client.secret, body)]] as HeaderList,
      },
      {
        name: 'stacker-hash twice',
        headers: async (body: Uint8Array, request: SentRequest) => {
          const signed = await hmacHeaders(s.client, request.method, signedPath(request.url), body, { nonce: `hostilerefused${crypto.randomUUID().replace(/-/g, '')}` });
          return [...Object.entries(signed), ['stacker-hash', signed['stacker-hash']!]] as HeaderList;
        },
      },
    ];
    if (subjectsFor(op).includes('webhook')) {
      const secret = env.INSTALL_WEBHOOK_SECRET as string;
      const install = (name: string, value: (body: Uint8Array) => Promise<string>) => ({
        name,
        headers: async (body: Uint8Array) => [['x-install-signature', await value(body)]] as HeaderList,
      });
      sets.push(
        fixed('no webhook signature', []),
        install('install signature without t=', async (body) => (await installSignature(secret, body)).replace(/^t=\d+,/, '')),
        install('install signature of 63 hex', async (body) => (await installSignature(secret, body)).slice(0, -1)),
        install('install signature not hex', async () => `t=${now},v1=${'g'.repeat(64)}`),
        install('install signature with the wrong secret', (body) => installSignature('not-the-secret', body)),
        install('install signature of another body', () => installSignature(secret, encoder.encode('{}'))),
        install('install signature an hour old', (body) => installSignature(secret, body, now - 3600)),
        install('install signature in the old sha256= form', async (body) => `sha256=${await hmacSha256Hex(secret, body)}`),
        install('sha1 install signature', async () => `sha1=${'a'.repeat(40)}`),
        fixed('garbage Upstash-Signature', [['upstash-signature', 'garbage']]),
        {
          name: 'Upstash-Signature with the wrong key',
          headers: async (body: Uint8Array) => [['upstash-signature', await signLikeQStash('not-the-signing-key', 'https://stacker/webhooks/install', new TextDecoder().decode(body))]] as HeaderList,
        },
        {
          name: 'bad Upstash-Signature beside a good install signature',
          headers: async (body: Uint8Array) => [
            ['upstash-signature', 'garbage'],
            ['x-install-signature', await installSignature(secret, body)],
          ] as HeaderList,
        },
        {
          name: 'user bearer instead of a signature',
          headers: async () => Object.entries(bearerFor('group_admin', s.adminId)),
        },
      );
    }
    return sets;
  }

  // ---- plans ------------------------------------------------------------------------------------

  /** Every hostile plan of one category for one operation. */
  plans(op: Operation, category: Category): fc.Arbitrary<Plan> {
    const subjects = fc.constantFrom(...subjectsFor(op));
    const clean = this.cleanBody(op);
    const cleanBytes = clean === undefined ? undefined : encodeJson(clean);
    const json: HeaderList = cleanBytes ? [['content-type', 'application/json']] : [];
    const plan = (subject: Subject, fields: Omit<Plan, 'op' | 'category' | 'who' | 'credentials' | 'headers'> & { headers: HeaderList }) =>
      fc.array(fc.constantFrom(...NOISE_HEADERS), { maxLength: 2 }).map((noise) =>
        describedPlan({ op, category, who: subject, credentials: this.credentialsOf(subject), ...fields, headers: [...fields.headers, ...noise] }),
      );

    switch (category) {
      case 'body':
        return fc.tuple(subjects, brokenBodies(this.doc, op.body!.schema, clean!)).chain(([subject, body]) =>
          plan(subject, {
            defect: body.defect,
            url: this.url(op),
            headers: [['content-type', body.contentType]],
            body: body.bytes,
            // The size limit is checked before anything else.
            ...(body.bytes.length > MAX_BODY_BYTES ? { expected: [413], beforeAuthentication: true } : { expected: [400] }),
          }),
        );
      case 'content-type':
        return fc.tuple(subjects, wrongContentTypes(clean!, op.body!.required)).chain(([subject, body]) =>
          plan(subject, {
            defect: body.defect,
            url: this.url(op),
            headers: body.contentType.map((type) => ['content-type', type]),
            body: body.bytes,
            expected: body.bytes ? [415] : [400],
          }),
        );
      case 'path':
        return fc
          .tuple(subjects, this.brokenPath(op))
          .chain(([subject, path]) => plan(subject, { defect: path.defect, url: path.url, headers: json, body: cleanBytes, expected: path.expected, beforeAuthentication: path.leftTheApi }));
      case 'query':
        return fc
          .tuple(subjects, this.brokenQuery(op))
          .chain(([subject, query]) => plan(subject, { defect: query.defect, url: this.url(op, {}, query.query), headers: json, body: cleanBytes, expected: [400] }));
      case 'header':
        return fc
          .tuple(subjects, this.brokenHeader(op))
          .chain(([subject, header]) => plan(subject, { defect: header.defect, url: this.url(op), headers: [...json, ...header.headers], body: cleanBytes, expected: [400] }));
      case 'auth': {
        // Hostile credentials on a clean request (taken, they would make it work), or on a request
        // broken some other way: refused as unauthenticated, unless refused before authentication.
        const cleanRequest = plan('anonymous', { defect: 'clean request', url: this.url(op), headers: json, body: cleanBytes, expected: [401] });
        const broken = categoriesFor(op)
          .filter((other) => other !== 'auth')
          .map((other) => this.plans(op, other));
        const base = broken.length ? fc.oneof({ weight: 2, arbitrary: cleanRequest }, { weight: 1, arbitrary: fc.oneof(...broken) }) : cleanRequest;
        return fc.tuple(fc.constantFrom(...this.hostileCredentials(op)), base).map(([hostile, request]) =>
          describedPlan({
            ...request,
            category,
            who: hostile.name,
            credentials: hostile.headers,
            defect: `credentials: ${hostile.name}; ${request.defect}`,
            expected: request.beforeAuthentication ? request.expected : [401],
          }),
        );
      }
    }
  }

  private brokenPath(op: Operation): fc.Arbitrary<{ url: string; defect: string; expected: number[]; leftTheApi: boolean }> {
    const pathParameters = op.parameters.filter((parameter) => parameter.in === 'path');
    return fc
      .tuple(fc.constantFrom(...pathParameters), fc.constantFrom(...HOSTILE_SEGMENTS))
      .map(([parameter, raw]) => {
        const url = this.url(op, { [parameter.name]: raw });
        return { parameter, raw, url, verdict: this.pathVerdict(op, parameter, url) };
      })
      .filter(({ verdict }) => verdict !== undefined)
      .map(({ parameter, raw, url, verdict }) => ({
        url,
        defect: `path {${parameter.name}} = ${raw.length > 60 ? `${raw.slice(0, 30)}… (${raw.length} chars)` : raw}`,
        ...verdict!,
      }));
  }

  /**
   * What the server must answer to a path whose parameter was replaced, or undefined if the path is
   * not certainly broken. As the server sees it (after URL normalisation) the path either names no
   * operation of the document (404 before anything else), or the parameter breaks its schema (400),
   * or it names no row (404; 403 for an agent asking about another deployment's commands).
   */
  pathVerdict(op: Operation, parameter: Parameter, url: string): { expected: number[]; leftTheApi: boolean } | undefined {
    const normalised = new URL(`${BASE_URL}${url}`).pathname;
    const match = templatePattern(op.path).exec(normalised);
    if (!match) {
      // Another operation, or a dashboard page (not in the document: /project/.. is the page at /).
      const dashboardPage = (op.method === 'GET' || op.method === 'POST') && isDashboardPath(normalised);
      const elsewhere = dashboardPage || this.doc.operations.some((other) => other.method === op.method && templatePattern(other.path).test(normalised));
      return elsewhere ? undefined : { expected: [404], leftTheApi: true };
    }
    const names = [...op.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
    const seen = decodeComponent(match[names.indexOf(parameter.name) + 1]!);
    const schema = this.doc.resolve(parameter.schema);
    if (schema.type === 'integer') {
      // A serial id: a positive 32-bit integer (the document states only "integer").
      const serial = /^\d+$/.test(seen) && Number(seen) >= 1 && Number(seen) <= 2_147_483_647;
      return serial ? undefined : { expected: [400], leftTheApi: false };
    }
    if (!this.doc.conforms(schema, seen)) return { expected: [400], leftTheApi: false };
    // Identifiers of rows: a value that is not one of the seeded rows names nothing. (400 too: the
    // checker reads schemas leniently, e.g. it trims, so the server may find the value malformed.)
    const identifiers: Record<string, string[]> = { deployment_hash: [this.seeded.deploymentHash], command_id: [this.seeded.commandId] };
    const rows = identifiers[parameter.name];
    return rows && !rows.includes(seen) ? { expected: [400, 403, 404], leftTheApi: false } : undefined;
  }

  private brokenQuery(op: Operation): fc.Arbitrary<{ query: string; defect: string }> {
    const queryParameters = op.parameters.filter((parameter) => parameter.in === 'query');
    const single = fc.tuple(fc.constantFrom(...queryParameters), fc.constantFrom(...HOSTILE_SEGMENTS, ...HOSTILE_QUERY_VALUES)).map(([parameter, raw]) => ({
      query: `${encodeURIComponent(parameter.name)}=${raw}`,
      defect: `query ${parameter.name}=${raw.length > 60 ? `${raw.slice(0, 30)}… (${raw.length} chars)` : raw}`,
      hostile: !this.queryValueConforms(parameter.schema, raw),
    }));
    const duplicated = fc.constantFrom(...queryParameters).map((parameter) => ({
      query: `${parameter.name}=1&${parameter.name}=2`,
      defect: `query ${parameter.name} given twice`,
      hostile: true, // the server reads a repeated key as a list, and no query parameter is a list
    }));
    return fc
      .tuple(fc.oneof({ weight: 5, arbitrary: single }, { weight: 1, arbitrary: duplicated }), fc.constantFrom('', '&hostile_extra=1', '&%00=%00'))
      .filter(([query]) => query.hostile)
      .map(([query, extra]) => ({ query: `${query.query}${extra}`, defect: `${query.defect}${extra ? ` (and ${extra.slice(1)})` : ''}` }));
  }

  /** Whether a raw query value could fit its schema, read as `+`-for-space or not. */
  private queryValueConforms(schema: Schema, raw: string): boolean {
    const readings = [decodeComponent(raw), decodeComponent(raw.replace(/\+/g, ' '))];
    const types = this.doc.typesOf(schema);
    return readings.some((value) => {
      if (types?.has('integer') && !types.has('string')) return /^\d+$/.test(value) && this.doc.conforms(schema, Number(value));
      return this.doc.conforms(schema, value);
    });
  }

  private brokenHeader(op: Operation): fc.Arbitrary<{ headers: HeaderList; defect: string }> {
    const headerParameters = op.parameters.filter((parameter) => parameter.in === 'header');
    return fc
      .tuple(fc.constantFrom(...headerParameters), fc.constantFrom('', 'k'.repeat(129), 'k'.repeat(10_000), `${'k'.repeat(100)}, ${'k'.repeat(100)}`))
      .filter(([parameter, value]) => !this.doc.conforms(parameter.schema, value))
      .map(([parameter, value]) => ({ headers: [[parameter.name, value]], defect: `header ${parameter.name} of ${value.length} characters` }));
  }
}


/** Path segments and query values, as sent: out of range, not numbers, unicode, very long, traversal, NUL. */
export const HOSTILE_SEGMENTS = [
  '0',
  '-1',
  '2147483648',
  '9223372036854775808',
  '-9223372036854775809',
  '1e3',
  '1E3',
  'NaN',
  'Infinity',
  '1.5',
  '0x1F',
  '%201',
  '1%20',
  '+1',
  '%EF%BC%91', // fullwidth 1
  '%D9%A1', // Arabic-Indic 1
  '%E2%98%83',
  '%F0%9F%98%80',
  'a'.repeat(300),
  '9'.repeat(5000),
  '..%2f..%2f..%2fetc%2fpasswd',
  '%2e%2e%2f%2e%2e%2fetc%2fpasswd',
  '..%5c..%5cwindows',
  '%2e%2e',
  '..',
  '...',
  '%00',
  '1%00',
  'x%00y',
  '%ZZ',
  '%',
  '%C3%28',
  '%FF',
  '%ED%A0%80',
  "1'%20OR%20'1'='1",
  '1;DROP%20TABLE%20project',
  '%7Bid%7D',
  'null',
  '',
  '1%2F',
  '../../../../../../../../etc/passwd',
  '%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
  '.%2e/.%2e/.%2e/.%2e/.%2e/.%2e/.%2e/.%2e/admin/metrics',
];

/** HeaderList that change nothing about a request's validity, added to some plans. */
const NOISE_HEADERS: Array<[string, string]> = [
  ['x-correlation-id', 'c'.repeat(300)],
  ['cf-connecting-ip', 'not-an-ip'],
  ['cf-connecting-ip', '203.0.113.7, 198.51.100.9'],
  ['x-forwarded-for', '127.0.0.1'],
  ['accept', 'text/html'],
  ['accept', 'application/json, application/json'],
  ['origin', 'https://evil.example'],
  ['cookie', 'session=x; '.repeat(200)],
  ['x-http-method-override', 'DELETE'],
  ['x-original-url', '/admin/metrics'],
  ['content-encoding', 'gzip'],
];

const HOSTILE_QUERY_VALUES = ['abc', '99999999', '26', 'yesterday', '2026-13-45', 'q'.repeat(100), 'NotACategory'];

function templatePattern(template: string): RegExp {
  const source = template
    .split('/')
    .map((segment) => (/^\{[^}]+\}$/.test(segment) ? '([^/]+)' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${source}$`);
}

/** How the server decodes a percent-encoded component: the raw text when it is not valid. */
function decodeComponent(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/** fast-check prints a plan with this, not as a dump of its (possibly megabytes of) body. */
function describedPlan(plan: Plan): Plan {
  return Object.assign(plan, {
    [fc.toStringMethod]: () =>
      `${plan.category} case for ${plan.op.key} as ${plan.who}: ${plan.defect} -> ${plan.op.method} ${plan.url.length > 200 ? `${plan.url.slice(0, 200)}…` : plan.url}` +
      (plan.body ? ` with a body of ${plan.body.length} bytes` : ''),
  });
}

/** Sends a plan through the app, on the isolated database. */
/** The app every hostile request goes to: one, as one isolate serves all its requests (apiWith builds one per request, ~2 ms each). */
let hostileApp: ReturnType<typeof createApp> | undefined;

export async function send(plan: Plan): Promise<Response> {
  const body = plan.body ?? new Uint8Array();
  const headers = new Headers();
  for (const [name, value] of [...plan.headers, ...(await plan.credentials(body, { method: plan.op.method, url: plan.url }))]) headers.append(name, value);
  hostileApp ??= createApp();
  return apiOf(hostileApp, plan.url, { method: plan.op.method, headers, body: plan.op.method === 'GET' ? undefined : plan.body }, isolated());
}
