// API-client signatures for benchmarks (docs/api-clients.md): every request needs its own nonce, so
// autocannon signs each one as it sends it (setupRequest), with Node's synchronous HMAC.
import type autocannon from 'autocannon';
import { createHash, createHmac, randomBytes } from 'node:crypto';

/** stacker-id, stacker-timestamp, a fresh stacker-nonce and stacker-hash for one request. */
export function signedClientHeaders(client: { id: number; secret: string }, method: string, pathWithQuery: string, body = ''): Record<string, string> {
  const timestamp = String(Math.floor(Date.now() / 1000));
  const nonce = randomBytes(16).toString('hex');
  const bodyHash = createHash('sha256').update(body).digest('hex');
  const hash = createHmac('sha256', client.secret).update(`${method.toUpperCase()}\n${pathWithQuery}\n${timestamp}\n${nonce}\n${bodyHash}`).digest('hex');
  return { 'stacker-id': String(client.id), 'stacker-timestamp': timestamp, 'stacker-nonce': nonce, 'stacker-hash': hash };
}

/** An autocannon request whose headers are signed afresh each time it is sent (GET, no body). */
export function signedGet(client: { id: number; secret: string }, path: string): autocannon.Request {
  return {
    method: 'GET',
    path,
    setupRequest: (request) => ({ ...request, method: 'GET', path, headers: { ...request.headers, ...signedClientHeaders(client, 'GET', path) } }),
  };
}
