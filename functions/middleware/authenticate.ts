// Authentication, tried in order: agent (X-Agent-Id + bearer), OAuth bearer, HMAC client
// (stacker-id, stacker-timestamp, stacker-nonce, stacker-hash: services/client-signature.ts), anonymous. A recognised but bad credential is a 401; there is no
// falling through to the next method, and never a made-up user.
import { createMiddleware } from 'hono/factory';
import { z } from 'zod';
import { requireSetting } from '../config.ts';
import type { AppEnv } from '../http/env.ts';
import { ApiError, unauthorized } from '../errors.ts';
import type { GateAnswer } from '../durable/agent-gate-types.ts';
import { cachedFrom, doorbellStub, heartbeatStale, readAgent, rowAccepts } from '../services/agent-gate.ts';
import type { Principal } from '../principal.ts';
import { checkAgentSignature, verifySignedAgentRequest } from '../services/agent-signature.ts';
import { parseClientHeaders, verifyClientSignature } from '../services/client-signature.ts';
import { decryptSecret, DecryptionError, hmacKey, sha256Hex } from '../services/crypto.ts';
import { openAgentWait } from '../services/doorbell.ts';
import { oauthSettingsOf, verifyBearer } from '../services/oauth.ts';
import { countAuthFailure, heldBack } from '../services/auth-failures.ts';
import { durableRateLimits } from '../services/rate-limit.ts';
import { callerIp } from '../http/caller.ts';
import { clientCredentials } from '../services/api-clients.ts';

const agentIdHeader = z.uuid();
const bearerHeader = /^Bearer ([\x21-\x7e]+)$/;

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
  if (agentId === undefined && authorization === undefined && clientId === undefined) principal = { kind: 'anonymous', subject: 'anonym' };
  else {
    // Failed attempts are counted per address (services/auth-failures.ts); one held back is refused unchecked.
    const ip = callerIp(c);
    const limit = c.var.config.RATE_LIMIT_AUTH_FAILURES_PER_MINUTE;
    const held = heldBack(ip, limit);
    if (held) throw held;
    try {
      if (agentId !== undefined) principal = await authenticateAgent(c, agentId, authorization);
      else if (authorization !== undefined) principal = await authenticateUser(c, authorization);
      else principal = await authenticateClient(c, clientId!);
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) throw (await countAuthFailure(durableRateLimits(c.env.RATE_LIMITER), ip, limit)) ?? error;
      throw error;
    }
  }

  c.set('principal', principal);
  try {
    await next();
  } finally {
    c.var.agentWait?.discard();
  }
});

type Ctx = Parameters<Parameters<typeof createMiddleware<AppEnv>>[0]>[0];

/** The wait route, whose authentication the deployment's Durable Object answers (functions/services/agent-gate.ts). */
const waitPath = /^\/api\/v1\/agent\/commands\/wait\/([\w.-]{1,64})$/;

async function authenticateAgent(c: Ctx, rawId: string, authorization: string | undefined): Promise<Principal> {
  const id = agentIdHeader.safeParse(rawId);
  if (!id.success) throw unauthorized('X-Agent-Id must be a UUID');
  const token = bearerToken(authorization, 'Authorization header required for agent');
  const waitHash = c.req.method === 'GET' ? waitPath.exec(c.req.path)?.[1] : undefined;
  if (waitHash !== undefined && waitHash !== '.' && waitHash !== '..') return authenticateWaitingAgent(c, id.data, token, waitHash);
  const agent = await readAgent(c.var.database.db, id.data);
  const presented = await sha256Hex(token);
  if (!agent || !rowAccepts(agent, presented)) throw unauthorized('Invalid agent credentials');
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

/**
 * The wait route's authentication: the deployment's object vouches for a token it saw Postgres
 * accept, so an idle poll runs no query; on a miss Postgres decides and the object learns the answer.
 * Signed waits' request ids are remembered in the object (same window as agent_request_id). The
 * heartbeat is written when due (at most once per HEARTBEAT_FLUSH_MS), re-reading the credentials.
 */
async function authenticateWaitingAgent(c: Ctx, agentId: string, token: string, hash: string): Promise<Principal> {
  const presented = await sha256Hex(token);
  const signature = c.req.header('x-agent-signature');
  let signatureError: unknown;
  let signed: { requestId: string; requestIdKeepUntil: number; timestamp: number } | undefined;
  if (signature !== undefined || c.var.config.AGENT_REQUIRE_SIGNATURE === 'on') {
    try {
      signed = await checkAgentSignature({
        token,
        timestamp: c.req.header('x-timestamp'),
        signature,
        requestId: c.req.header('x-request-id'),
        body: await c.req.arrayBuffer(),
      });
    } catch (error) {
      signatureError = error; // thrown once the token is known good, as on the other routes
    }
  }
  const stub = doorbellStub(c.env.DEPLOYMENT_DOORBELL, hash);
  const request = { agentId, tokenHash: presented, requestId: signed?.requestId, requestIdKeepUntil: signed?.requestIdKeepUntil };
  const sentAt = signed ? signed.timestamp * 1000 : undefined;
  let answer: GateAnswer | undefined;
  try {
    if (signatureError) {
      // No id to remember and no wait to open: ask about the token alone (the 401 or 400 follows).
      answer = await stub.agentGate({ agentId, tokenHash: presented });
    } else {
      // The token check and the wait's first listen in one call; a wait is opened only for a vouched token.
      const opening = await openAgentWait(c.env.DEPLOYMENT_DOORBELL, hash, request, c.var.receivedAt);
      answer = opening.answer;
      if (opening.start) c.set('agentWait', opening);
    }
  } catch {
    answer = undefined; // no object: Postgres alone, as before
  }
  if (answer?.kind === 'replay') throw new ApiError(409, 'Replayed request (X-Request-Id already used)');
  if (answer?.kind === 'ok') {
    if (signatureError) throw signatureError;
    // The heartbeat, when due, is written by the route (a refused request changes no row), re-reading the credentials.
    const heartbeat = answer.heartbeatDue || !answer.credentialsFresh ? { tokenHash: presented, epoch: answer.epoch, credentialsFresh: answer.credentialsFresh, claim: answer.claim } : undefined;
    return { kind: 'agent', subject: 'agent', agentId, deploymentHash: hash, lastHeartbeatAt: null, gated: true, heartbeat, sentAt };
  }
  // A miss: Postgres decides.
  const db = c.var.database.db;
  const agent = await readAgent(db, agentId);
  if (!agent || !rowAccepts(agent, presented)) throw unauthorized('Invalid agent credentials');
  if (signatureError) throw signatureError;
  if (agent.deploymentHash !== hash || !answer) {
    // Another deployment's wait (the route answers 403) or no object: the database remembers the id.
    if (signed) await verifySignedAgentRequest(db, { agentId, token, timestamp: c.req.header('x-timestamp'), signature, requestId: c.req.header('x-request-id'), body: await c.req.arrayBuffer() });
    return { kind: 'agent', subject: 'agent', agentId, deploymentHash: agent.deploymentHash, lastHeartbeatAt: agent.lastHeartbeat };
  }
  // Stored with the heartbeat Postgres has; when that is stale the route writes a new one (and stores again).
  const primed = await stub.agentPrime(cachedFrom(agent), answer.epoch, signed ? request : undefined);
  if (primed.replay) throw new ApiError(409, 'Replayed request (X-Request-Id already used)');
  const heartbeat = heartbeatStale(agent.lastHeartbeat) ? { tokenHash: presented, epoch: answer.epoch, credentialsFresh: true } : undefined;
  return { kind: 'agent', subject: 'agent', agentId, deploymentHash: hash, lastHeartbeatAt: agent.lastHeartbeat, gated: true, heartbeat, sentAt };
}

async function authenticateUser(c: Ctx, authorization: string): Promise<Principal> {
  const token = bearerToken(authorization, 'Authentication required');
  const config = c.var.config;
  const user = await verifyBearer(token, oauthSettingsOf(config));
  if (!user.role) throw unauthorized('The user has no role');
  return { kind: 'user', subject: user.role, user };
}

async function authenticateClient(c: Ctx, rawId: string): Promise<Principal> {
  const parsed = parseClientHeaders(
    { id: rawId, hash: c.req.header('stacker-hash'), timestamp: c.req.header('stacker-timestamp'), nonce: c.req.header('stacker-nonce') },
    c.var.config.HMAC_BODY_ONLY === 'on',
  );
  // The row as this isolate read it at most CLIENT_ROW_TTL_MS ago (services/api-clients.ts).
  const row = await clientCredentials(c.var.database.db, parsed.clientId);
  if (!row) throw unauthorized('Invalid API client credentials');
  if (row.secret === null) throw unauthorized('API client is disabled');

  const signingKey = await clientSigningKey(requireSetting(c.var.config, 'SECURITY_KEY'), row.secret);
  const url = new URL(c.req.url);
  await verifyClientSignature(c.var.database.db, signingKey, parsed, { method: c.req.method, pathWithQuery: url.pathname + url.search, body: await c.req.arrayBuffer() });
  return { kind: 'client', subject: 'client', clientId: row.id, userId: row.userId };
}

/** Signing keys remembered per isolate before the oldest are dropped. */
const MAX_CLIENT_KEYS = 1_000;
const clientKeysBySecurityKey = new WeakMap<Uint8Array, Map<string, CryptoKey>>();

/**
 * The HMAC key of a client's stored secret: decrypted with SECURITY_KEY and imported once, then
 * remembered by the stored ciphertext itself (not the client id). A renewed secret is a new
 * ciphertext (fresh nonce), so it misses at once; a disabled client (secret null) is refused by the
 * caller before this, from the row (at most CLIENT_ROW_TTL_MS old). An undecryptable secret is not remembered.
 */
async function clientSigningKey(securityKey: Uint8Array, stored: string): Promise<CryptoKey> {
  let keys = clientKeysBySecurityKey.get(securityKey);
  if (!keys) clientKeysBySecurityKey.set(securityKey, (keys = new Map()));
  const known = keys.get(stored);
  if (known) return known;
  let secret: string;
  try {
    secret = await decryptSecret(securityKey, stored);
  } catch (error) {
    if (error instanceof DecryptionError) throw unauthorized('Invalid API client credentials');
    throw error;
  }
  const key = await hmacKey(secret);
  if (keys.size >= MAX_CLIENT_KEYS) keys.delete(keys.keys().next().value!);
  keys.set(stored, key);
  return key;
}
