// A deployment's page: status, progress, the reason once it ended, the checklist of steps and the log,
// all from the deployment's event log (services/deployment-steps.ts computes the state). Then live: the
// feed (live-events.tsx, assets/live.ts) dispatches each later event once; assets/deployment.ts appends
// it to the log, and htmx fetches the state part again (GET .../state, the same component). A
// deployment of the built-in engine shows more in that part (engine-panel.tsx): its install command
// while the agent is awaited, its addresses, Redeploy, Remove and its revisions with Roll back.
import { raw } from 'hono/html';
import { operationDeps, publicOrigin } from '../../http/engine.ts';
import { notFound } from '../../errors.ts';
import type { AuthenticatedUser } from '../../principal.ts';
import { listEvents, MAX_EVENTS_PAGE, toEventView, type EventView } from '../../services/deployment-events.ts';
import { currentInstallCommand } from '../../services/deploy-engine/enrollment.ts';
import { engineView } from '../../services/deploy-engine/operations.ts';
import { deploymentState, type DeploymentState, type StepState } from '../../services/deployment-steps.ts';
import { findDeployment } from '../../services/deployments.ts';
import { findProject } from '../../services/projects.ts';
import { scopeOfUser } from '../../services/scope.ts';
import type { Deployment } from '../../../db/schema.ts';
import { DEPLOYMENT_CSS } from '../assets/deployment.ts';
import { DataTable } from '../components/data-table.tsx';
import { formatDate, timeOfDay } from '../components/dates.ts';
import { ActionButton } from '../components/forms.tsx';
import { ASSETS, Breadcrumbs } from '../components/layout.tsx';
import { idParam, renderPage, type PageContext } from '../components/page.tsx';
import { agentConsoleUrl, deploymentEventsUrl, deploymentUrl, projectUrl } from '../components/urls.ts';
import { Addresses, CloudServer, InstallCommand, Revisions, waitsForAgent, type EngineState } from './engine-panel.tsx';

const NO_STEPS_YET = 'No steps reported yet: waiting for the install service.';
const NO_STEPS_ENDED = 'The install service reported no steps.';

/** The ends that are what the user asked for: said as a notice, the others as an error. */
const ENDED_WELL = ['completed', 'removed'];

const STEP_MARKS: Record<StepState, string> = { pending: '○', running: '◐', done: '✓', failed: '✗' };

/** The deployment of the path and its project, when the user may reach them (another user's is 404). */
export async function loadDeployment(c: PageContext, user: AuthenticatedUser) {
  const scope = scopeOfUser(user);
  const row = await findProject(c.var.database.db, idParam(c), scope);
  const deployment = await findDeployment(c.var.database.db, { id: idParam(c, 'deploymentId') }, scope);
  if (deployment.projectId !== row.id) throw notFound('Deployment not found');
  return { row, deployment };
}

async function allEvents(c: PageContext, deploymentId: number): Promise<EventView[]> {
  const events: EventView[] = [];
  for (;;) {
    const page = await listEvents(c.var.database.db, deploymentId, events.at(-1)?.seq ?? 0, MAX_EVENTS_PAGE);
    events.push(...page.map(toEventView));
    if (page.length < MAX_EVENTS_PAGE) return events;
  }
}

const CANCEL_QUESTION = {
  'install-service': 'Cancel this deployment? The install service is told to stop.',
  builtin: 'Cancel this deployment? The engine stops, and the commands its agent has not taken are withdrawn.',
};

/**
 * The built-in engine's view of the deployment (undefined for the install service's); the install
 * command for its owner only. For the status the page shows (`status`, from the event log, which can
 * be ahead of the row read before it): a page that says "removed" shows no addresses.
 */
async function engineStateOf(c: PageContext, user: AuthenticatedUser, deployment: Deployment, status: string): Promise<EngineState | undefined> {
  if (deployment.engine !== 'builtin') return undefined;
  const view = await engineView(c.var.database.db, { ...deployment, status });
  const over = ['removed', 'cancelled'].includes(status);
  // A server Stacker created runs its install command itself (cloud-init): none is shown.
  if (!waitsForAgent(view) || view.cloud_server) return { view, over };
  // A one-time secret: decrypted for the page of its owner only (an admin sees that it is awaited).
  const install = deployment.userId === user.id ? await currentInstallCommand(operationDeps(c), deployment.id, publicOrigin(c)) : 'not-owner';
  return { view, install, over };
}

/** What changes as the deployment goes on: status, progress, reason, Cancel, the checklist, and the engine's part. */
function StatePanel(props: { deployment: Deployment; state: DeploymentState; url: string; engine?: EngineState }) {
  const { deployment, state, url, engine } = props;
  return (
    <>
      <article data-deployment data-terminal={String(state.terminal)}>
        <p>
          Status: <span class={`deploy-status status-${state.status}`} data-deployment-status>{state.status}</span> · started {formatDate(deployment.createdAt)}
        </p>
        <p class="deployment-progress">
          <progress data-deployment-progress value={String(state.progress)} max="100" aria-label="Progress">{`${state.progress}%`}</progress>
          <span data-deployment-progress-text>{`${state.progress}%`}</span>
        </p>
        <p data-deployment-reason role="status" hidden={!state.terminal} class={ENDED_WELL.includes(state.status) ? 'notice' : 'form-error'}>
          {state.reason ?? ''}
        </p>
        <div data-deployment-cancel hidden={state.terminal}>
          {!state.terminal && <ActionButton action={`${url}/cancel`} label="Cancel deployment" variant="secondary" confirm={CANCEL_QUESTION[engine ? 'builtin' : 'install-service']} />}
        </div>
        <p>
          <a href={agentConsoleUrl(deployment.projectId, deployment.id)}>Agent console</a>: the server's agent, its apps and commands.
        </p>
      </article>
      {engine?.install !== undefined && <InstallCommand url={url} address={engine.view.server_address} install={engine.install} />}
      <section aria-labelledby="steps-title">
        <h2 id="steps-title">Steps</h2>
        <p data-deployment-no-steps hidden={state.steps.length > 0}>
          {state.terminal ? NO_STEPS_ENDED : NO_STEPS_YET}
        </p>
        <ol class="deployment-steps" data-deployment-steps>
          {state.steps.map((step) => (
            <li data-step={step.name} data-state={step.state}>
              <span class="step-mark" aria-hidden="true">
                {STEP_MARKS[step.state]}
              </span>{' '}
              <span class="step-name">{step.name}</span> <small class="step-state">{step.state}</small>
            </li>
          ))}
        </ol>
      </section>
      {engine && (
        <>
          <CloudServer view={engine.view} />
          <Addresses addresses={engine.view.addresses} />
          <Revisions url={url} engine={engine} />
        </>
      )}
    </>
  );
}

/** The state part alone, as htmx fetches it again after each new event. */
export async function statePanel(c: PageContext, user: AuthenticatedUser) {
  const { row, deployment } = await loadDeployment(c, user);
  const state = deploymentState(await allEvents(c, deployment.id), deployment);
  const engine = await engineStateOf(c, user, deployment, state.status);
  return <StatePanel deployment={deployment} state={state} url={deploymentUrl(row.id, deployment.id)} engine={engine} />;
}

export async function deploymentPage(c: PageContext, user: AuthenticatedUser) {
  const { row, deployment } = await loadDeployment(c, user);
  const events = await allEvents(c, deployment.id);
  const state = deploymentState(events, deployment);
  const engine = await engineStateOf(c, user, deployment, state.status);
  const lastSeq = events.at(-1)?.seq ?? 0;
  const url = deploymentUrl(row.id, deployment.id);
  return renderPage(c, {
    title: `Deployment ${deployment.id} · ${row.name}`,
    body: (
      <>
        <style>{raw(DEPLOYMENT_CSS)}</style>
        <Breadcrumbs trail={[{ label: 'Projects', href: '/projects' }, { label: row.name, href: projectUrl(row.id) }, { label: `Deployment ${deployment.id}` }]} />
        <div class="deployment-head">
          <h1>{`Deployment ${deployment.id}`}</h1>
          <div data-events-url={deploymentEventsUrl(row.id, deployment.id)} data-after={String(lastSeq)}>
            <small class="live-status">
              Updates: <span data-live-status>Connecting…</span>
            </small>
          </div>
        </div>
        <div id="deployment-state" hx-get={`${url}/state`} hx-trigger="deployment-event from:body" hx-swap="innerHTML" hx-sync="this:queue last">
          <StatePanel deployment={deployment} state={state} url={url} engine={engine} />
        </div>
        <section aria-labelledby="log-title">
          <h2 id="log-title">Log</h2>
          <DataTable
            class="deployment-log"
            rows={events}
            bodyAttributes={{ 'data-deployment-log': true }}
            rowAttributes={(event) => ({
              'data-seq': String(event.seq),
              'data-kind': event.kind,
              'data-status': event.status ?? undefined,
              'data-subject': event.subject ?? undefined,
              'data-progress': event.progress === null ? undefined : String(event.progress),
            })}
            columns={[
              { label: 'Time (UTC)', class: 'log-time', cell: (event) => <time datetime={event.at}>{timeOfDay(event.at)}</time> },
              { label: 'Status', class: 'log-status', cell: (event) => event.status ?? event.kind },
              { label: 'Step', class: 'log-step', cell: (event) => event.subject ?? '' },
              { label: 'Message', cellClass: 'log-message', cell: (event) => event.message ?? '' },
            ]}
          />
        </section>
        <script src={ASSETS.deploymentJs} defer></script>
        <script src={ASSETS.liveJs} defer></script>
      </>
    ),
  });
}
