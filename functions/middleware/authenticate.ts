// Authentication, tried in order: agent (X-Agent-Id + bearer), OAuth bearer, HMAC client
// (stacker-id + stacker-hash), anonymous. A recognised but bad credential is a 401; there is no
// falling through to the next method, and never a made-up user.
import { eq } from 'drizzle-orm';
import { createMiddleware } from 'hono/factory';
import { z } from 'zod';
import { agents, client } from '../../db/schema.ts';
import { requireSetting } from '../config.ts';
import type { AppEnv } from '../env.ts';
import { unauthorized } from '../errors.ts';
import type { Principal } from '../principal.ts';
import { verifySignedAgentRequest } from '../services/agent-signature.ts';
import { constantTimeEqual, decryptSecret, DecryptionError, hmacSha256Hex, sha256Hex } from '../services/crypto.ts';
import { verifyBearer } from '../services/oauth.ts';

const agentIdHeader = z.uuid();
const bearerHeader = /^Bearer ([\x21-\x7e]+)$/;
const clientIdHeader = z.string().regex(/^\d{1,9}$/).transform(Number);
const clientHashHeader = z.string().regex(/^[0-9a-fA-F]{64}$/);

function bearerToken(header: string | undefined, missing: string): string {
  if (header === undefined) throw unauthorized(missing);
  const match = bearerHeader.exec(header);
  if (!match) throw unauthorized('Authorization header must be "Bearer <token>"');
  return match[1]!;
}

export const authenticate = createMiddleware<AppEnv>(async (c, next) => {
  const agentId = c.req.header('x-agent-id');
  const authorization = c.req.header('authorization');
  const clientId = c.req.header('stacker-id');

  let principal: Principal;
  if (agentId !== undefined) principal = await authenticateAgent(c, agentId, authorization);
  else if (authorization !== undefined) principal = await authenticateUser(c, authorization);
  else if (clientId !== undefined) principal = await authenticateClient(c, clientId, c.req.header('stacker-hash'));
  else principal = { kind: 'anonymous', subject: 'anonym' };

  c.set('principal', principal);
  await next();
});

type Ctx = Parameters<Parameters<typeof createMiddleware<AppEnv>>[0]>[0];

async function authenticateAgent(c: Ctx, rawId: string, authorization: string | undefined): Promise<Principal> {
  const id = agentIdHeader.safeParse(rawId);
  if (!id.success) throw unauthorized('X-Agent-Id must be a UUID');
  const token = bearerToken(authorization, 'Authorization header required for agent');
  const [agent] = await c.var.database.db
    .select({
      id: agents.id,
      deploymentHash: agents.deploymentHash,
      tokenHash: agents.tokenHash,
      previousTokenHash: agents.previousTokenHash,
      previousTokenExpiresAt: agents.previousTokenExpiresAt,
      lastHeartbeat: agents.lastHeartbeat,
    })
    .from(agents)
    .where(eq(agents.id, id.data))
    .limit(1);
  const presented = await sha256Hex(token);
  // Compare even when the agent is unknown, so timing does not tell which agent ids exist.
  const current = constantTimeEqual(presented, agent?.tokenHash ?? '0'.repeat(64));
  const previous =
    agent?.previousTokenHash != null &&
    agent.previousTokenExpiresAt != null &&
    agent.previousTokenExpiresAt.getTime() > Date.now() &&
    constantTimeEqual(presented, agent.previousTokenHash);
  if (!agent || !agent.tokenHash || !(current || previous)) throw unauthorized('Invalid agent credentials');
  // Signed requests (X-Timestamp, X-Request-Id, X-Agent-Signature over the raw body, keyed with the
  // presented token): checked whenever a signature is sent, and required with AGENT_REQUIRE_SIGNATURE=on.
  const signature = c.req.header('x-agent-signature');
  if (signature !== undefined || c.var.config.AGENT_REQUIRE_SIGNATURE === 'on') {
    await verifySignedAgentRequest(c.var.database.db, {
      agentId: agent.id,
      token,
      timestamp: c.req.header('x-timestamp'),
      signature,
      requestId: c.req.header('x-request-id'),
      body: await c.req.arrayBuffer(),
    });
  }
  return { kind: 'agent', subject: 'agent', agentId: agent.id, deploymentHash: agent.deploymentHash, lastHeartbeatAt: agent.lastHeartbeat };
}

async function authenticateUser(c: Ctx, authorization: string): Promise<Principal> {
  const token = bearerToken(authorization, 'Authentication required');
  const config = c.var.config;
  const user = await verifyBearer(token, {
    authUrl: config.AUTH_URL,
    jwksUrl: config.OAUTH_JWKS_URL,
    issuer: config.OAUTH_ISSUER,
    audience: config.OAUTH_AUDIENCE,
  });
  if (!user.role) throw unauthorized('The user has no role');
  return { kind: 'user', subject: user.role, user };
}

async function authenticateClient(c: Ctx, rawId: string, rawHash: string | undefined): Promise<Principal> {
  const id = clientIdHeader.safeParse(rawId);
  if (!id.success) throw unauthorized('stacker-id must be a client id (a positive integer)');
  if (rawHash === undefined) throw unauthorized('stacker-hash header is required with stacker-id');
  const hash = clientHashHeader.safeParse(rawHash);
  if (!hash.success) throw unauthorized('stacker-hash must be a hex HMAC-SHA256 (64 characters)');

  const [row] = await c.var.database.db
    .select({ id: client.id, userId: client.userId, secret: client.secret })
    .from(client)
    .where(eq(client.id, id.data))
    .limit(1);
  if (!row) throw unauthorized('Invalid API client credentials');
  if (row.secret === null) throw unauthorized('API client is disabled');

  const key = requireSetting(c.var.config, 'SECURITY_KEY');
  let secret: string;
  try {
    secret = await decryptSecret(key, row.secret);
  } catch (error) {
    if (error instanceof DecryptionError) throw unauthorized('Invalid API client credentials');
    throw error;
  }
  const body = await c.req.arrayBuffer();
  const expected = await hmacSha256Hex(secret, body);
  if (!constantTimeEqual(expected, hash.data.toLowerCase())) throw unauthorized('Invalid API client credentials');
  return { kind: 'client', subject: 'client', clientId: row.id, userId: row.userId };
}
