// The caller's servers (created by deploys): /server and /server/{id}.
import { createRoute, z } from '@hono/zod-openapi';
import { callerOwnerId, callerScope } from '../http/caller.ts';
import { createRouter } from '../http/router.ts';
import { authErrorResponses, errorResponses, idParam, jsonContent, userSecurity } from '../http/openapi.ts';
import { ServerForm } from '../services/inputs/servers.ts';
import { deleteServer, getServer, listServers, updateServer } from '../services/servers.ts';

const Server = z
  .object({
    id: z.number().int(),
    user_id: z.string(),
    project_id: z.number().int(),
    region: z.string().nullable(),
    zone: z.string().nullable(),
    server: z.string().nullable(),
    os: z.string().nullable(),
    disk_type: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
    srv_ip: z.string().nullable(),
    ssh_port: z.number().int().nullable(),
    ssh_user: z.string().nullable(),
  })
  .openapi('Server');

const item = z.object({ message: z.string(), item: Server });
const params = z.object({ id: idParam });
const responses = { ...authErrorResponses, ...errorResponses };

const list = createRoute({
  method: 'get', path: '/server', tags: ['servers'], summary: 'The caller’s servers', security: userSecurity,
  responses: { 200: jsonContent(z.object({ message: z.string(), list: z.array(Server) }), 'Servers'), ...responses },
});
const get = createRoute({
  method: 'get', path: '/server/{id}', tags: ['servers'], summary: 'One of the caller’s servers', security: userSecurity,
  request: { params }, responses: { 200: jsonContent(item, 'The server'), ...responses },
});
const update = createRoute({
  method: 'put', path: '/server/{id}', tags: ['servers'], summary: 'Replace a server’s settings', security: userSecurity,
  request: { params, body: { required: true, content: { 'application/json': { schema: ServerForm } } } },
  responses: { 200: jsonContent(item, 'Updated'), ...responses },
});
const remove = createRoute({
  method: 'delete', path: '/server/{id}', tags: ['servers'], summary: 'Delete a server record', security: userSecurity,
  request: { params }, responses: { 200: jsonContent(z.object({ message: z.string() }), 'Deleted'), ...responses },
});

export const serverRoutes = createRouter()
  .openapi(list, async (c) => c.json({ message: 'OK', list: await listServers(c.var.database.db, callerOwnerId(c)) }, 200))
  .openapi(get, async (c) => c.json({ message: 'OK', item: await getServer(c.var.database.db, c.req.valid('param').id, callerScope(c)) }, 200))
  .openapi(update, async (c) =>
    c.json({ message: 'Updated', item: await updateServer(c.var.database.db, c.req.valid('param').id, callerScope(c), c.req.valid('json')) }, 200),
  )
  .openapi(remove, async (c) => {
    await deleteServer(c.var.database.db, c.req.valid('param').id, callerScope(c));
    return c.json({ message: 'Item deleted' }, 200);
  });
