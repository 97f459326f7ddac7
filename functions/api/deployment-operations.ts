// The built-in engine's deployments: one deployment with its revisions, addresses and install command;
// redeploy, roll back, remove; a new install command. Each action answers 202 and the deployment's
// object carries it out; its event log (GET .../events) follows it.
import { createRoute, z } from '@hono/zod-openapi';
import { callerScope, currentUser } from '../http/caller.ts';
import { operationDeps, publicOrigin, wakeEngineLater } from '../http/engine.ts';
import { authErrorResponses, ErrorBodySchema, errorResponses, idParam, jsonContent, userSecurity } from '../http/openapi.ts';
import { createRouter } from '../http/router.ts';
import { ApiError, notFound } from '../errors.ts';
import { currentInstallCommand, issueEnrollment } from '../services/deploy-engine/enrollment.ts';
import { installCommandOf } from '../services/deploy-engine/install-script.ts';
import { engineView, requestRedeploy, requestRemove, requestRollback, type OperationStarted } from '../services/deploy-engine/operations.ts';
import { findDeployment, toDeploymentView } from '../services/deployments.ts';

const params = z.object({ id: idParam, deployment_id: idParam });
const responses = { ...authErrorResponses, ...errorResponses };

const Revision = z
  .object({
    revision: z.number().int(),
    status: z.enum(['pending', 'running', 'failed', 'superseded']).or(z.string()),
    message: z.string().nullable(),
    services: z.array(z.object({ name: z.string(), ports: z.array(z.number().int()), domain: z.string().nullable() })),
    created_at: z.string(),
    applied_at: z.string().nullable(),
    current: z.boolean(),
  })
  .openapi('DeploymentRevision');

const DeploymentDetail = z
  .object({
    id: z.number().int(),
    project_id: z.number().int(),
    deployment_hash: z.string(),
    status: z.string(),
    progress: z.number().int().nullable(),
    message: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
    deadline_at: z.string().nullable(),
    engine: z.enum(['builtin', 'install-service']),
    server_address: z.string().nullable(),
    cloud_server: z
      .object({ provider: z.string(), label: z.string(), id: z.string().nullable(), console_url: z.string().nullable(), deleted_at: z.string().nullable() })
      .nullable()
      .openapi({ description: 'A server Stacker created in the user’s cloud (htz, do): the provider, its ID there, a link to its console, and when Stacker deleted it' }),
    current_revision: z.number().int().nullable(),
    addresses: z.array(z.object({ service: z.string(), url: z.string() })).openapi({ description: 'Where the running stack is reached' }),
    install_command: z
      .string()
      .nullable()
      .openapi({ description: 'Until the agent enrolled: the one line to run as root on the server (a one-time secret inside; for the owner only)' }),
    install_command_expires_at: z.string().nullable(),
    revisions: z.array(Revision),
    operation: z.object({ kind: z.string(), step: z.string(), status: z.string(), revision: z.number().int().nullable() }).nullable(),
  })
  .openapi('DeploymentDetail');

const Accepted = z
  .object({
    message: z.string(),
    item: z.object({ deployment_id: z.number().int(), deployment_hash: z.string(), operation_id: z.number().int(), revision: z.number().int().nullable() }),
  })
  .openapi('DeploymentOperationAccepted');

const accepted = (description: string) => ({
  202: jsonContent(Accepted, description),
  409: jsonContent(ErrorBodySchema, 'Another operation is running, or the deployment was removed'),
  422: jsonContent(ErrorBodySchema, 'Not a deployment of the built-in engine, or nothing to roll back to'),
});

const detail = createRoute({
  method: 'get', path: '/project/{id}/deployments/{deployment_id}', tags: ['deployments'], security: userSecurity,
  summary: 'One deployment: status, addresses, revisions, and (until the agent enrolled) its install command',
  request: { params }, responses: { 200: jsonContent(z.object({ message: z.string(), item: DeploymentDetail }), 'The deployment'), ...responses },
});
const redeploy = createRoute({
  method: 'post', path: '/project/{id}/deployments/{deployment_id}/redeploy', tags: ['deployments'], security: userSecurity,
  summary: 'Apply the project as it is now to the same server, as a new revision',
  description: 'If the new revision fails (deploy_app or its health), the engine applies the last good revision again and the deployment ends failed, saying so.',
  request: { params }, responses: { ...accepted('Redeploy started'), ...responses },
});
const rollback = createRoute({
  method: 'post', path: '/project/{id}/deployments/{deployment_id}/rollback', tags: ['deployments'], security: userSecurity,
  summary: 'Apply an earlier revision again (default: the last one that ran before the current)',
  request: {
    params,
    body: { required: false, content: { 'application/json': { schema: z.object({ revision: z.number().int().min(1).max(1_000_000).optional() }).strict() } } },
  },
  responses: { ...accepted('Rollback started'), ...responses },
});
const remove = createRoute({
  method: 'delete', path: '/project/{id}/deployments/{deployment_id}', tags: ['deployments'], security: userSecurity,
  summary: 'Take the stack down on the server (remove_app for every service); the deployment ends removed',
  request: { params }, responses: { ...accepted('Removal started'), ...responses },
});
const newInstallCommand = createRoute({
  method: 'post', path: '/project/{id}/deployments/{deployment_id}/install-command', tags: ['deployments'], security: userSecurity,
  summary: 'A new install command (the earlier one stops working)',
  request: { params },
  responses: {
    201: jsonContent(z.object({ message: z.string(), item: z.object({ install_command: z.string(), expires_at: z.string() }) }), 'The new command'),
    422: jsonContent(ErrorBodySchema, 'Not a deployment of the built-in engine'),
    ...responses,
  },
});

const acceptedBody = (message: string, started: OperationStarted) => ({
  message,
  item: { deployment_id: started.deploymentId, deployment_hash: started.deploymentHash, operation_id: started.operationId, revision: started.revision },
});

export const deploymentOperationRoutes = createRouter()
  .openapi(detail, async (c) => {
    const { id, deployment_id } = c.req.valid('param');
    const row = await findDeployment(c.var.database.db, { id: deployment_id }, callerScope(c));
    if (row.projectId !== id) throw notFound('Deployment not found');
    const base = { ...toDeploymentView(row), engine: row.engine === 'builtin' ? ('builtin' as const) : ('install-service' as const) };
    if (row.engine !== 'builtin') {
      return c.json({ message: 'OK', item: { ...base, server_address: null, cloud_server: null, current_revision: null, addresses: [], install_command: null, install_command_expires_at: null, revisions: [], operation: null } }, 200);
    }
    const engine = await engineView(c.var.database.db, row);
    // A created server runs its install command itself (its user data): none is shown for it.
    const install = engine.cloud_server ? null : await currentInstallCommand(operationDeps(c), row.id, publicOrigin(c));
    return c.json({ message: 'OK', item: { ...base, ...engine, install_command: install?.install_command ?? null, install_command_expires_at: install?.expires_at ?? null } }, 200);
  })
  .openapi(redeploy, async (c) => {
    const { id, deployment_id } = c.req.valid('param');
    const started = await requestRedeploy(operationDeps(c), { projectId: id, deploymentId: deployment_id, scope: callerScope(c), userId: currentUser(c).id });
    wakeEngineLater(c, started.deploymentHash, started.deploymentId);
    return c.json(acceptedBody(`Redeploying revision ${started.revision}`, started), 202);
  })
  .openapi(rollback, async (c) => {
    const { id, deployment_id } = c.req.valid('param');
    const body = (c.req.valid('json') as { revision?: number } | undefined) ?? {};
    const started = await requestRollback(operationDeps(c), { projectId: id, deploymentId: deployment_id, scope: callerScope(c), userId: currentUser(c).id, revision: body.revision });
    wakeEngineLater(c, started.deploymentHash, started.deploymentId);
    return c.json(acceptedBody(`Rolling back to revision ${started.revision}`, started), 202);
  })
  .openapi(remove, async (c) => {
    const { id, deployment_id } = c.req.valid('param');
    const started = await requestRemove(operationDeps(c), { projectId: id, deploymentId: deployment_id, scope: callerScope(c), userId: currentUser(c).id });
    wakeEngineLater(c, started.deploymentHash, started.deploymentId);
    return c.json(acceptedBody('Removing the stack', started), 202);
  })
  .openapi(newInstallCommand, async (c) => {
    const { id, deployment_id } = c.req.valid('param');
    const row = await findDeployment(c.var.database.db, { id: deployment_id }, callerScope(c));
    if (row.projectId !== id) throw notFound('Deployment not found');
    if (row.engine !== 'builtin') throw new ApiError(422, 'This deployment is carried out by the install service: it has no install command');
    // Its user data holds the first command: a new one would never reach it.
    if (row.cloudId !== null) throw new ApiError(422, 'Stacker created this deployment’s server, which runs its own install command: remove the deployment and deploy again for a new server');
    const deps = operationDeps(c);
    const issued = await issueEnrollment({ db: deps.db, securityKey: deps.securityKey, ttlSeconds: deps.enrollmentTtlSeconds }, row.id);
    return c.json({ message: 'A new install command: the earlier one no longer works', item: { install_command: installCommandOf(publicOrigin(c), issued.secret), expires_at: issued.expiresAt.toISOString() } }, 201);
  });
