// Deploying projects and following their deployments.
import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { callerScope } from '../http/caller.ts';
import { cancelAndPublish, startAndPublish } from '../http/deploy-actions.ts';
import type { AppEnv } from '../http/env.ts';
import { notFound } from '../errors.ts';
import { operationDeps, publicOrigin } from '../http/engine.ts';
import { createRouter } from '../http/router.ts';
import { authErrorResponses, errorResponses, ErrorBodySchema, idempotencyKeyHeader, idParam, jsonContent, userSecurity } from '../http/openapi.ts';
import type { Deployment as DeploymentRow } from '../../db/schema.ts';
import { currentInstallCommand } from '../services/deploy-engine/enrollment.ts';
import { findDeployment, isTerminal, listDeployments, toDeploymentView } from '../services/deployments.ts';
import { EVENT_KINDS, listEvents, MAX_EVENTS_PAGE, MAX_EVENTS_WAIT_SECONDS, toEventView, waitForEvents } from '../services/deployment-events.ts';
import { durableDoorbell } from '../services/doorbell.ts';
import { DeployForm, SavedCloudDeployForm, type SavedCloudDeployInput } from '../services/inputs/deployments.ts';
import { waitForChange } from '../services/status-wait.ts';

const Deployment = z
  .object({
    id: z.number().int(),
    project_id: z.number().int(),
    deployment_hash: z.string(),
    status: z.string().openapi({ description: 'pending, in_progress, paused, wait_start, wait_resume, confirmed; or, once ended: completed, failed, error, cancelled, timed_out' }),
    progress: z.number().int().nullable(),
    message: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
    deadline_at: z.string().nullable(),
    install_command: z
      .string()
      .optional()
      .openapi({ description: 'Built-in engine, until the agent enrolled: the one line to run as root on the server (for the owner only)' }),
  })
  .openapi('Deployment');

const Started = z.object({
  message: z.string(),
  id: z.number().int().openapi({ description: 'The project id' }),
  item: z.object({
    deployment_id: z.number().int(),
    deployment_hash: z.string(),
    status: z.string(),
    install_command: z
      .string()
      .optional()
      .openapi({ description: 'Built-in engine, own server: the one line to run as root on the server (`curl -fsSL <url> | sh`; a one-time secret inside, for the owner only)' }),
  }),
});

const responses = { ...authErrorResponses, ...errorResponses, 409: jsonContent(ErrorBodySchema, 'The deployment has already ended') };

const idempotencyHeader = idempotencyKeyHeader(
  'The same key again (e.g. a retry after a lost answer) answers the deployment it started, 200, instead of starting another',
);
const startedResponses = {
  202: jsonContent(Started, 'Accepted: the job is on its way to the install service, or (built-in engine) the deployment waits for its server’s agent'),
  422: jsonContent(ErrorBodySchema, 'The built-in engine cannot deploy to this provider (the message names those it can)'),
  200: jsonContent(Started, 'Already started with this Idempotency-Key'),
  ...responses,
};

const projectParams = z.object({ id: idParam });
const deploy = createRoute({
  method: 'post', path: '/project/{id}/deploy', tags: ['deployments'], security: userSecurity,
  summary: 'Deploy a project with the cloud credentials in the body',
  request: { params: projectParams, headers: idempotencyHeader, body: { required: true, content: { 'application/json': { schema: DeployForm } } } },
  responses: startedResponses,
});
const deployWithCloud = createRoute({
  method: 'post', path: '/project/{id}/deploy/{cloud_id}', tags: ['deployments'], security: userSecurity,
  summary: 'Deploy a project with one of the caller’s saved clouds',
  request: {
    params: z.object({ id: idParam, cloud_id: idParam }),
    headers: idempotencyHeader,
    body: { required: true, content: { 'application/json': { schema: SavedCloudDeployForm } } },
  },
  responses: startedResponses,
});

/** Both deploy routes: start (or find, by Idempotency-Key) the deployment, publish its job after answering. */
async function startAndAnswer(c: Context<AppEnv>, projectId: number, input: SavedCloudDeployInput, idempotencyKey: string | undefined, savedCloudId?: number) {
  const started = await startAndPublish(c, projectId, input, idempotencyKey, savedCloudId);
  const item = {
    deployment_id: started.deploymentId,
    deployment_hash: started.deploymentHash,
    status: started.status,
    ...(started.installCommand !== undefined && { install_command: started.installCommand }),
  };
  if (!started.fresh) return c.json({ message: 'Deployment already started with this Idempotency-Key', id: started.projectId, item }, 200);
  return c.json({ message: 'Deployment started', id: started.projectId, item }, 202);
}

/** The deployment, and for the built-in engine its install command while the agent has not enrolled. */
async function withInstallCommand(c: Context<AppEnv>, row: DeploymentRow) {
  const view = toDeploymentView(row);
  if (row.engine !== 'builtin' || isTerminal(row.status)) return view;
  const install = await currentInstallCommand(operationDeps(c), row.id, publicOrigin(c));
  return install ? { ...view, install_command: install.install_command } : view;
}

const statusQuery = z
  .object({
    deployment_hash: z.string().min(1).max(64).optional(),
    deployment_id: idParam.optional(),
    wait: z
      .string()
      .regex(/^\d{1,3}$/, 'must be a number of seconds')
      .transform(Number)
      .pipe(z.number().max(25, 'must be at most 25'))
      .optional()
      .openapi({ description: 'Hold the request up to this many seconds (max 25) until the status changes' }),
    since: z.iso
      .datetime({ offset: true })
      .optional()
      .openapi({ description: 'With wait: the updated_at the caller already has; answered at once if the deployment changed after it' }),
  })
  .refine((query) => (query.deployment_hash === undefined) !== (query.deployment_id === undefined), {
    message: 'give exactly one of deployment_hash and deployment_id',
    path: ['deployment_hash'],
  });

const status = createRoute({
  method: 'get', path: '/project/deploy/status', tags: ['deployments'], security: userSecurity,
  summary: 'A deployment’s status; with ?wait=N, answered as soon as it changes',
  request: { query: statusQuery },
  responses: { 200: jsonContent(z.object({ message: z.string(), item: Deployment }), 'The deployment'), ...responses },
});
const list = createRoute({
  method: 'get', path: '/project/{id}/deployments', tags: ['deployments'], security: userSecurity,
  summary: 'The deployments of a project, newest first',
  request: { params: projectParams },
  responses: { 200: jsonContent(z.object({ message: z.string(), list: z.array(Deployment) }), 'Deployments'), ...responses },
});
const cancel = createRoute({
  method: 'post', path: '/project/{id}/deployments/{deployment_id}/cancel', tags: ['deployments'], security: userSecurity,
  summary: 'Cancel a pending or running deployment (the install service is told)',
  request: { params: z.object({ id: idParam, deployment_id: idParam }) },
  responses: { 200: jsonContent(z.object({ message: z.string(), item: Deployment }), 'Cancelled'), ...responses },
});

const EventSchema = z
  .object({
    seq: z.number().int().openapi({ description: 'Per deployment, from 1, without gaps' }),
    at: z.string(),
    kind: z.enum(EVENT_KINDS),
    status: z.string().nullable(),
    progress: z.number().int().nullable(),
    message: z.string().nullable(),
    subject: z.string().nullable().openapi({ description: 'The service, step, app or command the event concerns, if any' }),
  })
  .openapi('DeploymentEvent');

const eventsQuery = z.object({
  after: z
    .string()
    .regex(/^\d{1,10}$/, 'must be an event number')
    .transform(Number)
    .optional()
    .openapi({ description: 'The last seq the caller has; the answer starts after it (default 0: from the start)' }),
  limit: z
    .string()
    .regex(/^\d{1,3}$/, 'must be a number')
    .transform(Number)
    .pipe(z.number().min(1, 'must be at least 1').max(MAX_EVENTS_PAGE, `must be at most ${MAX_EVENTS_PAGE}`))
    .optional(),
  wait: z
    .string()
    .regex(/^\d{1,3}$/, 'must be a number of seconds')
    .transform(Number)
    .pipe(z.number().max(MAX_EVENTS_WAIT_SECONDS, `must be at most ${MAX_EVENTS_WAIT_SECONDS}`))
    .optional()
    .openapi({ description: `With nothing after \`after\`, hold up to this many seconds (max ${MAX_EVENTS_WAIT_SECONDS}) for the next event` }),
});

const events = createRoute({
  method: 'get', path: '/project/{id}/deployments/{deployment_id}/events', tags: ['deployments'], security: userSecurity,
  summary: 'A deployment’s event log after a cursor; with ?wait=N, held until the next event',
  request: { params: z.object({ id: idParam, deployment_id: idParam }), query: eventsQuery },
  responses: {
    200: jsonContent(
      z.object({
        message: z.string(),
        list: z.array(EventSchema),
        meta: z.object({
          after: z.number().int(),
          last_seq: z.number().int().openapi({ description: 'The last event of the page, or `after` when empty: the next call’s after' }),
          latest_seq: z.number().int().openapi({ description: 'The deployment’s last event when answered: more pages follow while last_seq is below it' }),
          status: z.string(),
          terminal: z.boolean().openapi({ description: 'The deployment has ended (its agent’s events may still follow)' }),
        }),
      }),
      'The next events, oldest first',
    ),
    ...responses,
  },
});

export const deployRoutes = createRouter()
  .openapi(deploy, (c) => startAndAnswer(c, c.req.valid('param').id, c.req.valid('json'), c.req.valid('header')['idempotency-key']))
  .openapi(deployWithCloud, (c) => {
    const { id, cloud_id } = c.req.valid('param');
    return startAndAnswer(c, id, c.req.valid('json'), c.req.valid('header')['idempotency-key'], cloud_id);
  })
  .openapi(status, async (c) => {
    const query = c.req.valid('query');
    const where = query.deployment_id !== undefined ? { id: query.deployment_id } : { hash: query.deployment_hash! };
    const scope = callerScope(c);
    const current = await findDeployment(c.var.database.db, where, scope);
    if (!query.wait) return c.json({ message: 'OK', item: await withInstallCommand(c, current) }, 200);
    const latest = await waitForChange({
      doorbell: durableDoorbell(c.env.DEPLOYMENT_DOORBELL),
      deploymentHash: current.deploymentHash,
      since: query.since ? new Date(query.since) : current.updatedAt,
      deadline: c.var.receivedAt + query.wait * 1000,
      read: () => findDeployment(c.var.database.db, where, scope),
      beforeWait: () => c.var.database.release(),
    });
    return c.json({ message: 'OK', item: await withInstallCommand(c, latest) }, 200);
  })
  .openapi(list, async (c) => c.json({ message: 'OK', list: await listDeployments(c.var.database.db, c.req.valid('param').id, callerScope(c)) }, 200))
  .openapi(events, async (c) => {
    const { id, deployment_id } = c.req.valid('param');
    const { after = 0, limit = MAX_EVENTS_PAGE, wait = 0 } = c.req.valid('query');
    const database = c.var.database;
    const current = await findDeployment(database.db, { id: deployment_id }, callerScope(c));
    if (current.projectId !== id) throw notFound('Deployment not found');
    const found = await waitForEvents({
      doorbell: durableDoorbell(c.env.DEPLOYMENT_DOORBELL),
      deploymentHash: current.deploymentHash,
      deadline: wait > 0 ? c.var.receivedAt + wait * 1000 : 0,
      read: () => listEvents(database.db, current.id, after, limit),
      beforeWait: () => database.release(),
    });
    // The deployment as it is now, after the events were read: its status and how far its log goes.
    const now = found.length > 0 && wait > 0 ? await findDeployment(database.db, { id: deployment_id }, callerScope(c)) : current;
    const meta = { after, last_seq: found.at(-1)?.seq ?? after, latest_seq: Math.max(now.eventSeq, found.at(-1)?.seq ?? 0), status: now.status, terminal: isTerminal(now.status) };
    return c.json({ message: 'OK', list: found.map(toEventView) as Array<z.infer<typeof EventSchema>>, meta }, 200);
  })
  .openapi(cancel, async (c) => {
    const { id, deployment_id } = c.req.valid('param');
    return c.json({ message: 'Cancelled', item: toDeploymentView(await cancelAndPublish(c, id, deployment_id)) }, 200);
  });
