// The agent console's two live parts, each also a fragment of its own that htmx fetches again on every
// `deployment-event`: the agent with its apps (GET .../agent/panel) and the commands with their results
// (GET .../agent/commands).
import { ActionButton } from '../components/forms.tsx';
import { DataTable } from '../components/data-table.tsx';
import { ago, formatDate } from '../components/dates.ts';
import { DEFAULT_GRACE_SECONDS } from '../../services/agent-tokens.ts';
import { HEARTBEAT_EVERY_SECONDS, OFFLINE_AFTER_SECONDS, type AgentOverview } from '../../services/agents.ts';
import type { CommandView } from '../../services/commands.ts';

/** The command list shows the newest ones. */
const LIST_LIMIT = 50;
/** A result or error longer than this is shown cut. */
const SHOWN_JSON_CHARS = 20_000;
/** Past this age of its last heartbeat the agent counts as offline (as livenessOf decides). */
const OFFLINE_AFTER = OFFLINE_AFTER_SECONDS + HEARTBEAT_EVERY_SECONDS;
const CANCELLABLE = new Set(['queued', 'sent', 'executing']);

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

/** The agent and its apps: a fragment of its own (GET .../agent/panel). A built-in deployment's agent `enrols` with its install command. */
export function AgentPanel(props: { overview: AgentOverview; url: string; deploymentUrl: string; enrols: boolean }) {
  const { agent, apps } = props.overview;
  if (!agent) {
    return (
      <>
        <header class="panel-header">
          <h2>Agent</h2>
          <span class="badge badge-muted">not registered</span>
        </header>
        {props.enrols ? (
          <p>
            No agent has enrolled for this deployment yet: it does when the install command on <a href={props.deploymentUrl}>the deployment’s page</a> runs on the
            server. Commands sent before that wait in the queue.
          </p>
        ) : (
          <p>
            No agent has registered for this deployment yet. The agent on the server registers itself once (<code>POST /api/v1/agent/register</code>{' '}
            with this deployment’s hash); commands sent before that wait in the queue.
          </p>
        )}
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
            <td>{formatDate(agent.registered_at)}</td>
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
                <time datetime={agent.last_heartbeat!} title={formatDate(agent.last_heartbeat)} data-age-seconds={String(age)} data-offline-after={String(OFFLINE_AFTER)}>
                  {`seen ${ago(age)}`}
                </time>
              )}
            </td>
          </tr>
        </tbody>
      </table>
      <h3>Apps</h3>
      <DataTable
        rows={apps}
        empty="No app has reported its status yet."
        columns={[
          { label: 'App', cell: (app) => <code>{app.app_code}</code> },
          { label: 'Status', cell: (app) => <Badge status={app.status} /> },
          { label: 'Reported', cell: (app) => formatDate(app.reported_at ?? app.updated_at) },
        ]}
      />
      <footer class="panel-footer">
        <ActionButton
          action={`${props.url}/rotate`}
          label="Rotate agent token"
          variant="secondary"
          outline
          confirm={`Give this agent a new token? The current one keeps working for ${DEFAULT_GRACE_SECONDS / 60} minutes.`}
        />
        <ActionButton
          action={`${props.url}/rotate`}
          fields={{ grace_seconds: '0' }}
          label="Rotate and revoke the old token now"
          variant="contrast"
          outline
          confirm="Give this agent a new token and refuse the current one at once? Until the agent reads its new token from Vault, it is locked out."
        />
      </footer>
    </>
  );
}

/** The commands, newest first: a fragment of its own (GET .../agent/commands). */
export function CommandList(props: { commands: CommandView[]; url: string }) {
  const shown = props.commands.slice(0, LIST_LIMIT);
  return (
    <>
      <h2>{`Commands (${props.commands.length})`}</h2>
      <DataTable
        rows={shown}
        empty="No command has been sent to this deployment yet."
        class="commands"
        scroll
        rowAttributes={(command) => ({ id: `command-${command.command_id}`, 'data-command-id': command.command_id })}
        columns={[
          { label: 'Command', cell: (command) => <CommandCell command={command} /> },
          { label: 'Status', cell: (command) => <StatusCell command={command} /> },
          { label: 'Result', cellClass: 'result', cell: (command) => <ResultCell command={command} /> },
          {
            label: 'Actions',
            cell: (command) =>
              CANCELLABLE.has(command.status) && (
                <ActionButton
                  action={`${props.url}/commands/${command.command_id}/cancel`}
                  label="Cancel"
                  variant="secondary"
                  outline
                  confirm={`Cancel the ${command.type} command ${command.command_id}?`}
                />
              ),
          },
        ]}
      />
      {props.commands.length > LIST_LIMIT && <p>{`The newest ${LIST_LIMIT} of ${props.commands.length} commands are shown.`}</p>}
    </>
  );
}

function CommandCell(props: { command: CommandView }) {
  const { command } = props;
  return (
    <>
      <strong>{command.type}</strong>
      <br />
      <small>
        <code>{command.command_id}</code>
      </small>
      <br />
      <small>{`${command.priority} priority · timeout ${command.timeout_seconds} s · sent by ${command.created_by}`}</small>
      <br />
      <small>{`created ${formatDate(command.created_at)}`}</small>
      {Object.keys(command.parameters).length > 0 && (
        <details>
          <summary>Parameters</summary>
          <JsonBlock value={command.parameters} label={`Parameters of ${command.command_id}`} />
        </details>
      )}
    </>
  );
}

function StatusCell(props: { command: CommandView }) {
  const { command } = props;
  return (
    <>
      <Badge status={command.status} />
      {command.attempts > 1 && <small>{` attempt ${command.attempts}`}</small>}
      {command.completed_at && (
        <>
          <br />
          <small>{`ended ${formatDate(command.completed_at)}`}</small>
        </>
      )}
    </>
  );
}

const present = (value: unknown) => value !== null && value !== undefined;

function ResultCell(props: { command: CommandView }) {
  const { command } = props;
  return (
    <>
      {present(command.error) && (
        <>
          <strong class="form-error">Error</strong>
          <JsonBlock value={command.error} label={`Error of ${command.command_id}`} />
        </>
      )}
      {present(command.result) && <JsonBlock value={command.result} label={`Result of ${command.command_id}`} />}
      {!present(command.result) && !present(command.error) && <small>{CANCELLABLE.has(command.status) ? 'waiting for the agent' : 'no result'}</small>}
    </>
  );
}
