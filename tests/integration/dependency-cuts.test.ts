// The database connection cut in the middle of a request (issue 7, point 2): the rows that belong
// together are all there or none. Deploy and cancel are cut in dependency-cuts-deployment.test.ts (a
// file of their own so that the sweeps run beside each other); docs/failure-modes.md lists them.
import { env } from 'cloudflare:test';
import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { api, jsonRequest } from '../helpers/api.ts';
import { agentHeaders, createAgent, createDeployment, uniqueId } from '../helpers/auth.ts';
import { apiWithOneApp, asUser, checkRetryWithSameKey, count, counts, CUT_SWEEP_RETRIES, cutAtEveryMessage, deployedProject } from '../helpers/dependency-failures.ts';
import { installSignature } from '../helpers/deploy.ts';
import { projectForms } from '../helpers/fixtures.ts';

async function progressRequest({ deploymentId, messageId }: { deploymentId: number; messageId: string }): Promise<[string, RequestInit]> {
  const body = JSON.stringify({ deploy_id: deploymentId, status: 'in_progress', progress: 40, message: 'Installing apps' });
  const signature = await installSignature(env.INSTALL_WEBHOOK_SECRET as string, body);
  return ['/webhooks/install', { method: 'POST', body, headers: { 'content-type': 'application/json', 'x-install-signature': signature, 'x-install-message-id': messageId } }];
}

describe('the database connection cut mid-request: all rows that belong together, or none', () => {
  it('install progress webhook: the receipt of the message id and the status change', { timeout: 180_000, retry: CUT_SWEEP_RETRIES }, async () => {
    const report = await cutAtEveryMessage({
      prepare: async () => ({ ...(await deployedProject()), messageId: uniqueId('msg') }),
      request: progressRequest,
      rows: ({ deploymentId, messageId }) =>
        counts({
          receipt: sql`select count(*) as n from webhook_receipt where message_id = ${messageId}`,
          moved: sql`select count(*) as n from deployment where id = ${deploymentId} and status = 'in_progress' and progress = 40`,
        }),
      complete: { receipt: 1, moved: 1 },
      // The install service delivers again whatever was not answered 200: applied once, in the end.
      afterwards: async (context, status) => {
        if (status === 200) return;
        const redelivered = await apiWithOneApp({}, ...(await progressRequest(context)));
        expect(redelivered.status).toBe(200);
        expect(await count(sql`select count(*) as n from webhook_receipt where message_id = ${context.messageId}`)).toBe(1);
      },
    });
    expect(report.outcomes['cut 503 none']).toBeGreaterThan(0);
    console.info('webhook', report);
  });

  it('agent registration: the agent row, and a token that works exactly when the answer carried it', { timeout: 180_000, retry: CUT_SWEEP_RETRIES }, async () => {
    const report = await cutAtEveryMessage({
      prepare: () => createDeployment(),
      request: async ({ deploymentHash }) => ['/api/v1/agent/register', jsonRequest('POST', { deployment_hash: deploymentHash, capabilities: ['docker'], agent_version: '0.2.1' })],
      rows: async ({ deploymentHash }) => ({ agent: await count(sql`select count(*) as n from agents where deployment_hash = ${deploymentHash}`) }),
      complete: { agent: 1 },
      afterwards: async (deployment, status, body) => {
        let answer = { status, body };
        const registered = await count(sql`select count(*) as n from agents where deployment_hash = ${deployment.deploymentHash}`);
        if (status === 503 && registered === 1) {
          // Registered, but the answer with the token was lost: the agent cannot register again
          // anonymously (409); its owner re-issues the token.
          const reissued = await api('/api/v1/agent/register', jsonRequest('POST', { deployment_hash: deployment.deploymentHash, capabilities: ['docker'], agent_version: '0.2.1' }, asUser(deployment.ownerId)));
          answer = { status: reissued.status, body: await reissued.text() };
        }
        if (answer.status !== 201) return;
        const { item } = JSON.parse(answer.body) as { item: { agent_id: string; agent_token: string } };
        expect((await api('/whoami', { headers: agentHeaders({ agentId: item.agent_id, token: item.agent_token }) })).status).toBe(200);
      },
    });
    expect(report.outcomes['cut 503 none']).toBeGreaterThan(0);
    expect(report.outcomes['lost answer 503 all']).toBeGreaterThan(0);
    console.info('register', report);
  });

  it('command creation with an Idempotency-Key: one command, and a retry after a 503 answers it', { timeout: 180_000, retry: CUT_SWEEP_RETRIES }, async () => {
    const createCommand = (target: Awaited<ReturnType<typeof createAgent>>, key: string) =>
      jsonRequest('POST', { deployment_hash: target.deploymentHash, command_type: 'health', parameters: { app_code: 'web' } }, { ...asUser(target.ownerId), 'idempotency-key': key });
    const report = await cutAtEveryMessage({
      prepare: async () => ({ agent: await createAgent(), key: uniqueId('idem') }),
      request: async ({ agent: target, key }) => ['/api/v1/commands', createCommand(target, key)],
      rows: async ({ agent: target, key }) => ({
        command: await count(sql`select count(*) as n from commands where deployment_hash = ${target.deploymentHash} and idempotency_key = ${key}`),
      }),
      complete: { command: 1 },
      afterwards: ({ agent: target, key }, status, body) =>
        checkRetryWithSameKey(
          { status, body },
          () => api('/api/v1/commands', createCommand(target, key)),
          () => count(sql`select count(*) as n from commands where deployment_hash = ${target.deploymentHash} and idempotency_key = ${key}`),
        ),
    });
    expect(report.outcomes['cut 503 none']).toBeGreaterThan(0);
    // The insert committed and the caller was told 503: its retry with the key answered that command.
    expect(report.outcomes['lost answer 503 all']).toBeGreaterThan(0);
    console.info('command', report);
  });

  it('project and API client creation with an Idempotency-Key: one row or none, and a retry answers it', { timeout: 180_000, retry: CUT_SWEEP_RETRIES }, async () => {
    const createWithKey = (userId: string) => jsonRequest('POST', projectForms[2]!.body, { ...asUser(userId), 'idempotency-key': 'create' });
    const project = await cutAtEveryMessage({
      prepare: async () => uniqueId('cut'),
      request: async (userId) => ['/project', createWithKey(userId)],
      rows: async (userId) => ({ project: await count(sql`select count(*) as n from project where user_id = ${userId}`) }),
      complete: { project: 1 },
      afterwards: (userId, status, body) =>
        checkRetryWithSameKey({ status, body }, () => api('/project', createWithKey(userId)), () => count(sql`select count(*) as n from project where user_id = ${userId}`)),
    });
    const createClient = (userId: string) => ({ method: 'POST', headers: { ...asUser(userId), 'idempotency-key': 'create' } });
    const apiClientCut = await cutAtEveryMessage({
      prepare: async () => uniqueId('cut'),
      request: async (userId) => ['/client', createClient(userId)],
      rows: async (userId) => ({ client: await count(sql`select count(*) as n from client where user_id = ${userId}`) }),
      complete: { client: 1 },
      afterwards: (userId, status, body) =>
        checkRetryWithSameKey({ status, body }, () => api('/client', createClient(userId)), () => count(sql`select count(*) as n from client where user_id = ${userId}`)),
    });
    expect(project.outcomes['cut 503 none']).toBeGreaterThan(0);
    // The insert committed and the caller was told 503: its retry with the key answered that project.
    expect(project.outcomes['lost answer 503 all']).toBeGreaterThan(0);
    expect(apiClientCut.outcomes['cut 503 none']).toBeGreaterThan(0);
    expect(apiClientCut.outcomes['lost answer 503 all']).toBeGreaterThan(0);
    console.info('project', project, 'client', apiClientCut);
  });
});
