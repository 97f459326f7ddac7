// The agent console of a deployment: its agent (registered or not, version, capabilities, last seen,
// online or offline), the apps' status it reports, a form to send it a command, the commands with
// their results, cancel, and token rotation. The agent panel and the command list are fragments of
// their own (GET .../agent/panel, GET .../agent/commands) that htmx fetches again on each
// `deployment-event` the live feed (live.tsx, pages/scripts/live.ts) dispatches, so the page follows
// the agent without a reload; pages/scripts/agent.ts ticks the "seen N s ago".
// Commands are checked exactly as POST /api/v1/commands checks them (services/inputs/commands.ts).
import { Hono, type Handler } from 'hono';
import { raw } from 'hono/html';
import { z } from 'zod';
import { rotateAgentTokenOrUnavailable } from '../../http/agent-tokens.ts';
import { ringDoorbell } from '../../http/caller.ts';
import type { AppEnv } from '../../http/env.ts';
import { notFound } from '../../errors.ts';
import { ActionButton, fieldId, FormMessage, SelectField, type FormFailure } from '../components/forms.tsx';
import { ASSETS, Breadcrumbs } from '../components/layout.tsx';
import { AGENT_CSS } from '../assets/agent-console.ts';
import type { AuthenticatedUser } from '../../principal.ts';
import { DEFAULT_GRACE_MINUTES } from '../../services/agent-tokens.ts';
import { agentOverview, HEARTBEAT_EVERY_SECONDS, OFFLINE_AFTER_SECONDS, type AgentOverview } from '../../services/agents.ts';
import { AGENT_COMMAND_TYPES, checkCommandParameters, isTypedCommand } from '../../services/command-types.ts';
import { cancelCommand, createCommand, listCommands, PRIORITIES, toOwnerCommandView, type CommandView, type Priority } from '../../services/commands.ts';
import { findDeployment } from '../../services/deployments.ts';
import { commandIdParam } from '../../services/inputs/commands.ts';
import { containsNul } from '../../services/inputs/text.ts';
import { findProject } from '../../services/projects.ts';
import { scopeOfUser } from '../../services/scope.ts';
import { FormFields, idParam, pageHeaders, pathParam, redirectWithNotice, renderPage, signedIn, userPage, type PageContext, type UserPageHandler } from '../components/page.tsx';

/** The console of a deployment: link to it from wherever the deployment is shown. */
export const agentConsoleUrl = (projectId: number, deploymentId: number) => `/projects/${projectId}/deployments/${deploymentId}/agent`;

const BASE = '/projects/:id/deployments/:deploymentId/agent';
/** The command list shows the newest ones. */
const LIST_LIMIT = 50;
/** A result or error longer than this is shown cut. */
const SHOWN_JSON_CHARS = 20_000;
const MAX_PARAMETERS_CHARS = 64 * 1024;
/** Past this age of its last heartbeat the agent counts as offline (as livenessOf decides). */
const OFFLINE_AFTER = OFFLINE_AFTER_SECONDS + HEARTBEAT_EVERY_SECONDS;
/** The form's choice for a type that is not in the list: it is typed into its own field. */
const OTHER_TYPE = 'other';
const CANCELLABLE = new Set(['queued', 'sent', 'executing']);
/** Keys the page makes, apart from any key the user's own API calls send. */
const IDEMPOTENCY_PREFIX = 'dashboard:';

/** Example parameters per type, for the form's placeholder. */
const EXAMPLES: Record<string, string> = {
  health: '{"app_code": "web", "include_metrics": true}',
  logs: '{"app_code": "web", "limit": 100}',
  restart: '{"app_code": "web"}',
  stop: '{"app_code": "web", "timeout": 30}',
  start: '{"app_code": "web"}',
  error_summary: '{"hours": 24}',
  exec: '{"command": "uname -a"}',
  deploy_app: '{"app_code": "web"}',
  remove_app: '{"app_code": "web"}',
};

const TYPE_OPTIONS = [
  ...AGENT_COMMAND_TYPES.map((type) => ({ value: type, label: isTypedCommand(type) ? `${type} (parameters checked here)` : type })),
  { value: OTHER_TYPE, label: 'Another type…' },
];

/** As services/inputs/commands.ts takes command_type. */
const commandType = z
  .string()
  .trim()
  .min(1, 'type a command type')
  .max(100, 'must be at most 100 characters')
  .regex(/^[A-Za-z0-9_.:-]+$/, 'must be a command name: letters, digits and _ . : -');

const timeoutSeconds = z
  .string()
  .trim()
  .transform((value) => (value === '' ? '300' : value))
  .pipe(z.string().regex(/^\d{1,6}$/, 'must be a whole number of seconds, 1 to 86400'))
  .transform(Number)
  .pipe(z.number().int().min(1, 'must be 1 to 86400').max(86_400, 'must be 1 to 86400'));

/** What the command form holds: as posted, or a new form's defaults. */
interface CommandValues {
  command_type: string;
  other_type: string;
  parameters: string;
  priority: string;
  timeout_seconds: string;
  idempotency_key: string;
}

const newValues = (): CommandValues => ({
  command_type: 'health',
  other_type: '',
  parameters: '',
  priority: 'normal',
  timeout_seconds: '300',
  idempotency_key: crypto.randomUUID(),
});

function postedValues(fields: FormFields): CommandValues {
  return {
    command_type: fields.one('command_type').slice(0, 100),
    other_type: fields.one('other_type').slice(0, 200),
    parameters: fields.raw('parameters').slice(0, MAX_PARAMETERS_CHARS + 1),
    priority: fields.one('priority').slice(0, 20),
    timeout_seconds: fields.one('timeout_seconds').slice(0, 20),
    idempotency_key: fields.one('idempotency_key').slice(0, 100),
  };
}

interface ParsedCommand {
  command_type: string;
  priority: Priority;
  parameters: Record<string, unknown>;
  timeout_seconds: number;
  idempotencyKey?: string;
}

/** zod's words for a missing key, in the form's. */
const issueText = (message: string) => (/received undefined$/.test(message) ? 'is required' : message);

/** The posted form as a command, or the failure to show next to its fields (never thrown: always a 400 page). */
function parseCommand(values: CommandValues): { command: ParsedCommand } | { failure: FormFailure } {
  const fields: Record<string, string> = {};
  const typeField = values.command_type === OTHER_TYPE ? 'other_type' : 'command_type';
  const type = commandType.safeParse(values.command_type === OTHER_TYPE ? values.other_type : values.command_type);
  if (!type.success) fields[typeField] = type.error.issues[0]!.message;

  const priority = z.enum(PRIORITIES).safeParse(values.priority.toLowerCase() || 'normal');
  if (!priority.success) fields.priority = `must be one of ${PRIORITIES.join(', ')}`;

  const timeout = timeoutSeconds.safeParse(values.timeout_seconds);
  if (!timeout.success) fields.timeout_seconds = timeout.error.issues[0]!.message;

  let parameters: Record<string, unknown> | undefined;
  if (values.parameters.length > MAX_PARAMETERS_CHARS) {
    fields.parameters = `must be at most ${MAX_PARAMETERS_CHARS / 1024} KiB of JSON`;
  } else if (values.parameters.trim() === '') {
    parameters = {};
  } else {
    try {
      const parsed: unknown = JSON.parse(values.parameters);
      const record = z.record(z.string(), z.unknown()).safeParse(parsed);
      // PostgreSQL's jsonb takes no NUL character (\u0000), in a key or a value.
      if (!record.success) fields.parameters = 'must be a JSON object, e.g. {"app_code": "web"}';
      else if (containsNul(record.data)) fields.parameters = 'must not contain NUL characters (\\u0000)';
      else parameters = record.data;
    } catch (error) {
      fields.parameters = `is not JSON: ${error instanceof Error ? error.message.slice(0, 200) : 'it cannot be read'}`;
    }
  }

  let headline = 'Some fields need a change';
  if (type.success && parameters !== undefined) {
    const issues = checkCommandParameters(type.data, parameters);
    if (issues.length > 0) {
      fields.parameters = issues.map((issue) => `${issue.path.map(String).join('.') || 'parameters'}: ${issueText(issue.message)}`).join('; ');
      headline = `Invalid parameters for ${type.data}`;
    }
  }

  const key = z.uuid().optional().safeParse(values.idempotency_key || undefined);
  if (!key.success) return { failure: { message: 'This form could not be read: open the page again and send the form from there.', fields } };
  if (Object.keys(fields).length > 0 || !type.success || !priority.success || !timeout.success || parameters === undefined) {
    return { failure: { message: headline, fields } };
  }
  return {
    command: {
      command_type: type.data,
      priority: priority.data,
      parameters,
      timeout_seconds: timeout.data,
      idempotencyKey: key.data === undefined ? undefined : `${IDEMPOTENCY_PREFIX}${key.data}`,
    },
  };
}

/** The deployment of the path, when the user may reach it (another user's is 404, as the API answers). */
async function consoleTarget(c: PageContext, user: AuthenticatedUser) {
  const projectId = idParam(c);
  const deployment = await findDeployment(c.var.database.db, { id: idParam(c, 'deploymentId') }, scopeOfUser(user));
  if (deployment.projectId !== projectId) throw notFound('Deployment not found');
  return { projectId, deployment, url: agentConsoleUrl(projectId, deployment.id) };
}

/** "12 s ago", "3 min ago", "2 h ago" (pages/scripts/agent.ts says the same as it ticks). */
function ago(seconds: number): string {
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86_400)} d ago`;
}

const shortTime = (iso: string | null) => (iso ? `${iso.slice(0, 19).replace('T', ' ')} UTC` : '—');

const BADGES: Record<string, string> = {
  online: 'ok',
  running: 'ok',
  completed: 'ok',
  offline: 'bad',
  failed: 'bad',
  error: 'bad',
  expired: 'bad',
  stopped: 'muted',
  cancelled: 'muted',
};

function Badge(props: { status: string; live?: boolean }) {
  return (
    <span class={`badge badge-${BADGES[props.status] ?? 'wait'}`} data-liveness={props.live ? '' : undefined}>
      {props.status}
    </span>
  );
}

/** JSON as it is shown: pretty, escaped by JSX, cut when long. */
function JsonBlock(props: { value: unknown; label: string }) {
  const text = typeof props.value === 'string' ? props.value : JSON.stringify(props.value, null, 2);
  const shown = text.length > SHOWN_JSON_CHARS ? `${text.slice(0, SHOWN_JSON_CHARS)}\n… (${text.length - SHOWN_JSON_CHARS} more characters)` : text;
  return (
    <pre class="json" aria-label={props.label}>
      <code>{shown}</code>
    </pre>
  );
}

/** The agent and its apps: a fragment of its own (GET .../agent/panel). */
function AgentPanel(props: { overview: AgentOverview; url: string }) {
  const { agent, apps } = props.overview;
  if (!agent) {
    return (
      <>
        <header class="panel-header">
          <h2>Agent</h2>
          <span class="badge badge-muted">not registered</span>
        </header>
        <p>
          No agent has registered for this deployment yet. The agent on the server registers itself once (<code>POST /api/v1/agent/register</code>{' '}
          with this deployment’s hash); commands sent before that wait in the queue.
        </p>
      </>
    );
  }
  const age = agent.last_heartbeat ? Math.max(0, Math.floor((Date.now() - Date.parse(agent.last_heartbeat)) / 1000)) : undefined;
  return (
    <>
      <header class="panel-header">
        <h2>Agent</h2>
        <Badge status={agent.status} live />
      </header>
      <table class="facts">
        <tbody>
          <tr>
            <th scope="row">Registered</th>
            <td>{shortTime(agent.registered_at)}</td>
          </tr>
          <tr>
            <th scope="row">Version</th>
            <td>{agent.version ?? '—'}</td>
          </tr>
          <tr>
            <th scope="row">Capabilities</th>
            <td>{agent.capabilities.length === 0 ? 'none declared' : agent.capabilities.map((capability) => <code class="chip">{capability}</code>)}</td>
          </tr>
          <tr>
            <th scope="row">Last heartbeat</th>
            <td>
              {age === undefined ? (
                'never seen'
              ) : (
                <time datetime={agent.last_heartbeat!} title={shortTime(agent.last_heartbeat)} data-age-seconds={String(age)} data-offline-after={String(OFFLINE_AFTER)}>
                  {`seen ${ago(age)}`}
                </time>
              )}
            </td>
          </tr>
        </tbody>
      </table>
      <h3>Apps</h3>
      {apps.length === 0 ? (
        <p>No app has reported its status yet.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">App</th>
              <th scope="col">Status</th>
              <th scope="col">Reported</th>
            </tr>
          </thead>
          <tbody>
            {apps.map((app) => (
              <tr>
                <td>
                  <code>{app.app_code}</code>
                </td>
                <td>
                  <Badge status={app.status} />
                </td>
                <td>{shortTime(app.reported_at ?? app.updated_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <footer class="panel-footer">
        <ActionButton
          action={`${props.url}/rotate`}
          label="Rotate agent token"
          variant="secondary"
          outline
          confirm={`Give this agent a new token? The current one keeps working for ${DEFAULT_GRACE_MINUTES} minutes.`}
        />
      </footer>
    </>
  );
}

/** The commands, newest first: a fragment of its own (GET .../agent/commands). */
function CommandList(props: { commands: CommandView[]; url: string }) {
  const shown = props.commands.slice(0, LIST_LIMIT);
  return (
    <>
      <h2>{`Commands (${props.commands.length})`}</h2>
      {shown.length === 0 ? (
        <p>No command has been sent to this deployment yet.</p>
      ) : (
        <div class="overflow-auto">
          <table class="commands">
            <thead>
              <tr>
                <th scope="col">Command</th>
                <th scope="col">Status</th>
                <th scope="col">Result</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((command) => (
                <tr id={`command-${command.command_id}`} data-command-id={command.command_id}>
                  <td>
                    <strong>{command.type}</strong>
                    <br />
                    <small>
                      <code>{command.command_id}</code>
                    </small>
                    <br />
                    <small>{`${command.priority} priority · timeout ${command.timeout_seconds} s · sent by ${command.created_by}`}</small>
                    <br />
                    <small>{`created ${shortTime(command.created_at)}`}</small>
                    {Object.keys(command.parameters).length > 0 && (
                      <details>
                        <summary>Parameters</summary>
                        <JsonBlock value={command.parameters} label={`Parameters of ${command.command_id}`} />
                      </details>
                    )}
                  </td>
                  <td>
                    <Badge status={command.status} />
                    {command.attempts > 1 && <small>{` attempt ${command.attempts}`}</small>}
                    {command.completed_at && (
                      <>
                        <br />
                        <small>{`ended ${shortTime(command.completed_at)}`}</small>
                      </>
                    )}
                  </td>
                  <td class="result">
                    {command.error !== null && command.error !== undefined && (
                      <>
                        <strong class="form-error">Error</strong>
                        <JsonBlock value={command.error} label={`Error of ${command.command_id}`} />
                      </>
                    )}
                    {command.result !== null && command.result !== undefined && <JsonBlock value={command.result} label={`Result of ${command.command_id}`} />}
                    {(command.result === null || command.result === undefined) && (command.error === null || command.error === undefined) && (
                      <small>{CANCELLABLE.has(command.status) ? 'waiting for the agent' : 'no result'}</small>
                    )}
                  </td>
                  <td>
                    {CANCELLABLE.has(command.status) && (
                      <ActionButton
                        action={`${props.url}/commands/${command.command_id}/cancel`}
                        label="Cancel"
                        variant="secondary"
                        outline
                        confirm={`Cancel the ${command.type} command ${command.command_id}?`}
                      />
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {props.commands.length > LIST_LIMIT && <p>{`The newest ${LIST_LIMIT} of ${props.commands.length} commands are shown.`}</p>}
    </>
  );
}

function CommandForm(props: { url: string; values: CommandValues; failure?: FormFailure }) {
  const { values, failure } = props;
  const errors = failure?.fields;
  const otherId = fieldId('other_type');
  const parametersId = fieldId('parameters');
  const parametersHelp = errors?.parameters ?? 'A JSON object. The typed commands’ parameters are checked before the command is queued.';
  const typeValue = TYPE_OPTIONS.some((option) => option.value === values.command_type) ? values.command_type : OTHER_TYPE;
  return (
    <form method="post" action={`${props.url}/commands`} id="command-form">
      <FormMessage failure={failure} />
      <input type="hidden" name="idempotency_key" value={values.idempotency_key} />
      <SelectField label="Type" name="command_type" value={typeValue} options={TYPE_OPTIONS} errors={errors} required />
      <div data-other-type>
        <label for={otherId}>Another type</label>
        <input
          id={otherId}
          name="other_type"
          type="text"
          value={values.other_type}
          autocomplete="off"
          placeholder="e.g. restart_service"
          aria-invalid={errors?.other_type ? 'true' : undefined}
          aria-describedby={`${otherId}-help`}
        />
        <small id={`${otherId}-help`}>{errors?.other_type ?? 'Used when the type is “Another type…”: the agent runs it as a (restricted) shell command.'}</small>
      </div>
      <label for={parametersId}>Parameters</label>
      <textarea
        id={parametersId}
        name="parameters"
        rows={4}
        spellcheck={false}
        placeholder={EXAMPLES[typeValue] ?? '{}'}
        data-examples={JSON.stringify(EXAMPLES)}
        aria-invalid={errors?.parameters ? 'true' : undefined}
        aria-describedby={`${parametersId}-help`}
      >
        {values.parameters}
      </textarea>
      <small id={`${parametersId}-help`}>{parametersHelp}</small>
      <div class="grid-2">
        <SelectField label="Priority" name="priority" value={values.priority || 'normal'} options={PRIORITIES.map((p) => ({ value: p, label: p }))} errors={errors} />
        <div>
          <label for={fieldId('timeout_seconds')}>Timeout (seconds)</label>
          <input
            id={fieldId('timeout_seconds')}
            name="timeout_seconds"
            type="number"
            min="1"
            max="86400"
            value={values.timeout_seconds}
            aria-invalid={errors?.timeout_seconds ? 'true' : undefined}
            aria-describedby={errors?.timeout_seconds ? `${fieldId('timeout_seconds')}-help` : undefined}
          />
          {errors?.timeout_seconds && <small id={`${fieldId('timeout_seconds')}-help`}>{errors.timeout_seconds}</small>}
        </div>
      </div>
      <button type="submit">Send command</button>
    </form>
  );
}

async function consolePage(c: PageContext, user: AuthenticatedUser, form?: { values: CommandValues; failure: FormFailure }) {
  const db = c.var.database.db;
  const { projectId, deployment, url } = await consoleTarget(c, user);
  const scope = scopeOfUser(user);
  const [project, overview, commands] = await Promise.all([
    findProject(db, projectId, scope),
    agentOverview(db, deployment.deploymentHash, scope),
    listCommands(db, deployment.deploymentHash, scope),
  ]);
  const title = `Agent of deployment ${deployment.id}`;
  return renderPage(c, {
    title,
    status: form ? 400 : 200,
    body: (
      <>
        <Breadcrumbs
          trail={[
            { label: 'Projects', href: '/projects' },
            { label: project.name, href: `/projects/${projectId}` },
            { label: `Deployment ${deployment.id}`, href: `/projects/${projectId}/deployments/${deployment.id}` },
            { label: 'Agent' },
          ]}
        />
        <hgroup>
          <h1>Agent console</h1>
          <p>
            Deployment <code>{deployment.deploymentHash}</code> · <span data-live-status>Connecting…</span>
          </p>
        </hgroup>
        <div data-events-url={`/projects/${projectId}/deployments/${deployment.id}/events`} data-after={String(deployment.eventSeq)}>
          <div class="grid-2 agent-top">
            <article id="agent-panel" hx-get={`${url}/panel`} hx-trigger="deployment-event from:body, every 30s" hx-swap="innerHTML" hx-sync="this:queue last">
              <AgentPanel overview={overview} url={url} />
            </article>
            <article>
              <h2>Send a command</h2>
              <CommandForm url={url} values={form?.values ?? newValues()} failure={form?.failure} />
            </article>
          </div>
          <section id="agent-commands" hx-get={`${url}/commands`} hx-trigger="deployment-event from:body" hx-swap="innerHTML" hx-sync="this:queue last">
            <CommandList commands={commands.map(toOwnerCommandView)} url={url} />
          </section>
        </div>
        <style>{raw(AGENT_CSS)}</style>
        <script src={ASSETS.liveJs} defer></script>
        <script src={ASSETS.agentJs} defer></script>
      </>
    ),
  });
}

/**
 * A fragment the page fetches with htmx. When the session has ended (signed out in another tab, or
 * expired) the part says so, with a link to sign in, instead of htmx following the sign-in redirect
 * to the provider; a request that is not htmx's is sent to sign in as every page is.
 */
function fragment(handler: UserPageHandler): Handler<AppEnv> {
  const page = userPage(handler);
  return (c, next) => {
    if (c.req.header('hx-request') !== 'true' || signedIn(c)) return page(c, next);
    return c.html(
      <p class="form-error" role="status">
        Your session has ended: <a href="/login">sign in again</a> to follow this agent.
      </p>,
      200,
      pageHeaders,
    );
  };
}

export const agentConsolePages = new Hono<AppEnv>()
  .get(BASE, userPage((c, user) => consolePage(c, user)))
  .get(
    `${BASE}/panel`,
    fragment(async (c, user) => {
      const { deployment, url } = await consoleTarget(c, user);
      const overview = await agentOverview(c.var.database.db, deployment.deploymentHash, scopeOfUser(user));
      return c.html(<AgentPanel overview={overview} url={url} />, 200, pageHeaders);
    }),
  )
  .get(
    `${BASE}/commands`,
    fragment(async (c, user) => {
      const { deployment, url } = await consoleTarget(c, user);
      const commands = await listCommands(c.var.database.db, deployment.deploymentHash, scopeOfUser(user));
      return c.html(<CommandList commands={commands.map(toOwnerCommandView)} url={url} />, 200, pageHeaders);
    }),
  )
  .post(
    `${BASE}/commands`,
    userPage(async (c, user) => {
      const { deployment, url } = await consoleTarget(c, user);
      const values = postedValues(await FormFields.of(c));
      const parsed = parseCommand(values);
      if ('failure' in parsed) return consolePage(c, user, { values, failure: parsed.failure });
      const { idempotencyKey, ...input } = parsed.command;
      const { command, created } = await createCommand(c.var.database.db, {
        deploymentHash: deployment.deploymentHash,
        scope: scopeOfUser(user),
        createdBy: user.id,
        input,
        idempotencyKey,
      });
      if (created) ringDoorbell(c, command.deploymentHash, 'commands', 'status');
      return redirectWithNotice(
        c,
        url,
        created ? `Command ${command.type} queued (${command.commandId}).` : `This form was sent already: command ${command.commandId} was queued then.`,
      );
    }),
  )
  .post(
    `${BASE}/commands/:commandId/cancel`,
    userPage(async (c, user) => {
      const { deployment, url } = await consoleTarget(c, user);
      const commandId = commandIdParam.safeParse(pathParam(c, 'commandId'));
      if (!commandId.success) throw notFound('Command not found');
      const row = await cancelCommand(c.var.database.db, deployment.deploymentHash, commandId.data, scopeOfUser(user));
      ringDoorbell(c, deployment.deploymentHash, 'status');
      return redirectWithNotice(c, url, `Command ${row.type} (${row.commandId}) cancelled.`);
    }),
  )
  .post(
    `${BASE}/rotate`,
    userPage(async (c, user) => {
      // consoleTarget is the access check: rotateAgentToken itself takes any hash.
      const { deployment, url } = await consoleTarget(c, user);
      const rotated = await rotateAgentTokenOrUnavailable(c, deployment.deploymentHash);
      // The new token is never shown here: it is in Vault, where provisioning and the agent read it.
      const told = rotated.agent_notified ? 'the agent was told its new token' : 'the agent was not told directly: it reads the new token from Vault';
      return redirectWithNotice(c, url, `Agent token rotated; ${told}. The previous token works until ${shortTime(rotated.previous_token_valid_until)}.`);
    }),
  );
