// Stands in for HashiCorp Vault's KV HTTP API, as node-vault calls it (agent-protocol.md §1.10):
//   POST   /v1/<path> {"data":{...}}  stores the object (200, KV v2 write metadata)
//   GET    /v1/<path>                 200 {"data":{"data":{...},"metadata":{...}}}, or 404 {"errors":[]}
//   DELETE /v1/<path>                 204 (also when nothing was there, as Vault does)
// Every /v1 call needs "X-Vault-Token: <token>", else 403 {"errors":["permission denied"]}.
// Failures on demand, per address so that parallel tests do not disturb each other:
//   <url>/__down/v1/...         answers 503 {"errors":["Vault is sealed"]} (VAULT_ADDRESS = <url>/__down)
//   <url>/__slow/<ms>/v1/...    answers as usual after <ms> milliseconds
// For tests: GET /__stored?path=agent/<hash>/token → 200 {"data":{...}} or 404.
import { randomBytes } from 'node:crypto';
import { sendJson, startStubServer, type StubServer } from './http.ts';

export interface VaultStub extends StubServer {
  /** The X-Vault-Token it accepts. */
  token: string;
  /** What is stored at a path (without /v1/), for Node-side tests. */
  stored(path: string): Record<string, unknown> | undefined;
  /** Everything ever written, overwritten and deleted entries included (for the leak check). */
  written(): Record<string, unknown>[];
}

export async function startVaultStub(token = `hvs.${randomBytes(18).toString('hex')}`): Promise<VaultStub> {
  const secrets = new Map<string, { data: Record<string, unknown>; version: number; created: string }>();
  const written: Record<string, unknown>[] = [];
  const server = await startStubServer(async (req, res, body) => {
    // No keep-alive: a pooled connection the server has just timed out would surface in workerd as
    // "Network connection lost" on the next request.
    res.setHeader('connection', 'close');
    const url = new URL(req.url ?? '/', 'http://stub');
    if (url.pathname === '/__stored') {
      const entry = secrets.get(normalise(url.searchParams.get('path') ?? ''));
      return entry ? sendJson(res, 200, { data: entry.data }) : sendJson(res, 404, { errors: [] });
    }

    let pathname = url.pathname;
    if (pathname.startsWith('/__down/')) return sendJson(res, 503, { errors: ['Vault is sealed'] });
    const slow = /^\/__slow\/(\d{1,6})(\/.*)$/.exec(pathname);
    if (slow) {
      await new Promise((resolve) => setTimeout(resolve, Number(slow[1])));
      if (res.destroyed) return;
      pathname = slow[2]!;
    }
    if (!pathname.startsWith('/v1/')) return sendJson(res, 404, { errors: [] });
    if (req.headers['x-vault-token'] !== token) return sendJson(res, 403, { errors: ['permission denied'] });

    const path = normalise(decodeURIComponent(pathname.slice('/v1/'.length)));
    switch (req.method) {
      case 'POST':
      case 'PUT': {
        let parsed: unknown;
        try {
          parsed = JSON.parse(body || 'null');
        } catch {
          return sendJson(res, 400, { errors: ['failed to parse JSON input'] });
        }
        const data = (parsed as { data?: unknown } | null)?.data;
        if (typeof data !== 'object' || data === null || Array.isArray(data)) {
          return sendJson(res, 400, { errors: ['no data provided'] });
        }
        const version = (secrets.get(path)?.version ?? 0) + 1;
        const created = new Date().toISOString();
        secrets.set(path, { data: data as Record<string, unknown>, version, created });
        written.push(data as Record<string, unknown>);
        return sendJson(res, 200, { data: { created_time: created, deletion_time: '', destroyed: false, version } });
      }
      case 'GET': {
        const entry = secrets.get(path);
        if (!entry) return sendJson(res, 404, { errors: [] });
        return sendJson(res, 200, {
          request_id: crypto.randomUUID(),
          lease_id: '',
          renewable: false,
          lease_duration: 0,
          data: { data: entry.data, metadata: { created_time: entry.created, deletion_time: '', destroyed: false, version: entry.version } },
          wrap_info: null,
          warnings: null,
          auth: null,
        });
      }
      case 'DELETE':
        secrets.delete(path);
        res.writeHead(204).end();
        return;
      default:
        return sendJson(res, 405, { errors: ['unsupported operation'] });
    }
  });
  return { ...server, token, stored: (path) => secrets.get(normalise(path))?.data, written: () => [...written] };
}

function normalise(path: string): string {
  return path.replace(/^\/+|\/+$/g, '');
}
