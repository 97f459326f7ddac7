// Signed API-client requests (docs/api-clients.md): stacker-id, stacker-timestamp (Unix seconds),
// stacker-nonce (1 to 64 of [A-Za-z0-9_-]) and stacker-hash = hex HMAC-SHA256(secret, METHOD "\n"
// path-with-query "\n" timestamp "\n" nonce "\n" hex SHA-256 of the body). A timestamp more than
// CLIENT_SIGNATURE_MAX_SKEW_SECONDS from the server clock is refused, and so is a nonce the client
// used before within that window: nonces are kept in api_client_nonce (Postgres, so a restart or
// another isolate forgets none) until their timestamp's window ends; the cron deletes them after.
// The old scheme (stacker-hash over the body alone, replayable forever) only with HMAC_BODY_ONLY=on.
import { lt, sql } from 'drizzle-orm';
import { z } from 'zod';
import type { AnyDatabase } from '../../db/client.ts';
import { apiClientNonce } from '../../db/schema.ts';
import { unauthorized } from '../errors.ts';
import { constantTimeEqual, hmacSha256HexWithKey, sha256Hex } from './crypto.ts';

export const CLIENT_SIGNATURE_MAX_SKEW_SECONDS = 300;

const encoder = new TextEncoder();

export const clientIdHeader = z.string().regex(/^\d{1,9}$/).transform(Number);
const hashHeader = z.string().regex(/^[0-9a-fA-F]{64}$/);
const timestampHeader = z.string().regex(/^\d{1,12}$/).transform(Number);
const nonceHeader = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);

export interface ClientRequest {
  method: string;
  /** The path and query as sent, e.g. /project/12?x=1 (the URL's pathname + search). */
  pathWithQuery: string;
  timestamp: string;
  nonce: string;
  body: ArrayBuffer | Uint8Array;
}

/** The text the client signs: METHOD, path with query, timestamp, nonce, hex SHA-256 of the body, joined by "\n". */
export async function clientStringToSign(request: ClientRequest): Promise<string> {
  const bodyHash = await sha256Hex(new Uint8Array(request.body));
  return `${request.method.toUpperCase()}\n${request.pathWithQuery}\n${request.timestamp}\n${request.nonce}\n${bodyHash}`;
}

/** The stacker-hash of a request: lowercase hex HMAC-SHA256 of clientStringToSign with the client's key. */
export async function clientRequestSignature(key: CryptoKey, request: ClientRequest): Promise<string> {
  return hmacSha256HexWithKey(key, encoder.encode(await clientStringToSign(request)));
}

/** The signature headers as sent (undefined when absent). */
export interface ClientSignatureHeaders {
  id: string;
  hash: string | undefined;
  timestamp: string | undefined;
  nonce: string | undefined;
}

export interface ParsedClientHeaders {
  clientId: number;
  hash: string;
  /** Absent: the body-only scheme (accepted only with HMAC_BODY_ONLY=on). */
  signed?: { timestamp: number; nonce: string; rawTimestamp: string };
}

/**
 * Checks the headers' form and the timestamp's age (no storage, no secret needed): 401 naming the
 * header. `bodyOnly`: HMAC_BODY_ONLY=on, under which a request without timestamp and nonce is the old scheme.
 */
export function parseClientHeaders(headers: ClientSignatureHeaders, bodyOnly: boolean, nowMs = Date.now()): ParsedClientHeaders {
  const id = clientIdHeader.safeParse(headers.id);
  if (!id.success) throw unauthorized('stacker-id must be a client id (a positive integer)');
  if (headers.hash === undefined) throw unauthorized('stacker-hash header is required with stacker-id');
  const hash = hashHeader.safeParse(headers.hash);
  if (!hash.success) throw unauthorized('stacker-hash must be a hex HMAC-SHA256 (64 characters)');
  if (headers.timestamp === undefined && headers.nonce === undefined && bodyOnly) return { clientId: id.data, hash: hash.data.toLowerCase() };
  if (headers.timestamp === undefined || headers.nonce === undefined) {
    throw unauthorized('stacker-timestamp and stacker-nonce are required: a signature of the body alone is refused (docs/api-clients.md)');
  }
  const timestamp = timestampHeader.safeParse(headers.timestamp);
  if (!timestamp.success) throw unauthorized('stacker-timestamp must be Unix time in whole seconds');
  const nonce = nonceHeader.safeParse(headers.nonce);
  if (!nonce.success) throw unauthorized('stacker-nonce must be 1 to 64 of A-Z, a-z, 0-9, "_" and "-"');
  if (Math.abs(Math.floor(nowMs / 1000) - timestamp.data) > CLIENT_SIGNATURE_MAX_SKEW_SECONDS) {
    throw unauthorized(`stacker-timestamp is more than ${CLIENT_SIGNATURE_MAX_SKEW_SECONDS} s from the server clock`);
  }
  return { clientId: id.data, hash: hash.data.toLowerCase(), signed: { timestamp: timestamp.data, nonce: nonce.data, rawTimestamp: headers.timestamp } };
}

/**
 * Verifies the MAC with the client's key, then (new scheme) spends the nonce: a nonce the client
 * used before, still within its window, is a 401 "replayed". The nonce is spent only once the MAC
 * is good, so nobody without the secret can use up a client's nonces.
 */
export async function verifyClientSignature(
  db: AnyDatabase,
  key: CryptoKey,
  parsed: ParsedClientHeaders,
  request: { method: string; pathWithQuery: string; body: ArrayBuffer | Uint8Array },
): Promise<void> {
  const expected = parsed.signed
    ? await clientRequestSignature(key, { ...request, timestamp: parsed.signed.rawTimestamp, nonce: parsed.signed.nonce })
    : await hmacSha256HexWithKey(key, request.body);
  if (!constantTimeEqual(expected, parsed.hash)) throw unauthorized('Invalid API client credentials');
  if (!parsed.signed) return;
  // A row past its window (the cron has not run yet) is taken over; a live one means a replay.
  const kept = await db
    .insert(apiClientNonce)
    .values({ clientId: parsed.clientId, nonce: parsed.signed.nonce, expiresAt: sql`to_timestamp(${parsed.signed.timestamp + CLIENT_SIGNATURE_MAX_SKEW_SECONDS + 1})` })
    .onConflictDoUpdate({
      target: [apiClientNonce.clientId, apiClientNonce.nonce],
      set: { expiresAt: sql`excluded.expires_at` },
      setWhere: sql`${apiClientNonce.expiresAt} < now()`,
    })
    .returning({ nonce: apiClientNonce.nonce });
  if (kept.length === 0) throw unauthorized('Signed request replayed: this stacker-nonce was already used');
}

/** Deletes the nonces whose window has ended (the cron). */
export async function pruneClientNonces(db: AnyDatabase): Promise<number> {
  const removed = await db.delete(apiClientNonce).where(lt(apiClientNonce.expiresAt, sql`now()`)).returning({ nonce: apiClientNonce.nonce });
  return removed.length;
}
