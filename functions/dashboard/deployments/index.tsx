// Deploying a project from the dashboard and following the deployment: the deploy form
// (deploy-form.tsx), the deployment page with its live state part (deployment-page.tsx), its Cancel
// button, and the built-in engine's buttons (engine-actions.tsx). Deploy and cancel go through the
// helpers the API uses too (http/deploy-actions.ts): the same schema, service and background publish.
import { Hono } from 'hono';
import { cancelAndPublish, startAndPublish } from '../../http/deploy-actions.ts';
import { cloudDeps } from '../../http/deps.ts';
import { usesBuiltinEngine } from '../../http/engine.ts';
import type { AppEnv } from '../../http/env.ts';
import { ApiError } from '../../errors.ts';
import { listClouds } from '../../services/clouds.ts';
import { findProject } from '../../services/projects.ts';
import { scopeOfUser } from '../../services/scope.ts';
import { asFormFailure } from '../components/forms.tsx';
import { FormFields, fragment, idParam, pageHeaders, redirectWithNotice, userPage, type PageContext } from '../components/page.tsx';
import { deploymentUrl } from '../components/urls.ts';
import { deployFormPage, fieldOf, parseDeployForm, postedValues, type Engine } from './deploy-form.tsx';
import { NewCloudServerFields, serverOffers } from './server-offers.tsx';
import { deploymentPage, loadDeployment, statePanel } from './deployment-page.tsx';
import { engineActionPages } from './engine-actions.tsx';

const engineOf = (c: PageContext): Engine => (usesBuiltinEngine(c) ? 'builtin' : 'install-service');

export const deploymentPages = new Hono<AppEnv>()
  .get(
    '/projects/:id/deploy',
    userPage(async (c, user) => deployFormPage(c, user, await findProject(c.var.database.db, idParam(c), scopeOfUser(user)), engineOf(c))),
  )
  .get(
    '/projects/:id/deploy/offers',
    fragment('the deploy form', async (c, user) => {
      const scope = scopeOfUser(user);
      await findProject(c.var.database.db, idParam(c), scope);
      const keys = await listClouds(cloudDeps(c), user.id);
      const wanted = c.req.query('cloud_id')?.slice(0, 20);
      // Only a key of the user's: anything else is answered for none.
      const key = keys.find((k) => String(k.id) === wanted);
      const offers = await serverOffers(c, scope, key);
      return c.html(<NewCloudServerFields offers={offers} values={{}} errors={{}} />, 200, pageHeaders);
    }),
  )
  .post(
    '/projects/:id/deploy',
    userPage(async (c, user) => {
      const row = await findProject(c.var.database.db, idParam(c), scopeOfUser(user));
      const values = postedValues(await FormFields.of(c));
      try {
        const keys = await listClouds(cloudDeps(c), user.id);
        const { idempotencyKey, cloudId, body } = parseDeployForm(values, keys, engineOf(c));
        const started = await startAndPublish(c, row.id, body, idempotencyKey, cloudId);
        const notice = !started.fresh ? `Deployment ${started.deploymentId} was already started by this form.` : `Deployment ${started.deploymentId} started.`;
        return redirectWithNotice(c, deploymentUrl(row.id, started.deploymentId), notice);
      } catch (error) {
        const failure = asFormFailure(error, fieldOf);
        if (!failure) throw error;
        return deployFormPage(c, user, row, engineOf(c), { values, failure });
      }
    }),
  )
  .get(
    '/projects/:id/deployments/:deploymentId',
    userPage((c, user) => deploymentPage(c, user)),
  )
  .get(
    '/projects/:id/deployments/:deploymentId/state',
    fragment('this deployment', async (c, user) => c.html(await statePanel(c, user), 200, pageHeaders)),
  )
  .post(
    '/projects/:id/deployments/:deploymentId/cancel',
    userPage(async (c, user) => {
      const { row, deployment } = await loadDeployment(c, user);
      const url = deploymentUrl(row.id, deployment.id);
      try {
        await cancelAndPublish(c, row.id, deployment.id);
      } catch (error) {
        // Ended meanwhile (completed, or cancelled from another tab): the page says how.
        if (error instanceof ApiError && error.status === 409) return redirectWithNotice(c, url, `Not cancelled: ${error.message}.`);
        throw error;
      }
      return redirectWithNotice(c, url, 'Deployment cancelled.');
    }),
  )
  .route('/', engineActionPages);
