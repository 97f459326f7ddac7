// The agent's side of the protocol: register, wait for commands, report results, post app status.
// Shapes follow the real agent (trydirect/status v0.2.1) where it and the reference differ.
import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { callerIp, callerScope, ringDoorbell } from '../http/caller.ts';
import { agentRegistrationDeps } from '../http/deps.ts';
import type { AppEnv } from '../http/env.ts';
import { conflict, forbidden, notFound } from '../errors.ts';
import type { Principal } from '../principal.ts';
import { advanceEngineBeforeAnswer } from '../http/engine.ts';
import { createRouter } from '../http/router.ts';
import { authErrorResponses, errorResponses, ErrorBodySchema, jsonContent } from '../http/openapi.ts';
import { agentOverview, MAX_WAIT_SECONDS, recordAppStatus, recordHeartbeat, registerAgent, waitDeadline } from '../services/agents.ts';
import { waitForCommand } from '../services/command-wait.ts';
import { claimNextCommandWithState, recordReport, toCommandView } from '../services/commands.ts';
import { agentCredentialsChanged, doorbellStub, primeClaimState, writeGatedHeartbeat, writeHeartbeatBeside } from '../services/agent-gate.ts';
import { sha256Hex } from '../services/crypto.ts';
import { engineDeploymentOf } from '../services/deploy-engine/runs.ts';
import { durableDoorbell } from '../services/doorbell.ts';
import { deploymentHashParam } from '../services/inputs/commands.ts';
import { replaceNul } from '../services/inputs/text.ts';
import { CommandSchema } from './responses.ts';

const agentSecurity = [{ agentId: [], bearer: [] }];

const Registration = z
  .object({
    deployment_hash: deploymentHashParam,
    capabilities: z.array(z.string().min(1).max(64)).max(64),
    system_info: z.unknown().optional().openapi({ description: 'Any JSON about the server' }),
    agent_version: z.string().min(1).max(50),
    public_key: z.string().max(8192).nullish(),
  })
  .openapi('AgentRegistration');

const RegisteredItem = z.object({
  agent_id: z.string(),
  agent_token: z.string().openapi({ description: 'Shown once; also written to Vault' }),
  deployment_hash: z.string(),
  dashboard_version: z.string(),
  supported_api_versions: z.array(z.string()),
  reissued: z.boolean(),
});

const register = createRoute({
  method: 'post', path: '/api/v1/agent/register', tags: ['agent'],
  summary: 'Register the agent of a deployment (anonymous once; then owner, admin or API client re-issue its token)',
  request: { body: { required: true, content: { 'application/json': { schema: Registration } } } },
  responses: {
    201: jsonContent(z.object({ message: z.string(), item: RegisteredItem, data: z.object({ item: RegisteredItem }) }), 'Registered; item and data.item carry the same credentials'),
    409: jsonContent(ErrorBodySchema, 'Already registered (anonymous callers)'),
    ...authErrorResponses,
    ...errorResponses,
  },
});

const waitQuery = z.object({
  timeout: z
    .string()
    .regex(/^\d{1,6}$/, 'must be a number of seconds')
    .transform(Number)
    .optional()
    .openapi({
      description: `Seconds to hold the request (clamped to 1..${MAX_WAIT_SECONDS}; default ${MAX_WAIT_SECONDS}), counted from its arrival, or for a signed request that queued on the way from up to 10 s earlier, as its X-Timestamp says; a wait of 10 s or more ends up to 20% earlier, at random, so that agents started together do not poll in step`,
    }),
  priority: z.string().max(16).optional(),
  interval: z.string().max(16).optional(),
});

const wait = createRoute({
  method: 'get', path: '/api/v1/agent/commands/wait/{deployment_hash}', tags: ['agent'], security: agentSecurity,
  summary: 'Long-poll for the next command (claimed under a lease)',
  request: { params: z.object({ deployment_hash: deploymentHashParam }), query: waitQuery },
  responses: {
    200: jsonContent(z.object({ message: z.string(), item: CommandSchema.nullable(), meta: z.object({ next_poll_secs: z.number() }) }), 'A command, or item null'),
    409: jsonContent(ErrorBodySchema, 'A newer wait of the same agent ended this one'),
    ...authErrorResponses,
    ...errorResponses,
  },
});

const Report = z
  .object({
    command_id: z.string().min(1).max(64),
    deployment_hash: deploymentHashParam,
    status: z.string().min(1).max(32).openapi({ description: 'success or completed → completed; failed → failed' }),
    result: z.unknown().optional(),
    error: z.unknown().optional(),
    errors: z.array(z.object({ code: z.string().max(100).optional(), message: z.string().max(4000).optional(), details: z.unknown().optional() }).loose()).max(100).optional(),
    executed_by: z.string().max(64).optional(),
    started_at: z.iso.datetime({ offset: true }).optional(),
    completed_at: z.iso.datetime({ offset: true }),
  })
  // An agent's output may hold NUL bytes (logs); kept as U+FFFD rather than losing the report.
  .transform(replaceNul)
  .openapi('CommandReport');

const report = createRoute({
  method: 'post', path: '/api/v1/agent/commands/report', tags: ['agent'], security: agentSecurity,
  summary: 'Report a command’s result (the same report twice is accepted once)',
  request: { body: { required: true, content: { 'application/json': { schema: Report } } } },
  responses: {
    200: jsonContent(z.object({ message: z.string(), item: z.object({ accepted: z.boolean(), message: z.string(), duplicate: z.boolean() }) }), 'Accepted'),
    409: jsonContent(ErrorBodySchema, 'The command was cancelled, expired or finished otherwise'),
    ...authErrorResponses,
    ...errorResponses,
  },
});

const AppStatus = z
  .object({
    deployment_hash: deploymentHashParam,
    app_code: z.string().min(1).max(100),
    status: z.string().min(1).max(32),
    logs: z.array(z.unknown()).max(1000).default([]),
    timestamp: z.iso.datetime({ offset: true }).optional(),
  })
  .transform(replaceNul)
  .openapi('AppStatus');

const appsStatus = createRoute({
  method: 'post', path: '/api/v1/apps/status', tags: ['agent'], security: agentSecurity,
  summary: 'An app’s status, as the agent last saw it',
  request: { body: { required: true, content: { 'application/json': { schema: AppStatus } } } },
  responses: { 200: jsonContent(z.object({ message: z.string() }), 'Stored'), ...authErrorResponses, ...errorResponses },
});

const overview = createRoute({
  method: 'get', path: '/api/v1/deployments/{deployment_hash}/agent', tags: ['agent'], security: [{ bearer: [] }],
  summary: 'The agent of a deployment: liveness computed from its last poll, and its apps’ last status',
  request: { params: z.object({ deployment_hash: deploymentHashParam }) },
  responses: { 200: jsonContent(z.object({ message: z.string(), item: z.record(z.string(), z.unknown()) }), 'The agent'), ...authErrorResponses, ...errorResponses },
});

function agentOf(c: Context<AppEnv>): Extract<Principal, { kind: 'agent' }> {
  const principal = c.var.principal;
  if (principal.kind !== 'agent') throw forbidden('This route is for agents');
  return principal;
}

export const agentRoutes = createRouter()
  .openapi(register, async (c) => {
    const principal = c.var.principal;
    // Anonymous (and agent) callers may register only a deployment that has no agent yet.
    const scope = principal.kind === 'user' || principal.kind === 'client' ? callerScope(c) : undefined;
    const item = await registerAgent(
      agentRegistrationDeps(c),
      { registration: c.req.valid('json'), scope, ipAddress: callerIp(c) },
    );
    // The old token keeps its grace period in Postgres; the object keeps the new one, and learns
    // whether anything is claimable, so the agent's first poll needs no query.
    const told = await agentCredentialsChanged(item.deployment_hash, c.env.DEPLOYMENT_DOORBELL, { agentId: item.agent_id, tokenHash: await sha256Hex(item.agent_token) });
    if (told?.version !== undefined) await primeClaimState(c.var.database.db, c.env.DEPLOYMENT_DOORBELL, item.deployment_hash, told.version).catch(() => undefined);
    ringDoorbell(c, item.deployment_hash, 'status');
    return c.json({ message: item.reissued ? 'Agent token re-issued' : 'Agent registered', item, data: { item } }, 201);
  })
  .openapi(wait, async (c) => {
    // Counted from the request's arrival (or, signed, from when it was sent: waitDeadline), not from here:
    // authentication may have queued for a connection.
    const arrived = c.var.receivedAt;
    const agent = agentOf(c);
    const { deployment_hash } = c.req.valid('param');
    if (deployment_hash !== agent.deploymentHash) throw forbidden('Not authorized for this deployment');
    const requested = c.req.valid('query').timeout ?? MAX_WAIT_SECONDS;
    const timeoutSeconds = Math.min(MAX_WAIT_SECONDS, Math.max(1, requested));
    const database = c.var.database;
    // A gated wait's heartbeat is kept by the deployment's object and written when due (authenticate):
    // beside the wait when the credentials are fresh, before it otherwise (the write re-reads them).
    if (!agent.gated) await recordHeartbeat(database.db, agent);
    else if (agent.heartbeat?.credentialsFresh) c.executionCtx.waitUntil(writeHeartbeatBeside(database, c.env.DEPLOYMENT_DOORBELL, { ...agent, heartbeat: agent.heartbeat }));
    else if (agent.heartbeat) await writeGatedHeartbeat(database.db, c.env.DEPLOYMENT_DOORBELL, { ...agent, heartbeat: agent.heartbeat });
    let pending = true;
    const outcome = await waitForCommand({
      // database.db, not a copy: after a release the next claim opens a new connection.
      claim: async () => {
        const claimed = await claimNextCommandWithState(database.db, agent.deploymentHash);
        pending = claimed.pending;
        return claimed.command;
      },
      // Skip the claim when no 'commands' ring came since a claim found nothing (no query when idle).
      skipWhenCleared: agent.gated === true,
      claimedNothing: (version) => {
        if (!pending) c.executionCtx.waitUntil(doorbellStub(c.env.DEPLOYMENT_DOORBELL, agent.deploymentHash).claimedNothing(version).catch(() => undefined));
      },
      doorbell: durableDoorbell(c.env.DEPLOYMENT_DOORBELL),
      deploymentHash: agent.deploymentHash,
      deadline: waitDeadline(arrived, agent.sentAt, timeoutSeconds),
      waiter: { waiter: agent.agentId, arrival: arrived },
      beforeWait: () => database.release(),
      opened: c.var.agentWait?.start,
    });
    // A 409, not an empty 200: the real agent backs off 5 s on an error, so two pollers of one agent
    // (a misconfiguration) cannot keep ending each other's waits in a tight loop.
    if (outcome.superseded) throw conflict('Superseded: a newer wait for this agent is open');
    if (!outcome.command) {
      c.set('routineRequest', true);
      return c.json({ message: 'No command available', item: null, meta: { next_poll_secs: 0 } }, 200);
    }
    ringDoorbell(c, agent.deploymentHash, 'status'); // the claim's event
    return c.json({ message: 'Command available', item: toCommandView(outcome.command), meta: { next_poll_secs: 0 } }, 200);
  })
  .openapi(report, async (c) => {
    const agent = agentOf(c);
    const body = c.req.valid('json');
    const db = c.var.database.db;
    const { command, duplicate } = await recordReport(db, agent.deploymentHash, body);
    if (!duplicate) ringDoorbell(c, agent.deploymentHash, 'status');
    const engineRun = engineDeploymentOf(command);
    // The step this report causes (e.g. health after the last deploy_app) is taken before the answer:
    // the agent's next poll, sent right after it, finds that command.
    if (engineRun !== undefined && !duplicate) await advanceEngineBeforeAnswer(c, agent.deploymentHash, engineRun);
    await recordHeartbeat(db, agent);
    return c.json(
      { message: 'Result accepted', item: { accepted: true, message: `Command result accepted, status: ${command.status}`, duplicate } },
      200,
    );
  })
  .openapi(appsStatus, async (c) => {
    const agent = agentOf(c);
    const body = c.req.valid('json');
    // Never 401/403 to a valid agent here: the real agent answers those by replacing its token.
    if (body.deployment_hash !== agent.deploymentHash) throw notFound('Deployment not found for this agent');
    await recordAppStatus(c.var.database.db, body);
    ringDoorbell(c, agent.deploymentHash, 'status');
    return c.json({ message: 'Status stored' }, 200);
  })
  .openapi(overview, async (c) => {
    const item = await agentOverview(c.var.database.db, c.req.valid('param').deployment_hash, callerScope(c));
    return c.json({ message: 'OK', item: item as unknown as Record<string, unknown> }, 200);
  });
