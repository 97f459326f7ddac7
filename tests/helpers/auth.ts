import { env } from 'cloudflare:test';
import { sql } from 'drizzle-orm';
import { importJWK, SignJWT, type JWTPayload } from 'jose';
import { inject } from 'vitest';
import { sha256Hex, hmacSha256Hex, randomToken } from '../../functions/services/crypto.ts';
import { api, apiWith, jsonRequest } from './api.ts';
import { withDatabase } from './db.ts';

/** The OAuth stub answers "Bearer user-<role>-<id>" with that user. */
export function bearerFor(role: string, id: string): Record<string, string> {
  return { authorization: `Bearer user-${role}-${id}` };
}

export function uniqueId(prefix: string): string {
  return `${prefix}${crypto.randomUUID().replace(/-/g, '').slice(0, 12)}`;
}

let testKey: Promise<CryptoKey> | undefined;

/** A JWT signed with the test key set's key. `expiresIn: null`: no exp claim; `typ`: the header's typ. */
export async function signJwt(
  claims: JWTPayload,
  options: { expiresIn?: string | number | null; notBefore?: string | number; issuer?: string; audience?: string; key?: CryptoKey; kid?: string; typ?: string } = {},
): Promise<string> {
  const jwk = inject('jwtPrivateJwk');
  const key = options.key ?? (await (testKey ??= importJWK(jwk as never, 'RS256') as Promise<CryptoKey>));
  let jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid: options.kid ?? (jwk.kid as string), ...(options.typ !== undefined && { typ: options.typ }) })
    .setIssuedAt()
    .setIssuer(options.issuer ?? env.OAUTH_ISSUER)
    .setAudience(options.audience ?? env.OAUTH_AUDIENCE);
  if (options.expiresIn !== null) jwt = jwt.setExpirationTime(options.expiresIn ?? '5m');
  if (options.notBefore !== undefined) jwt = jwt.setNotBefore(options.notBefore);
  return jwt.sign(key);
}

export interface TestDeployment {
  projectId: number;
  deploymentId: number;
  deploymentHash: string;
  ownerId: string;
}

export async function createDeployment(ownerId = uniqueId('owner')): Promise<TestDeployment> {
  return withDatabase(async (db) => {
    const project = await db.execute<{ id: number }>(sql`
      insert into project (stack_id, user_id, name, metadata) values (gen_random_uuid(), ${ownerId}, 'test-project', '{}') returning id`);
    const projectId = project.rows[0]!.id;
    const deploymentHash = `deployment_${crypto.randomUUID()}`;
    const deployment = await db.execute<{ id: number }>(sql`
      insert into deployment (project_id, metadata, status, deployment_hash, user_id)
      values (${projectId}, '{}', 'pending', ${deploymentHash}, ${ownerId}) returning id`);
    return { projectId, deploymentId: deployment.rows[0]!.id, deploymentHash, ownerId };
  });
}

export interface TestAgent extends TestDeployment {
  agentId: string;
  token: string;
}

/** An agent with a token, as registration leaves it (the database keeps only the token's hash). */
export async function createAgent(): Promise<TestAgent> {
  const deployment = await createDeployment();
  const token = randomToken(48);
  const tokenHash = await sha256Hex(token);
  const agentId = await withDatabase(async (db) => {
    const result = await db.execute<{ id: string }>(sql`
      insert into agents (deployment_hash, token_hash, version) values (${deployment.deploymentHash}, ${tokenHash}, '0.2.1') returning id`);
    return result.rows[0]!.id;
  });
  return { ...deployment, agentId, token };
}

export function agentHeaders(agent: { agentId: string; token: string }): Record<string, string> {
  return { 'x-agent-id': agent.agentId, authorization: `Bearer ${agent.token}` };
}

export interface TestClient {
  id: number;
  secret: string;
  userId: string;
}

/** An API client created through the API by its owner. */
export async function createApiClientFor(userId = uniqueId('cli')): Promise<TestClient> {
  const response = await api('/client', { method: 'POST', headers: bearerFor('group_user', userId) });
  if (response.status !== 201) throw new Error(`POST /client answered ${response.status}: ${await response.text()}`);
  const body = (await response.json()) as { item: { id: number; secret: string } };
  return { id: body.item.id, secret: body.item.secret, userId };
}

/**
 * The headers of a request signed as docs/api-clients.md says: stacker-hash = hex HMAC-SHA256(secret,
 * METHOD \n path-with-query \n timestamp \n nonce \n hex SHA-256 of the body). Computed here, apart
 * from the service's own code. A fresh nonce and the current time unless given.
 */
export async function hmacHeaders(
  apiClient: { id: number; secret: string },
  method: string,
  path: string,
  body: string | Uint8Array = '',
  options: { timestamp?: number; nonce?: string } = {},
): Promise<Record<string, string>> {
  const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : body;
  const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000));
  const nonce = options.nonce ?? crypto.randomUUID().replace(/-/g, '');
  const message = `${method.toUpperCase()}\n${path}\n${timestamp}\n${nonce}\n${await sha256Hex(bytes)}`;
  return {
    'stacker-id': String(apiClient.id),
    'stacker-timestamp': timestamp,
    'stacker-nonce': nonce,
    'stacker-hash': await hmacSha256Hex(apiClient.secret, new TextEncoder().encode(message)),
  };
}

/** The old scheme (HMAC_BODY_ONLY=on only): stacker-hash over the body alone. */
export async function bodyOnlyHmacHeaders(apiClient: { id: number; secret: string }, body = ''): Promise<Record<string, string>> {
  return { 'stacker-id': String(apiClient.id), 'stacker-hash': await hmacSha256Hex(apiClient.secret, new TextEncoder().encode(body)) };
}

export { api, apiWith, jsonRequest };
