import { createRoute, z } from '@hono/zod-openapi';
import { sql } from 'drizzle-orm';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createApp, MAX_BODY_BYTES } from '../../functions/app.ts';
import { invalidateRules } from '../../functions/services/access-control.ts';
import { createRouter } from '../../functions/http/router.ts';
import { api, apiOf } from '../helpers/api.ts';
import { withDatabase } from '../helpers/db.ts';

// A route that exists only here, to drive the shared machinery (validation hook, error handler)
// with inputs of every class; the resource routes get the same treatment in their own tests.
const echo = createRoute({
  method: 'post',
  path: '/__test/echo/{id}',
  request: {
    params: z.object({ id: z.coerce.number().int().positive() }),
    body: {
      required: true,
      content: { 'application/json': { schema: z.object({ name: z.string().min(3), tags: z.array(z.string()).max(2) }) } },
    },
  },
  responses: { 200: { description: 'echo' } },
});
const boom = createRoute({ method: 'get', path: '/__test/boom', responses: { 200: { description: 'never' } } });

function appWithTestRoutes() {
  const app = createApp();
  const routes = createRouter()
    .openapi(echo, (c) => c.json({ message: 'ok', item: c.req.valid('json') }, 200))
    .openapi(boom, () => {
      throw new Error('kaboom: something nobody expected');
    });
  app.route('/', routes);
  return app;
}

const request = (path: string, init?: RequestInit) => apiOf(appWithTestRoutes(), path, init);
const json = { 'content-type': 'application/json' };

afterEach(() => vi.restoreAllMocks());

beforeAll(async () => {
  // Let anyone reach the test-only routes, so the requests get past authorization to validation.
  await withDatabase((db) =>
    db.execute(sql`insert into casbin_rule (ptype, v0, v1, v2, v3, v4, v5) values
      ('p', 'group_anonymous', '/__test/*', 'POST', '', '', ''),
      ('p', 'group_anonymous', '/__test/*', 'GET', '', '', '') on conflict do nothing`),
  );
  // Files share the worker's modules (isolate: false), so an earlier file may have cached the rules.
  invalidateRules();
});

describe('error envelope', () => {
  it('unknown routes are a JSON 404', async () => {
    const response = await api('/no/such/route');
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await response.json()).toEqual({ message: 'No route for GET /no/such/route' });
  });

  it('a known path with an unknown method is a JSON 404', async () => {
    const response = await api('/health_check', { method: 'DELETE' });
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  });

  it('a valid request passes through', async () => {
    const response = await request('/__test/echo/7', { method: 'POST', headers: json, body: '{"name":"abc","tags":[]}' });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ message: 'ok', item: { name: 'abc', tags: [] } });
  });

  it('zod failures are 400 with the path of each bad field', async () => {
    const response = await request('/__test/echo/7', {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ name: 'ab', tags: ['a', 'b', 'c'] }),
    });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { message: string; errors: Array<{ path: string; message: string }> };
    expect(body.message).toMatch(/^Invalid request body/);
    expect(body.errors.map((error) => error.path).sort()).toEqual(['body.name', 'body.tags']);
  });

  it('a missing body field is 400 naming it', async () => {
    const response = await request('/__test/echo/7', { method: 'POST', headers: json, body: '{"tags":[]}' });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { errors: Array<{ path: string }> };
    expect(body.errors).toEqual([expect.objectContaining({ path: 'body.name' })]);
  });

  it('a bad path parameter is 400 naming it', async () => {
    const response = await request('/__test/echo/-3', { method: 'POST', headers: json, body: '{"name":"abc","tags":[]}' });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { errors: Array<{ path: string }> };
    expect(body.errors[0]?.path).toBe('path.id');
  });

  it('malformed JSON is 400 with a JSON message', async () => {
    const response = await request('/__test/echo/7', { method: 'POST', headers: json, body: '{"name": "abc",' });
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await response.json()).toEqual({ message: 'Malformed JSON in request body' });
  });

  it('a body that is not JSON (wrong content type) is 415', async () => {
    const response = await request('/__test/echo/7', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'name=abc' });
    expect(response.status).toBe(415);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(((await response.json()) as { message: string }).message).toMatch(/json/i);
  });

  it('a body over 2 MiB is 413', async () => {
    const big = JSON.stringify({ name: 'x'.repeat(MAX_BODY_BYTES), tags: [] });
    const response = await request('/__test/echo/7', { method: 'POST', headers: json, body: big });
    expect(response.status).toBe(413);
    expect(await response.json()).toEqual({ message: `Request body is larger than ${MAX_BODY_BYTES} bytes` });
  });

  it('a body over 2 MiB without Content-Length (streamed) is 413', async () => {
    const chunk = new TextEncoder().encode('x'.repeat(64 * 1024));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent > MAX_BODY_BYTES + chunk.length) return controller.close();
        sent += chunk.length;
        controller.enqueue(chunk);
      },
    });
    const response = await request('/__test/echo/7', { method: 'POST', headers: json, body: stream, duplex: 'half' } as RequestInit);
    expect(response.status).toBe(413);
  });

  it('an unexpected exception is a 500 with the request id, logged as one JSON line', async () => {
    const logged: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((line: unknown) => void logged.push(String(line)));
    const response = await request('/__test/boom');
    expect(response.status).toBe(500);
    const requestId = response.headers.get('x-request-id');
    expect(requestId).toBeTruthy();
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toEqual({ message: 'Internal server error', request_id: requestId });
    expect(JSON.stringify(body)).not.toContain('kaboom');
    const entry = JSON.parse(logged.at(-1) ?? '{}') as Record<string, unknown>;
    expect(entry).toMatchObject({ level: 'error', msg: 'unhandled error', requestId, path: '/__test/boom', error: 'kaboom: something nobody expected' });
  });

  it('every response carries a request id; a caller-supplied one is kept', async () => {
    const response = await api('/health_check', { headers: { 'X-Request-Id': 'caller-abc-123' } });
    expect(response.headers.get('x-request-id')).toBe('caller-abc-123');
  });
});
