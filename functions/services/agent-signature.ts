// Signed agent requests (the headers the real agent sends with every call, agent-protocol.md §2.3):
// X-Timestamp (unix seconds), X-Request-Id (unique per request), X-Agent-Signature = base64 of
// HMAC-SHA256(key = the agent token, msg = the raw body; empty for GET). The reference ignores them
// (§1.3, §3 row 10); here they are verified whenever a signature is sent, and always when
// AGENT_REQUIRE_SIGNATURE is "on": clock skew at most 300 s, constant-time MAC comparison, and every
// request id accepted once per agent (remembered in agent_request_id; the cron forgets ids older
// than REQUEST_ID_RETENTION_MINUTES, which outlasts the skew window on either side).
import { lt, sql } from 'drizzle-orm';
import { z } from 'zod';
import type { AnyDatabase } from '../../db/client.ts';
import { agentRequestId } from '../../db/schema.ts';
import { ApiError, unauthorized } from '../errors.ts';
import { constantTimeEqual, toBase64, toHex } from './crypto.ts';

export const SIGNATURE_MAX_SKEW_SECONDS = 300;
export const REQUEST_ID_RETENTION_MINUTES = 10;
export const MAX_REQUEST_ID_LENGTH = 128;

const encoder = new TextEncoder();

async function hmacSha256(key: string, message: Uint8Array | ArrayBuffer): Promise<Uint8Array> {
  const cryptoKey = await crypto.subtle.importKey('raw', encoder.encode(key), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return new Uint8Array(await crypto.subtle.sign('HMAC', cryptoKey, message));
}

/** Standard base64 (padded, 44 characters) of HMAC-SHA256(key = token, msg = body): what the agent and AgentClient send. */
export async function agentSignature(token: string, body: Uint8Array | ArrayBuffer): Promise<string> {
  return toBase64(await hmacSha256(token, body));
}

const timestampHeader = z.string().trim().regex(/^\d{1,12}$/).transform(Number);
const requestIdHeader = z.string().min(1).max(MAX_REQUEST_ID_LENGTH).regex(/^[\x21-\x7e]+$/);
const hexSignature = /^[0-9a-fA-F]{64}$/;
const base64Signature = /^[A-Za-z0-9+/]{43}=?$/;

/** The 32 MAC bytes as hex, from base64 (the agent's encoding) or hex; undefined if it is neither. */
function decodeSignature(value: string): string | undefined {
  const trimmed = value.trim();
  if (hexSignature.test(trimmed)) return trimmed.toLowerCase();
  if (base64Signature.test(trimmed)) {
    const binary = atob(trimmed.endsWith('=') ? trimmed : `${trimmed}=`);
    if (binary.length === 32) return toHex(Uint8Array.from(binary, (char) => char.charCodeAt(0)));
  }
  return undefined;
}

export interface SignedAgentRequest {
  /** The authenticated agent (its token already checked). */
  agentId: string;
  /** The bearer token the request presented: the HMAC key. */
  token: string;
  timestamp: string | undefined;
  signature: string | undefined;
  requestId: string | undefined;
  /** The raw body bytes (empty for GET). */
  body: ArrayBuffer | Uint8Array;
  /** Milliseconds since the epoch; the clock, for tests. */
  now?: number;
}

/**
 * Checks the signature headers of an authenticated agent's request, then records its request id.
 * Throws 401 naming the check that failed, or 409 for a request id seen before.
 */
export async function verifySignedAgentRequest(db: AnyDatabase, request: SignedAgentRequest): Promise<void> {
  const { requestId, timestamp } = await checkAgentSignature(request);
  const recorded = await db
    .insert(agentRequestId)
    // Kept from the later of arrival and X-Timestamp: a future-dated request stays fresh for up to
    // SIGNATURE_MAX_SKEW_SECONDS past its timestamp, and its id must be remembered at least that long.
    .values({ agentId: request.agentId, requestId, seenAt: sql`greatest(now(), to_timestamp(${timestamp}))` })
    .onConflictDoNothing({ target: [agentRequestId.agentId, agentRequestId.requestId] })
    .returning({ requestId: agentRequestId.requestId });
  if (recorded.length === 0) throw new ApiError(409, 'Replayed request (X-Request-Id already used)');
}

/**
 * The checks of a signed request that need no storage: timestamp, MAC, request id's form. Throws 401
 * naming the check that failed. The caller remembers the id (agent_request_id, or for waits the
 * deployment's Durable Object) for the same window: from max(arrival, X-Timestamp), REQUEST_ID_RETENTION_MINUTES.
 */
export async function checkAgentSignature(
  request: Omit<SignedAgentRequest, 'agentId'>,
): Promise<{ requestId: string; timestamp: number; requestIdKeepUntil: number }> {
  const nowSeconds = Math.floor((request.now ?? Date.now()) / 1000);

  if (request.timestamp === undefined) throw unauthorized('Signed agent request: X-Timestamp header is missing');
  const timestamp = timestampHeader.safeParse(request.timestamp);
  if (!timestamp.success) throw unauthorized('Signed agent request: X-Timestamp is invalid (must be unix time in whole seconds)');
  if (Math.abs(nowSeconds - timestamp.data) > SIGNATURE_MAX_SKEW_SECONDS) {
    throw unauthorized(`Signed agent request: stale timestamp (X-Timestamp is more than ${SIGNATURE_MAX_SKEW_SECONDS} s from the server clock)`);
  }

  if (request.signature === undefined) throw unauthorized('Signed agent request: X-Agent-Signature header is missing');
  const presented = decodeSignature(request.signature);
  if (presented === undefined) {
    throw unauthorized('Signed agent request: bad signature encoding (X-Agent-Signature must be base64 or hex of HMAC-SHA256)');
  }
  const expected = toHex(await hmacSha256(request.token, request.body));
  if (!constantTimeEqual(presented, expected)) {
    throw unauthorized('Signed agent request: bad signature (X-Agent-Signature does not match HMAC-SHA256 of the body with the agent token)');
  }

  if (request.requestId === undefined) throw unauthorized('Signed agent request: X-Request-Id header is missing');
  const requestId = requestIdHeader.safeParse(request.requestId);
  if (!requestId.success) {
    throw unauthorized(`Signed agent request: X-Request-Id is invalid (1 to ${MAX_REQUEST_ID_LENGTH} visible ASCII characters)`);
  }
  return { requestId: requestId.data, timestamp: timestamp.data, requestIdKeepUntil: timestamp.data * 1000 };
}

/** Forgets request ids older than the retention (the cron); a timestamp that old is refused anyway. */
export async function pruneAgentRequestIds(db: AnyDatabase, olderThanMinutes = REQUEST_ID_RETENTION_MINUTES): Promise<number> {
  const removed = await db
    .delete(agentRequestId)
    .where(lt(agentRequestId.seenAt, sql`now() - make_interval(mins => ${olderThanMinutes})`))
    .returning({ requestId: agentRequestId.requestId });
  return removed.length;
}
