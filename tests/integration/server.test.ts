import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { api, bearerFor, createApiClientFor, hmacHeaders, jsonRequest, uniqueId } from '../helpers/auth.ts';
import { withDatabase } from '../helpers/db.ts';
import { fixtures } from '../helpers/fixtures.ts';

interface ServerItem extends Record<string, unknown> {
  id: number;
  user_id: string;
  project_id: number;
}

/** Servers are created by deploys; here one is written directly, as a deploy leaves it. */
async function seedServer(userId: string): Promise<{ id: number; projectId: number }> {
  return withDatabase(async (db) => {
    const project = await db.execute<{ id: number }>(sql`
      insert into project (stack_id, user_id, name, metadata) values (gen_random_uuid(), ${userId}, 'srv-test', '{}') returning id`);
    const projectId = project.rows[0]!.id;
    const server = await db.execute<{ id: number }>(sql`
      insert into server (user_id, project_id, region, zone, server, os) values (${userId}, ${projectId}, 'fsn1', 'a', 'cx11', 'ubuntu-22.04') returning id`);
    return { id: server.rows[0]!.id, projectId };
  });
}

async function storedRow(id: number) {
  return withDatabase(async (db) => (await db.execute(sql`select * from server where id = ${id}`)).rows[0]);
}

describe('servers', () => {
  it('GET /server lists only the caller’s servers; GET /server/{id} reads one', async () => {
    const userId = uniqueId('srv');
    const mine = await seedServer(userId);
    await seedServer(uniqueId('other'));
    const headers = bearerFor('group_user', userId);
    const list = ((await (await api('/server', { headers })).json()) as { list: ServerItem[] }).list;
    expect(list.map((server) => server.id)).toEqual([mine.id]);
    const one = await api(`/server/${mine.id}`, { headers });
    expect(one.status).toBe(200);
    expect(((await one.json()) as { item: ServerItem }).item).toMatchObject({ id: mine.id, user_id: userId, project_id: mine.projectId, region: 'fsn1' });
  });

  it('PUT accepts each reference fixture, ignoring ids in the body, and replaces the fields', async () => {
    const userId = uniqueId('put');
    const seeded = await seedServer(userId);
    const headers = bearerFor('group_user', userId);
    for (const body of [fixtures.server, fixtures.serverUpdate, fixtures.serverUpdateInvalid]) {
      const response = await api(`/server/${seeded.id}`, jsonRequest('PUT', body, headers));
      expect(response.status).toBe(200);
      const item = ((await response.json()) as { item: ServerItem }).item;
      expect(item).toMatchObject({ id: seeded.id, user_id: userId, project_id: seeded.projectId, region: 'fra-1', zone: 'a', server: 'server-1', disk_type: 'samples' });
    }
    const row = await storedRow(seeded.id);
    expect(row).toMatchObject({ region: 'fra-1', os: '3408230498203948234', project_id: seeded.projectId, ssh_port: null });
  });

  it('PUT rejects values outside the declared rules with 400 naming the field', async () => {
    const userId = uniqueId('bad');
    const seeded = await seedServer(userId);
    const headers = bearerFor('group_user', userId);
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ region: 'x' }, 'body.region'],
      [{ ssh_port: 19 }, 'body.ssh_port'],
      [{ ssh_port: 70000 }, 'body.ssh_port'],
      [{ ssh_port: '22' }, 'body.ssh_port'],
      [{ srv_ip: 'not-an-ip' }, 'body.srv_ip'],
      [{ disk_type: 'ab' }, 'body.disk_type'],
      [{ ssh_user: 'a'.repeat(51) }, 'body.ssh_user'],
    ];
    for (const [body, path] of cases) {
      const response = await api(`/server/${seeded.id}`, jsonRequest('PUT', body, headers));
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(((await response.json()) as { errors: Array<{ path: string }> }).errors.map((e) => e.path)).toContain(path);
    }
    expect(await storedRow(seeded.id)).toMatchObject({ region: 'fsn1', ssh_port: null });
  });

  it('PUT without a body is a 400, not an update that clears every field', async () => {
    const userId = uniqueId('nobody');
    const seeded = await seedServer(userId);
    const before = await storedRow(seeded.id);
    for (const headers of [bearerFor('group_user', userId), { ...bearerFor('group_user', userId), 'content-type': '' }]) {
      const response = await api(`/server/${seeded.id}`, { method: 'PUT', headers });
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ message: 'Request body is required (Content-Type: application/json)', errors: [{ path: 'body' }] });
    }
    expect(await storedRow(seeded.id)).toEqual(before);
  });

  it('another user gets 404 on read, update and delete, and nothing changes', async () => {
    const seeded = await seedServer(uniqueId('own'));
    const before = await storedRow(seeded.id);
    const stranger = bearerFor('group_user', uniqueId('str'));
    expect((await api(`/server/${seeded.id}`, { headers: stranger })).status).toBe(404);
    expect((await api(`/server/${seeded.id}`, jsonRequest('PUT', fixtures.server, stranger))).status).toBe(404);
    expect((await api(`/server/${seeded.id}`, { method: 'DELETE', headers: stranger })).status).toBe(404);
    expect(await storedRow(seeded.id)).toEqual(before);
  });

  it('the owner deletes a server; its API client can read but not delete', async () => {
    const userId = uniqueId('del');
    const seeded = await seedServer(userId);
    const apiClient = await createApiClientFor(userId);
    expect((await api(`/server/${seeded.id}`, { headers: await hmacHeaders(apiClient, 'GET', `/server/${seeded.id}`) })).status).toBe(200);
    expect((await api(`/server/${seeded.id}`, { method: 'DELETE', headers: await hmacHeaders(apiClient, 'DELETE', `/server/${seeded.id}`) })).status).toBe(403);
    const response = await api(`/server/${seeded.id}`, { method: 'DELETE', headers: bearerFor('group_user', userId) });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ message: 'Item deleted' });
    expect(await storedRow(seeded.id)).toBeUndefined();
  });
});
