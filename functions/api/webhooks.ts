// Progress callbacks of the install service.
import { createRoute, z } from '@hono/zod-openapi';
import { Receiver } from '@upstash/qstash';
import { createMiddleware } from 'hono/factory';
import { requireSetting } from '../config.ts';
import type { AppEnv } from '../http/env.ts';
import { badRequest, unauthorized } from '../errors.ts';
import { createRouter } from '../http/router.ts';
import { errorResponses, ErrorBodySchema, jsonContent } from '../http/openapi.ts';
import { bodyReceiptKey, verifyInstallSignature } from '../services/install-webhook.ts';
import { applyProgress, REPORTED_STATUSES } from '../services/deployments.ts';
import { durableDoorbell } from '../services/doorbell.ts';

/** The reference's progress message, read leniently: ids and progress as strings or numbers. */
const ProgressMessage = z
  .object({
    id: z.union([z.string().max(200), z.number()]).optional(),
    deploy_id: z
      .union([z.string().regex(/^\d{1,10}$/, 'must be a deployment id'), z.number().int().positive()])
      .transform(Number)
      .pipe(z.number().int().positive().max(2_147_483_647, 'is out of range'))
      .optional(),
    deployment_hash: z.string().min(1).max(64).optional(),
    alert: z.number().int().optional(),
    message: z.string().max(4000).optional(),
    /** Not in the reference's message: the service or step it concerns, where the sender names one. */
    service: z.string().min(1).max(200).optional(),
    step: z.string().min(1).max(200).optional(),
    status: z.enum([...REPORTED_STATUSES]),
    progress: z
      .union([z.string().regex(/^\d{1,3}$/, 'must be 0 to 100'), z.number()])
      .transform(Number)
      .pipe(z.number().int('must be an integer').min(0, 'must be 0 to 100').max(100, 'must be 0 to 100'))
      .optional(),
  })
  .openapi('InstallProgress', { description: 'deploy_id or deployment_hash names the deployment' });

/**
 * Accepts a request signed by QStash (Upstash-Signature, current or next key, for this webhook's URL)
 * or by the install service itself (X-Install-Signature: t=<unix seconds>,v1=<hex HMAC of "<t>.<raw
 * body>">, services/install-webhook.ts). Checked before the body is read.
 */
const verifySignature = createMiddleware<AppEnv>(async (c, next) => {
  const raw = await c.req.arrayBuffer();
  const body = new TextDecoder().decode(raw);
  const upstash = c.req.header('upstash-signature');
  const install = c.req.header('x-install-signature');
  const config = c.var.config;
  if (upstash) {
    const receiver = new Receiver({
      currentSigningKey: requireSetting(config, 'QSTASH_CURRENT_SIGNING_KEY'),
      nextSigningKey: config.QSTASH_NEXT_SIGNING_KEY ?? requireSetting(config, 'QSTASH_CURRENT_SIGNING_KEY'),
    });
    // The URL QStash delivered to is signed (the JWT's sub): a signature made for another endpoint is refused.
    const url = new URL('/webhooks/install', config.PUBLIC_URL ?? c.req.url).toString();
    const valid = await receiver.verify({ signature: upstash, body, url, clockTolerance: 30 }).catch(() => false);
    if (!valid) throw unauthorized('Invalid Upstash-Signature');
  } else if (install) {
    // Over the bytes as sent: decoding and re-encoding changes a body that is not valid UTF-8.
    await verifyInstallSignature(requireSetting(config, 'INSTALL_WEBHOOK_SECRET'), install, raw);
  } else {
    throw unauthorized('Webhook signature required (Upstash-Signature or X-Install-Signature)');
  }
  await next();
});

/** Either signature authenticates the call (typed wide: two differently keyed objects defeat inference). */
const signedBy: Array<Record<string, string[]>> = [{ upstashSignature: [] }, { installSignature: [] }];

const install = createRoute({
  method: 'post',
  path: '/webhooks/install',
  tags: ['deployments'],
  summary: 'Install service progress callback (signed)',
  security: signedBy,
  request: { body: { required: true, content: { 'application/json': { schema: ProgressMessage } } } },
  responses: {
    200: jsonContent(z.object({ message: z.string(), item: z.object({ deployment_id: z.number().int(), status: z.string(), duplicate: z.boolean() }) }), 'Applied (or already applied)'),
    401: jsonContent(ErrorBodySchema, 'Missing or bad signature'),
    404: jsonContent(ErrorBodySchema, 'Unknown deployment'),
    409: jsonContent(ErrorBodySchema, 'The deployment has already ended'),
    ...errorResponses,
  },
});

export const webhookRoutes = createRouter();
webhookRoutes.use(install.path, verifySignature);
webhookRoutes.openapi(install, async (c) => {
  const report = c.req.valid('json');
  if (report.deploy_id === undefined && report.deployment_hash === undefined) {
    throw badRequest('Invalid request body: give deploy_id or deployment_hash', [{ path: 'body.deploy_id', message: 'give deploy_id or deployment_hash' }]);
  }
  // Deduplicated on the signed bytes (a replay under a new, unsigned message id changes nothing), and on the sender's message id.
  const messageId = c.req.header('upstash-message-id') ?? c.req.header('x-install-message-id');
  if (messageId !== undefined && messageId.length > 200) throw badRequest('message id is longer than 200 characters');
  const { deployment, duplicate } = await applyProgress(c.var.database.db, {
    bodyKey: await bodyReceiptKey(await c.req.arrayBuffer()),
    messageId,
    deploymentId: report.deploy_id,
    deploymentHash: report.deployment_hash,
    status: report.status,
    progress: report.progress,
    message: report.message,
    subject: report.service ?? report.step,
  });
  if (!duplicate) c.executionCtx.waitUntil(durableDoorbell(c.env.DEPLOYMENT_DOORBELL).ring(deployment.deploymentHash, 'status'));
  return c.json({ message: duplicate ? 'Already applied' : 'Applied', item: { deployment_id: deployment.id, status: deployment.status, duplicate } }, 200);
});
