// Stands in for Upstash QStash: the publish API the SDK calls, and delivery of each message to its
// destination, signed as QStash signs (Upstash-Signature: an HS256 JWT with the body's SHA-256),
// retried on failure, deduplicated by Upstash-Deduplication-Id.
//   POST /v2/publish/<destination URL>  → 201 {messageId}
//   GET  /published  every accepted publish request (headers and body) in order
import { createHash, randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { sendJson, startStubServer, type StubServer } from './http.ts';

export const QSTASH_TOKEN = 'qstash-test-token';

export interface QStashStub extends StubServer {
  currentSigningKey: string;
  nextSigningKey: string;
}

export async function startQStashStub(options: { retryDelayMs?: number; maxRetries?: number } = {}): Promise<QStashStub> {
  const currentSigningKey = `sig_current_${randomUUID()}`;
  const nextSigningKey = `sig_next_${randomUUID()}`;
  const byDeduplicationId = new Map<string, string>();
  const published: Array<{ headers: Record<string, string>; body: string; destination: string }> = [];

  async function deliver(destination: string, body: string, headers: Record<string, string>, messageId: string, retried = 0): Promise<void> {
    const signature = await new SignJWT({ body: createHash('sha256').update(body).digest('base64url') })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer('Upstash')
      .setSubject(destination)
      .setIssuedAt()
      .setNotBefore('0s')
      .setExpirationTime('5m')
      .setJti(randomUUID())
      .sign(new TextEncoder().encode(currentSigningKey));
    const forwarded: Record<string, string> = { 'content-type': headers['content-type'] ?? 'application/json' };
    for (const [key, value] of Object.entries(headers)) {
      if (key.startsWith('upstash-forward-')) forwarded[key.slice('upstash-forward-'.length)] = value;
    }
    let ok = false;
    try {
      const response = await fetch(destination, {
        method: 'POST',
        headers: { ...forwarded, 'upstash-signature': signature, 'upstash-message-id': messageId, 'upstash-retried': String(retried) },
        body,
      });
      await response.arrayBuffer();
      ok = response.ok;
    } catch {
      ok = false;
    }
    if (!ok && retried < (options.maxRetries ?? 3)) {
      setTimeout(() => void deliver(destination, body, headers, messageId, retried + 1), options.retryDelayMs ?? 50);
    }
  }

  const server = await startStubServer((req, res, body) => {
    const url = new URL(req.url ?? '/', 'http://stub');
    if (req.method === 'GET' && url.pathname === '/published') return sendJson(res, 200, { published });
    if (req.method !== 'POST' || !url.pathname.startsWith('/v2/publish/')) return sendJson(res, 404, { error: 'not found' });
    if (req.headers.authorization !== `Bearer ${QSTASH_TOKEN}`) return sendJson(res, 401, { error: 'unauthorized' });
    const destination = decodeURIComponent(req.url!.slice('/v2/publish/'.length));
    const headers = Object.fromEntries(Object.entries(req.headers).map(([key, value]) => [key, String(value)]));
    const deduplicationId = headers['upstash-deduplication-id'];
    const existing = deduplicationId ? byDeduplicationId.get(deduplicationId) : undefined;
    if (existing) return sendJson(res, 202, { messageId: existing, deduplicated: true });
    const messageId = `msg_${randomUUID()}`;
    if (deduplicationId) byDeduplicationId.set(deduplicationId, messageId);
    published.push({ headers, body, destination });
    sendJson(res, 201, { messageId });
    void deliver(destination, body, headers, messageId);
  });
  return { ...server, currentSigningKey, nextSigningKey };
}
