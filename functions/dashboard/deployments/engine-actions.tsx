// The built-in engine's buttons on a deployment's page: Redeploy, Roll back (to a revision), Remove, and
// New install command. Each calls the service the API's route calls (services/deploy-engine/), wakes the
// deployment's object as the API does (http/engine.ts), and comes back to the page, which follows the
// operation live. A refusal (another operation runs, the deployment was removed, not the built-in
// engine's, no such revision) is said on the page.
import { Hono } from 'hono';
import { z } from 'zod';
import { operationDeps, wakeEngineLater } from '../../http/engine.ts';
import type { AppEnv } from '../../http/env.ts';
import { ApiError, forbidden } from '../../errors.ts';
import type { AuthenticatedUser } from '../../principal.ts';
import { issueEnrollment } from '../../services/deploy-engine/enrollment.ts';
import { requestRedeploy, requestRemove, requestRollback, type OperationStarted } from '../../services/deploy-engine/operations.ts';
import { scopeOfUser } from '../../services/scope.ts';
import type { Deployment } from '../../../db/schema.ts';
import { FormFields, redirectWithNotice, userPage, type PageContext } from '../components/page.tsx';
import { deploymentUrl } from '../components/urls.ts';
import { loadDeployment } from './deployment-page.tsx';

const BASE = '/projects/:id/deployments/:deploymentId';

const revisionField = z.coerce.number().int().min(1).max(1_000_000);

/**
 * A button of the deployment's page: `act` on the deployment the user may reach (another user's is
 * 404), then back to its page saying what was done, or (a refusal the user can act on) why not.
 */
function engineButton(refused: string, act: (c: PageContext, user: AuthenticatedUser, target: Deployment) => Promise<string>) {
  return userPage(async (c, user) => {
    const { row, deployment } = await loadDeployment(c, user);
    const url = deploymentUrl(row.id, deployment.id);
    try {
      return redirectWithNotice(c, url, await act(c, user, deployment));
    } catch (error) {
      if (error instanceof ApiError && [400, 404, 409, 422].includes(error.status)) return redirectWithNotice(c, url, `${refused}: ${error.message.replace(/\.$/, '')}.`);
      throw error;
    }
  });
}

/** The request of an operation on the target, as the API's routes make it. */
const operation = (user: AuthenticatedUser, target: Deployment) => ({ projectId: target.projectId, deploymentId: target.id, scope: scopeOfUser(user), userId: user.id });

/** The deployment's object takes the operation over once the page is answered. */
function started(c: PageContext, operationStarted: OperationStarted, notice: string): string {
  wakeEngineLater(c, operationStarted.deploymentHash, operationStarted.deploymentId);
  return notice;
}

export const engineActionPages = new Hono<AppEnv>()
  .post(
    `${BASE}/redeploy`,
    engineButton('Not redeployed', async (c, user, target) => {
      const begun = await requestRedeploy(operationDeps(c), operation(user, target));
      return started(c, begun, `Redeploying: revision ${begun.revision} is being applied.`);
    }),
  )
  .post(
    `${BASE}/rollback`,
    engineButton('Not rolled back', async (c, user, target) => {
      const revision = revisionField.safeParse((await FormFields.of(c)).one('revision'));
      if (!revision.success) throw new ApiError(400, 'Choose a revision from the list');
      const begun = await requestRollback(operationDeps(c), { ...operation(user, target), revision: revision.data });
      return started(c, begun, `Rolling back: revision ${begun.revision} is being applied again.`);
    }),
  )
  .post(
    `${BASE}/remove`,
    engineButton('Not removed', async (c, user, target) => started(c, await requestRemove(operationDeps(c), operation(user, target)), 'Removing the stack from the server.')),
  )
  .post(
    `${BASE}/install-command`,
    engineButton('No new install command', async (c, user, target) => {
      // The command is a secret of the deployment's owner: an admin may look, not let a server in.
      if (target.userId !== user.id) throw forbidden('Only the deployment’s owner can make its install command');
      if (target.engine !== 'builtin') throw new ApiError(422, 'This deployment is carried out by the install service: it has no install command');
      const deps = operationDeps(c);
      await issueEnrollment({ db: deps.db, securityKey: deps.securityKey, ttlSeconds: deps.enrollmentTtlSeconds }, target.id);
      // The command itself is on the page (never in this notice, which travels in a cookie).
      return 'A new install command is below; the earlier one no longer works.';
    }),
  );
