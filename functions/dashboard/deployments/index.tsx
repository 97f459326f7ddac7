// Deploying a project from the dashboard and following the deployment: the deploy form (a saved cloud
// key and the server), the deployment page (status, a checklist of the install service's steps, a
// progress bar and the log, rendered from the event log and then followed live through the SSE feed of
// live.tsx with pages/scripts/live.ts and deployment.ts), and its Cancel button. Deploy and cancel go
// through the helpers the API uses too (http/deploy-actions.ts): the same schema, service and background publish.
import { Hono } from 'hono';
import { raw } from 'hono/html';
import { z } from 'zod';
import type { Project } from '../../../db/schema.ts';
import { cancelAndPublish, startAndPublish } from '../../http/deploy-actions.ts';
import { cloudDeps } from '../../http/deps.ts';
import type { AppEnv } from '../../http/env.ts';
import { ApiError, notFound } from '../../errors.ts';
import { ActionButton, asFormFailure, Field, FormMessage, SelectField, type FieldErrors, type FormFailure } from '../components/forms.tsx';
import { ASSETS, Breadcrumbs } from '../components/layout.tsx';
import { DEPLOYMENT_CSS } from '../assets/deployment.ts';
import type { AuthenticatedUser } from '../../principal.ts';
import { listClouds, type CloudView } from '../../services/clouds.ts';
import { listEvents, MAX_EVENTS_PAGE, toEventView, type EventView } from '../../services/deployment-events.ts';
import { findDeployment, isTerminal, listDeployments, type DeploymentView } from '../../services/deployments.ts';
import { findProject } from '../../services/projects.ts';
import { listServers, type ServerView } from '../../services/servers.ts';
import { SavedCloudDeployForm } from '../../services/inputs/deployments.ts';
import { scopeOfUser } from '../../services/scope.ts';
import { CLOUD_PROVIDERS } from '../cloud-keys.tsx';
import { agentConsoleUrl } from '../agent-console/index.tsx';
import { FormFields, idParam, redirectWithNotice, renderPage, userPage, type PageContext } from '../components/page.tsx';

const projectUrl = (id: number) => `/projects/${id}`;
const deployUrl = (id: number) => `/projects/${id}/deploy`;
const deploymentUrl = (projectId: number, deploymentId: number) => `/projects/${projectId}/deployments/${deploymentId}`;

const when = (iso: string) => `${iso.slice(0, 16).replace('T', ' ')} UTC`;

// ---- the Deploy section of the builder ----------------------------------------------------------

/** The project's deployments, newest first, for its builder page. */
export function projectDeployments(c: PageContext, user: AuthenticatedUser, projectId: number): Promise<DeploymentView[]> {
  return listDeployments(c.var.database.db, projectId, scopeOfUser(user));
}

const SHOWN_DEPLOYMENTS = 10;

/** The builder's Deploy section: the button to the deploy form and the latest deployments. */
export function DeploySection(props: { projectId: number; deployments: DeploymentView[] }) {
  const shown = props.deployments.slice(0, SHOWN_DEPLOYMENTS);
  return (
    <section aria-labelledby="deploy-title">
      <style>{raw(DEPLOYMENT_CSS)}</style>
      <h2 id="deploy-title">Deploy</h2>
      <p>
        <a href={deployUrl(props.projectId)} role="button">
          Deploy this stack
        </a>
      </p>
      {shown.length === 0 ? (
        <p>Not deployed yet.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Deployment</th>
              <th scope="col">Status</th>
              <th scope="col">Progress</th>
              <th scope="col">Started</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((d) => (
              <tr>
                <td>
                  <a href={deploymentUrl(props.projectId, d.id)}>{`Deployment ${d.id}`}</a>
                </td>
                <td>
                  <span class={`deploy-status status-${d.status}`}>{d.status}</span>
                </td>
                <td>{d.progress === null ? '—' : `${d.progress}%`}</td>
                <td>{when(d.created_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {props.deployments.length > shown.length && <p>{`And ${props.deployments.length - shown.length} older ones.`}</p>}
    </section>
  );
}

// ---- the deploy form ----------------------------------------------------------------------------

const NEW_SERVER_FIELDS = ['server', 'region', 'zone', 'os', 'disk_type'] as const;
const OWN_SERVER_FIELDS = ['srv_ip', 'ssh_port', 'ssh_user'] as const;
const FORM_FIELDS = ['cloud_id', 'target', 'idempotency_key', ...NEW_SERVER_FIELDS, ...OWN_SERVER_FIELDS] as const;
type DeployValues = Partial<Record<(typeof FORM_FIELDS)[number], string>>;

const serialId = z.coerce.number({ error: 'choose one of your cloud keys' }).int('choose one of your cloud keys').min(1, 'choose one of your cloud keys').max(2_147_483_647, 'choose one of your cloud keys');

/** What the page adds to the API's body: which key, which kind of server, and the form's own Idempotency-Key. */
const deployPageForm = z.object({
  cloud_id: serialId,
  target: z.enum(['new', 'existing'], { error: 'choose a new or an existing server' }),
  // As the API's Idempotency-Key header allows; the page renders a UUID.
  idempotency_key: z
    .string({ error: 'missing: open the deploy page and send its form' })
    .min(1, 'missing: open the deploy page and send its form')
    .max(128, 'too long: open the deploy page and send its form')
    .regex(/^[A-Za-z0-9_.:-]+$/, 'not one this page made: open the deploy page and send its form'),
});

const REQUIRED_FOR: Record<'new' | 'existing', ReadonlyArray<(typeof FORM_FIELDS)[number]>> = {
  new: ['server', 'region', 'os'],
  existing: ['srv_ip'],
};

const number = (raw: string) => (raw === '' ? null : /^[+-]?\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw);

function postedValues(fields: FormFields): DeployValues {
  const values: DeployValues = {};
  for (const name of FORM_FIELDS) values[name] = fields.one(name).slice(0, 200);
  return values;
}

/** The posted form as the API's SavedCloudDeployForm body: only the chosen kind of server's fields. */
function deployInputOf(values: DeployValues) {
  const target = values.target === 'existing' ? 'existing' : 'new';
  const server: Record<string, string | number | null> = {};
  const used = target === 'new' ? NEW_SERVER_FIELDS : OWN_SERVER_FIELDS;
  for (const name of used) server[name] = values[name] || null;
  if (target === 'existing') server.ssh_port = number(values.ssh_port ?? '');
  return { stack: {}, server };
}

/** A service or schema path as the form's field; the hidden Idempotency-Key's stays in the message. */
const fieldOf = (path: string) => {
  const name = path.replace(/^(body\.)?server\./, '');
  return name !== 'idempotency_key' && (FORM_FIELDS as readonly string[]).includes(name) ? name : undefined;
};

const storedValues = (s: ServerView | undefined): DeployValues => ({
  target: s?.srv_ip ? 'existing' : 'new',
  server: s?.server ?? '',
  region: s?.region ?? '',
  zone: s?.zone ?? '',
  os: s?.os ?? '',
  disk_type: s?.disk_type ?? '',
  srv_ip: s?.srv_ip ?? '',
  ssh_port: s?.ssh_port === null || s?.ssh_port === undefined ? '' : String(s.ssh_port),
  ssh_user: s?.ssh_user ?? '',
});

function keyLabel(key: CloudView): string {
  const provider = CLOUD_PROVIDERS.find((p) => p.code === key.provider)?.label ?? key.provider;
  const masked = [key.cloud_token, key.cloud_key].filter((v): v is string => v !== null);
  return `${provider} (${key.provider})${masked.length ? ` · ${masked.join(' / ')}` : ''} · key ${key.id}`;
}

/** The project's server, as its deploys reuse it (one per project). */
async function serverOf(c: PageContext, row: Project): Promise<ServerView | undefined> {
  return (await listServers(c.var.database.db, row.userId)).find((s) => s.project_id === row.id);
}

async function deployFormPage(c: PageContext, user: AuthenticatedUser, row: Project, form?: { values: DeployValues; failure: FormFailure }) {
  const keys = await listClouds(cloudDeps(c), user.id);
  const values = form?.values ?? storedValues(await serverOf(c, row));
  const errors: FieldErrors = form?.failure.fields ?? {};
  const target = values.target === 'existing' ? 'existing' : 'new';
  // A new key for each form shown: a double click or a resubmit of this one starts one deployment.
  const key = form?.values.idempotency_key && deployPageForm.shape.idempotency_key.safeParse(form.values.idempotency_key).success ? form.values.idempotency_key : crypto.randomUUID();
  return renderPage(c, {
    title: `Deploy ${row.name}`,
    status: form ? 400 : 200,
    body: (
      <>
        <Breadcrumbs trail={[{ label: 'Projects', href: '/projects' }, { label: row.name, href: projectUrl(row.id) }, { label: 'Deploy' }]} />
        <h1>{`Deploy ${row.name}`}</h1>
        {keys.length === 0 ? (
          <article>
            <p>
              Deploying needs a saved cloud key: <a href="/keys">add one on the Cloud keys page</a>, then come back here.
            </p>
          </article>
        ) : (
          <form method="post" action={deployUrl(row.id)}>
            <FormMessage failure={form?.failure} />
            <input type="hidden" name="idempotency_key" value={key} />
            <SelectField
              label="Cloud key"
              name="cloud_id"
              value={values.cloud_id ?? String(keys[0]!.id)}
              errors={errors}
              required
              options={keys.map((k) => ({ value: String(k.id), label: keyLabel(k) }))}
            />
            <p>
              <small>
                Keys are shown masked. <a href="/keys">Manage cloud keys</a>
              </small>
            </p>
            <fieldset>
              <legend>Server</legend>
              <label>
                <input type="radio" name="target" value="new" checked={target === 'new'} />
                A new server, created by the cloud
              </label>
              <label>
                <input type="radio" name="target" value="existing" checked={target === 'existing'} />
                An existing server, reached over SSH
              </label>
              {errors.target && <small class="form-error">{errors.target}</small>}
            </fieldset>
            <div class="grid-2">
              <article>
                <h2>New server</h2>
                <Field label="Server type" name="server" value={values.server} errors={errors} placeholder="cx11" hint="The provider's size, e.g. cx11; 2 to 50 characters" />
                <div class="grid-2">
                  <Field label="Region" name="region" value={values.region} errors={errors} placeholder="fsn1" hint="e.g. fsn1" />
                  <Field label="Zone (optional)" name="zone" value={values.zone} errors={errors} />
                </div>
                <div class="grid-2">
                  <Field label="Operating system" name="os" value={values.os} errors={errors} placeholder="ubuntu-22.04" hint="e.g. ubuntu-22.04" />
                  <Field label="Disk type (optional)" name="disk_type" value={values.disk_type} errors={errors} />
                </div>
              </article>
              <article>
                <h2>Existing server</h2>
                <Field label="IP address" name="srv_ip" value={values.srv_ip} errors={errors} placeholder="203.0.113.10" hint="IPv4 or IPv6" />
                <div class="grid-2">
                  <Field label="SSH port (optional)" name="ssh_port" type="number" value={values.ssh_port} errors={errors} placeholder="22" hint="20 to 65535" />
                  <Field label="SSH user (optional)" name="ssh_user" value={values.ssh_user} errors={errors} placeholder="root" hint="3 to 50 characters" />
                </div>
              </article>
            </div>
            <button type="submit">Deploy</button>
          </form>
        )}
      </>
    ),
  });
}

/** Checks the posted form: the page's own fields, the fields the chosen server needs, then the API's schema. */
function parseDeployForm(values: DeployValues, keys: CloudView[]) {
  const page = deployPageForm.safeParse(values);
  const errors: Array<{ path: string; message: string }> = [];
  if (!page.success) {
    for (const issue of page.error.issues) errors.push({ path: String(issue.path[0] ?? 'form'), message: issue.message });
  } else if (!keys.some((k) => k.id === page.data.cloud_id)) {
    errors.push({ path: 'cloud_id', message: 'choose one of your cloud keys' });
  }
  const target = values.target === 'existing' ? 'existing' : 'new';
  for (const name of REQUIRED_FOR[target]) if (!values[name]) errors.push({ path: name, message: target === 'new' ? 'a new server needs this' : 'an existing server needs its address' });
  if (target === 'existing' && values.ssh_port && !/^\d{1,5}$/.test(values.ssh_port)) errors.push({ path: 'ssh_port', message: 'must be a whole number from 20 to 65535' });
  const body = SavedCloudDeployForm.safeParse(deployInputOf(values));
  if (!body.success) {
    for (const issue of body.error.issues) errors.push({ path: issue.path.join('.'), message: issue.message });
  }
  if (errors.length > 0 || !page.success || !body.success) throw new ApiError(400, 'Some fields need a change', { errors });
  return { page: page.data, body: body.data };
}

// ---- the deployment page ------------------------------------------------------------------------

/** The kinds whose status is the deployment's own (agent, command and app events have statuses of their own). */
const DEPLOYMENT_KINDS = ['created', 'progress', 'cancelled', 'timed_out'];

export type StepState = 'pending' | 'running' | 'done' | 'failed';

export interface DeploymentState {
  status: string;
  progress: number;
  terminal: boolean;
  /** Once ended: why (the last status event's message). */
  reason: string | null;
  steps: Array<{ name: string; state: StepState }>;
}

/**
 * The page's view of a deployment, from its events alone (pages/scripts/deployment.ts computes the
 * same in the browser as events arrive): the last status, the last progress, and the install service's
 * steps in order of first appearance; a step is done once a later one started, the last one follows
 * the deployment.
 */
export function deploymentState(events: EventView[], fallback: { status: string; progress: number | null; message: string | null }): DeploymentState {
  let status = fallback.status;
  let progress = fallback.progress ?? 0;
  let message = fallback.message;
  const steps: Array<{ name: string; last: string }> = [];
  for (const event of events) {
    if (!DEPLOYMENT_KINDS.includes(event.kind)) continue;
    if (event.status !== null) {
      status = event.status;
      message = event.message;
    }
    if (event.progress !== null) progress = event.progress;
    if (event.kind === 'progress' && event.subject) {
      const step = steps.find((s) => s.name === event.subject);
      if (step) step.last = event.status ?? step.last;
      else steps.push({ name: event.subject, last: event.status ?? 'in_progress' });
    }
  }
  const terminal = isTerminal(status);
  return {
    status,
    progress: Math.max(0, Math.min(100, progress)),
    terminal,
    reason: terminal ? message : null,
    steps: steps.map((step, index) => ({ name: step.name, state: stepState(step.last, index === steps.length - 1, status) })),
  };
}

function stepState(last: string, latest: boolean, status: string): StepState {
  if (last === 'failed' || last === 'error') return 'failed';
  if (!latest || status === 'completed') return 'done';
  if (isTerminal(status)) return 'failed';
  return last === 'wait_start' ? 'pending' : 'running';
}

const NO_STEPS_YET = 'No steps reported yet: waiting for the install service.';
const NO_STEPS_ENDED = 'The install service reported no steps.';

const STEP_MARKS: Record<StepState, string> = { pending: '○', running: '◐', done: '✓', failed: '✗' };

async function allEvents(c: PageContext, deploymentId: number): Promise<EventView[]> {
  const events: EventView[] = [];
  for (;;) {
    const page = await listEvents(c.var.database.db, deploymentId, events.at(-1)?.seq ?? 0, MAX_EVENTS_PAGE);
    events.push(...page.map(toEventView));
    if (page.length < MAX_EVENTS_PAGE) return events;
  }
}

async function loadDeployment(c: PageContext, user: AuthenticatedUser) {
  const scope = scopeOfUser(user);
  const row = await findProject(c.var.database.db, idParam(c), scope);
  const deployment = await findDeployment(c.var.database.db, { id: idParam(c, 'deploymentId') }, scope);
  if (deployment.projectId !== row.id) throw notFound('Deployment not found');
  return { row, deployment };
}

async function deploymentPage(c: PageContext, user: AuthenticatedUser) {
  const { row, deployment } = await loadDeployment(c, user);
  const events = await allEvents(c, deployment.id);
  const state = deploymentState(events, deployment);
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
          <div data-events-url={`${url}/events`} data-after={String(lastSeq)}>
            <small class="live-status">
              Updates: <span data-live-status>Connecting…</span>
            </small>
          </div>
        </div>
        <article data-deployment data-terminal={String(state.terminal)}>
          <p>
            Status: <span class={`deploy-status status-${state.status}`} data-deployment-status>{state.status}</span> · started {when(deployment.createdAt.toISOString())}
          </p>
          <p class="deployment-progress">
            <progress data-deployment-progress value={String(state.progress)} max="100" aria-label="Progress">{`${state.progress}%`}</progress>
            <span data-deployment-progress-text>{`${state.progress}%`}</span>
          </p>
          <p data-deployment-reason role="status" hidden={!state.terminal} class={state.status === 'completed' ? 'notice' : 'form-error'}>
            {state.reason ?? ''}
          </p>
          <div data-deployment-cancel hidden={state.terminal}>
            {!state.terminal && <ActionButton action={`${url}/cancel`} label="Cancel deployment" variant="secondary" confirm="Cancel this deployment? The install service is told to stop." />}
          </div>
          <p>
            <a href={agentConsoleUrl(deployment.projectId, deployment.id)}>Agent console</a>: the server's agent, its apps and commands.
          </p>
        </article>
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
        <section aria-labelledby="log-title">
          <h2 id="log-title">Log</h2>
          <table class="deployment-log">
            <thead>
              <tr>
                <th scope="col" class="log-time">Time (UTC)</th>
                <th scope="col" class="log-status">Status</th>
                <th scope="col" class="log-step">Step</th>
                <th scope="col">Message</th>
              </tr>
            </thead>
            <tbody data-deployment-log>
              {events.map((event) => (
                <tr data-seq={String(event.seq)} data-kind={event.kind} data-status={event.status ?? undefined} data-subject={event.subject ?? undefined} data-progress={event.progress === null ? undefined : String(event.progress)}>
                  <td>
                    <time datetime={event.at}>{event.at.slice(11, 19)}</time>
                  </td>
                  <td>{event.status ?? event.kind}</td>
                  <td>{event.subject ?? ''}</td>
                  <td class="log-message">{event.message ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
        <script src={ASSETS.deploymentJs} defer></script>
        <script src={ASSETS.liveJs} defer></script>
      </>
    ),
  });
}

// ---- routes -------------------------------------------------------------------------------------

export const deploymentPages = new Hono<AppEnv>()
  .get(
    '/projects/:id/deploy',
    userPage(async (c, user) => deployFormPage(c, user, await findProject(c.var.database.db, idParam(c), scopeOfUser(user)))),
  )
  .post(
    '/projects/:id/deploy',
    userPage(async (c, user) => {
      const row = await findProject(c.var.database.db, idParam(c), scopeOfUser(user));
      const values = postedValues(await FormFields.of(c));
      try {
        const keys = await listClouds(cloudDeps(c), user.id);
        const { page, body } = parseDeployForm(values, keys);
        const started = await startAndPublish(c, row.id, body, page.idempotency_key, page.cloud_id);
        const notice = !started.fresh ? `Deployment ${started.deploymentId} was already started by this form.` : `Deployment ${started.deploymentId} started.`;
        return redirectWithNotice(c, deploymentUrl(row.id, started.deploymentId), notice);
      } catch (error) {
        const failure = asFormFailure(error, fieldOf);
        if (!failure) throw error;
        return deployFormPage(c, user, row, { values, failure });
      }
    }),
  )
  .get(
    '/projects/:id/deployments/:deploymentId',
    userPage((c, user) => deploymentPage(c, user)),
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
  );
