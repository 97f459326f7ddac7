// Commands for a deployment's agent, for its owner (and admins; read and create for the owner's API clients).
import { createRoute, z } from '@hono/zod-openapi';
import { callerOwnerId, callerScope, ringDoorbell } from '../http/caller.ts';
import { badRequest } from '../errors.ts';
import { createRouter } from '../http/router.ts';
import { authErrorResponses, errorResponses, ErrorBodySchema, idempotencyKeyHeader, jsonContent, userSecurity } from '../http/openapi.ts';
import { checkCommandParameters } from '../services/command-types.ts';
import { cancelCommand, createCommand, getCommand, listCommands, toOwnerCommandView } from '../services/commands.ts';
import { commandIdParam, deploymentHashParam, NewCommandBody } from '../services/inputs/commands.ts';
import { CommandSchema } from './responses.ts';

const idempotencyHeader = idempotencyKeyHeader('The same key again answers the command it created');

const item = z.object({ message: z.string(), item: CommandSchema });
const responses = { ...authErrorResponses, ...errorResponses };

const create = createRoute({
  method: 'post', path: '/api/v1/commands', tags: ['commands'], security: userSecurity,
  summary: 'Queue a command for a deployment’s agent',
  request: { headers: idempotencyHeader, body: { required: true, content: { 'application/json': { schema: NewCommandBody } } } },
  responses: { 201: jsonContent(item, 'Queued'), 200: jsonContent(item, 'Already created with this Idempotency-Key'), ...responses },
});
const list = createRoute({
  method: 'get', path: '/api/v1/commands/{deployment_hash}', tags: ['commands'], security: userSecurity,
  summary: 'The commands of a deployment, newest first',
  request: { params: z.object({ deployment_hash: deploymentHashParam }) },
  responses: { 200: jsonContent(z.object({ message: z.string(), list: z.array(CommandSchema) }), 'Commands'), ...responses },
});
const get = createRoute({
  method: 'get', path: '/api/v1/commands/{deployment_hash}/{command_id}', tags: ['commands'], security: userSecurity,
  summary: 'One command',
  request: { params: z.object({ deployment_hash: deploymentHashParam, command_id: commandIdParam }) },
  responses: { 200: jsonContent(item, 'The command'), ...responses },
});
const cancel = createRoute({
  method: 'post', path: '/api/v1/commands/{deployment_hash}/{command_id}/cancel', tags: ['commands'], security: userSecurity,
  summary: 'Cancel a queued or delivered command',
  request: { params: z.object({ deployment_hash: deploymentHashParam, command_id: commandIdParam }) },
  responses: { 200: jsonContent(item, 'Cancelled'), 409: jsonContent(ErrorBodySchema, 'The command has already ended'), ...responses },
});

export const commandRoutes = createRouter()
  .openapi(create, async (c) => {
    const input = c.req.valid('json');
    const issues = checkCommandParameters(input.command_type, input.parameters);
    if (issues.length) {
      const errors = issues.map((issue) => ({ path: ['body', 'parameters', ...issue.path.map(String)].join('.'), message: issue.message }));
      throw badRequest(`Invalid parameters for ${input.command_type}: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`, errors);
    }
    const { command, created } = await createCommand(c.var.database.db, {
      deploymentHash: input.deployment_hash,
      scope: callerScope(c),
      createdBy: callerOwnerId(c),
      input,
      idempotencyKey: c.req.valid('header')['idempotency-key'],
    });
    if (created) ringDoorbell(c, command.deploymentHash, 'commands', 'status');
    return created
      ? c.json({ message: 'Command created successfully', item: toOwnerCommandView(command) }, 201)
      : c.json({ message: 'Command already created with this Idempotency-Key', item: toOwnerCommandView(command) }, 200);
  })
  .openapi(list, async (c) => {
    const rows = await listCommands(c.var.database.db, c.req.valid('param').deployment_hash, callerScope(c));
    return c.json({ message: 'Commands fetched successfully', list: rows.map(toOwnerCommandView) }, 200);
  })
  .openapi(get, async (c) => {
    const { deployment_hash, command_id } = c.req.valid('param');
    return c.json({ message: 'Command fetched successfully', item: toOwnerCommandView(await getCommand(c.var.database.db, deployment_hash, command_id, callerScope(c))) }, 200);
  })
  .openapi(cancel, async (c) => {
    const { deployment_hash, command_id } = c.req.valid('param');
    const row = await cancelCommand(c.var.database.db, deployment_hash, command_id, callerScope(c));
    ringDoorbell(c, deployment_hash, 'status');
    return c.json({ message: 'Command cancelled successfully', item: toOwnerCommandView(row) }, 200);
  });
