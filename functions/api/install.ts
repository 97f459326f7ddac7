// Enrolling a server for the built-in engine: the install script an install command fetches, and the
// one-time exchange of the command's secret for the agent's credentials. Both are anonymous: the
// secret in the path is the credential.
import { createRoute, z } from '@hono/zod-openapi';
import { callerIp, ringDoorbell } from '../http/caller.ts';
import { advanceEngineBeforeAnswer, publicOrigin } from '../http/engine.ts';
import { authErrorResponses, ErrorBodySchema, errorResponses, jsonContent } from '../http/openapi.ts';
import { createRouter } from '../http/router.ts';
import { agentCredentialsChanged } from '../services/agent-gate.ts';
import { sha256Hex } from '../services/crypto.ts';
import { agentEnvFile, enrollAgent, ENROLLMENT_SECRET_PATTERN } from '../services/deploy-engine/enrollment.ts';
import { renderInstallScript } from '../services/deploy-engine/install-script.ts';
import { vaultFromConfig } from '../services/vault-kv.ts';

const params = z.object({
  secret: z
    .string()
    .regex(ENROLLMENT_SECRET_PATTERN, 'must be the secret of an install command')
    .openapi({ description: 'The one-time secret of the install command (shown on the deployment page)', example: 'kq3V2u7Yf0x9Lr4TbN8wZcA1sDe6GhJm5PoQiRyUvXk' }),
});

const script = createRoute({
  method: 'get', path: '/install/{secret}', tags: ['deployments'],
  summary: 'The install script of an install command (POSIX sh)',
  description:
    'Run on the server as root: `curl -fsSL <this URL> | sh`. The script holds no credential: it installs Docker when it is missing, trades the secret for the agent’s credentials (POST /install/{secret}/enroll, once), writes them to a root-only env file and starts the agent container. Every file it writes is under STACKER_INSTALL_ROOT (default /).',
  request: { params },
  responses: {
    200: { description: 'The script', content: { 'text/x-shellscript': { schema: z.string() } } },
    ...errorResponses,
  },
});

const enroll = createRoute({
  method: 'post', path: '/install/{secret}/enroll', tags: ['deployments'],
  summary: 'Trade an install command’s secret for the agent’s credentials (once)',
  description:
    'Answers the agent’s env file (DASHBOARD_URL, DEPLOYMENT_HASH, AGENT_ID, AGENT_TOKEN), for `docker run --env-file`. A secret works once and until it expires (DEPLOY_ENROLLMENT_TTL_SECONDS, 24 h by default); a used, replaced or expired one is 410 with what to do.',
  request: { params },
  responses: {
    200: { description: 'The agent’s env file', content: { 'text/plain': { schema: z.string() } } },
    404: authErrorResponses[404],
    410: jsonContent(ErrorBodySchema, 'Used, replaced or expired: the deployment page offers a new command'),
    ...errorResponses,
  },
});

export const installRoutes = createRouter()
  .openapi(script, (c) => {
    const body = renderInstallScript({ origin: publicOrigin(c), secret: c.req.valid('param').secret, agentImage: c.var.config.AGENT_IMAGE });
    return c.body(body, 200, { 'content-type': 'text/x-shellscript; charset=utf-8', 'cache-control': 'no-store' });
  })
  .openapi(enroll, async (c) => {
    const enrolled = await enrollAgent(
      { db: c.var.database.db, vault: vaultFromConfig(c.var.config) },
      c.req.valid('param').secret,
      { ipAddress: callerIp(c), agentVersion: c.var.config.AGENT_IMAGE.split(':').pop() ?? 'unknown' },
    );
    await agentCredentialsChanged(enrolled.deploymentHash, c.env.DEPLOYMENT_DOORBELL, { agentId: enrolled.agentId, tokenHash: await sha256Hex(enrolled.agentToken) });
    ringDoorbell(c, enrolled.deploymentHash, 'status');
    // The step the enrollment causes (the stack's deploy_app commands) is taken before the answer:
    // the agent the install script starts next finds them at its first poll.
    await advanceEngineBeforeAnswer(c, enrolled.deploymentHash, enrolled.deploymentId);
    return c.text(agentEnvFile(enrolled, publicOrigin(c)), 200, { 'cache-control': 'no-store' });
  });
