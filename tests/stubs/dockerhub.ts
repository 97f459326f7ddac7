// Stands in for Docker Hub's API (the calls services/dockerhub.ts makes):
//   GET  /v2/namespaces/{ns}/repositories/{repo}/tags/{tag} → 200 tag document, or 404
//   POST /v2/users/login {username, password} → {token}, or 401
// Every image exists, except: repositories named missing-* or nonexistent (404), namespace
// "privateorg" (only with the bearer from logging in as privateorg / let-me-in), and repositories
// named unreachable-* (503). GET /hits?image=ns/repo:tag counts lookups.
import { sendJson, startStubServer, type StubServer } from './http.ts';

export const PRIVATE_NAMESPACE = 'privateorg';
export const PRIVATE_PASSWORD = 'let-me-in';
const PRIVATE_TOKEN = 'hub-token-for-privateorg';

export async function startDockerHubStub(): Promise<StubServer> {
  const hits = new Map<string, number>();
  return startStubServer((req, res, body) => {
    const url = new URL(req.url ?? '/', 'http://stub');
    if (url.pathname === '/hits') return sendJson(res, 200, { hits: hits.get(url.searchParams.get('image') ?? '') ?? 0 });
    if (url.pathname === '/v2/users/login' && req.method === 'POST') {
      const credentials = JSON.parse(body || '{}') as { username?: string; password?: string };
      if (credentials.username === PRIVATE_NAMESPACE && credentials.password === PRIVATE_PASSWORD) return sendJson(res, 200, { token: PRIVATE_TOKEN });
      return sendJson(res, 401, { detail: 'Incorrect authentication credentials' });
    }
    const tag = /^\/v2\/namespaces\/([^/]+)\/repositories\/([^/]+)\/tags\/([^/]+)$/.exec(url.pathname);
    if (!tag || req.method !== 'GET') return sendJson(res, 404, { message: 'object not found' });
    const [, namespace, repository, tagName] = tag as unknown as [string, string, string, string];
    const image = `${namespace}/${repository}:${decodeURIComponent(tagName)}`;
    hits.set(image, (hits.get(image) ?? 0) + 1);
    if (repository.startsWith('unreachable-')) return sendJson(res, 503, { message: 'service unavailable' });
    if (repository.startsWith('missing-') || repository === 'nonexistent') return sendJson(res, 404, { message: 'httperror 404: tag not found' });
    if (namespace === PRIVATE_NAMESPACE && req.headers.authorization !== `Bearer ${PRIVATE_TOKEN}`) {
      return sendJson(res, 404, { message: 'httperror 404: object not found' });
    }
    return sendJson(res, 200, { name: decodeURIComponent(tagName), tag_status: 'active', full_size: 1024, last_updated: '2026-01-01T00:00:00Z' });
  });
}
