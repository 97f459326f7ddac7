// The database connection cut in the middle of a deploy and of a cancel (issue 7, point 2): the rows
// that belong together are all there or none. The other operations are cut in dependency-cuts.test.ts
// (a file of their own so that the sweeps run beside each other); docs/failure-modes.md lists them.
import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { jsonRequest } from '../helpers/api.ts';
import { uniqueId } from '../helpers/auth.ts';
import { apiWithOneApp, asUser, count, counts, createProject, CUT_SWEEP_RETRIES, cutAtEveryMessage, deployedProject, savedCloud } from '../helpers/dependency-failures.ts';
import { deployBodies } from '../helpers/fixtures.ts';

describe('the database connection cut mid-request: all rows that belong together, or none', () => {
  it('deploy: server, saved cloud, deployment and its outbox job; a retry with the Idempotency-Key starts nothing more', { timeout: 180_000, retry: CUT_SWEEP_RETRIES }, async () => {
    const deployRequest = (userId: string, projectId: number): [string, RequestInit] => [
      `/project/${projectId}/deploy`,
      jsonRequest('POST', { ...deployBodies.deploy2, cloud: savedCloud }, { ...asUser(userId), 'idempotency-key': `deploy-${projectId}` }),
    ];
    const report = await cutAtEveryMessage({
      prepare: async () => {
        const userId = uniqueId('cut');
        return { userId, projectId: await createProject(userId) };
      },
      request: async ({ userId, projectId }) => deployRequest(userId, projectId),
      afterwards: async ({ userId, projectId }) => {
        const startedBefore = await count(sql`select count(*) as n from deployment where project_id = ${projectId}`);
        const retry = await apiWithOneApp({}, ...deployRequest(userId, projectId));
        // Started before (whether or not the caller heard of it): 200 with that deployment; else started now.
        expect(retry.status).toBe(startedBefore === 1 ? 200 : 202);
        expect(await count(sql`select count(*) as n from deployment where project_id = ${projectId}`)).toBe(1);
      },
      rows: ({ userId, projectId }) =>
        counts({
          server: sql`select count(*) as n from server where project_id = ${projectId}`,
          cloud: sql`select count(*) as n from cloud where user_id = ${userId}`,
          deployment: sql`select count(*) as n from deployment where project_id = ${projectId}`,
          outbox: sql`select count(*) as n from deploy_outbox o join deployment d on d.id = o.deployment_id where d.project_id = ${projectId}`,
        }),
      complete: { server: 1, cloud: 1, deployment: 1, outbox: 1 },
    });
    expect(report.outcomes['cut 503 none']).toBeGreaterThan(0);
    expect(report.outcomes['lost answer 503 all']).toBeGreaterThan(0);
    console.info('deploy', report);
  });

  it('cancel: the deployment cancelled and the cancel job queued', { timeout: 180_000, retry: CUT_SWEEP_RETRIES }, async () => {
    const report = await cutAtEveryMessage({
      prepare: deployedProject,
      request: async ({ userId, projectId, deploymentId }) => [`/project/${projectId}/deployments/${deploymentId}/cancel`, { method: 'POST', headers: asUser(userId) }],
      rows: ({ deploymentId }) =>
        counts({
          cancelled: sql`select count(*) as n from deployment where id = ${deploymentId} and status = 'cancelled'`,
          cancelJob: sql`select count(*) as n from deploy_outbox where deployment_id = ${deploymentId} and kind = 'cancel'`,
        }),
      complete: { cancelled: 1, cancelJob: 1 },
    });
    expect(report.outcomes['cut 503 none']).toBeGreaterThan(0);
    console.info('cancel', report);
  });
});
