// What the deployment page adds for the built-in engine: while the agent has not enrolled, the install
// command (to its owner only: a one-time secret), with a copy button, its expiry and a button for a new
// one; the stack's addresses; Redeploy and Remove; the revisions, each earlier one that ran with a Roll
// back button. Drawn inside the page's state part, so it follows the live feed like the checklist.
import type { InstallCommandView } from '../../services/deploy-engine/enrollment.ts';
import type { EngineView, RevisionView } from '../../services/deploy-engine/operations.ts';
import { DataTable } from '../components/data-table.tsx';
import { formatDate } from '../components/dates.ts';
import { ActionButton } from '../components/forms.tsx';

export interface EngineState {
  view: EngineView;
  /** Until the agent enrolled: the command for its owner (null: none usable any more), or 'not-owner'. */
  install?: InstallCommandView | null | 'not-owner';
  /** The deployment was removed or cancelled: nothing more can be applied to it. */
  over: boolean;
}

/** Whether the deploy still waits for the server's agent to enrol (the engine's first step). */
export const waitsForAgent = (view: EngineView) => view.operation?.kind === 'deploy' && view.operation.step === 'agent' && view.operation.status === 'running';

const operationRuns = (view: EngineView) => view.operation?.status === 'running';

/** The install command while the agent is awaited: shown to the owner, with what to do once it is used or expired. */
export function InstallCommand(props: { url: string; address: string | null; install: InstallCommandView | null | 'not-owner' }) {
  const { install } = props;
  const renew = <ActionButton action={`${props.url}/install-command`} label="New install command" variant="secondary" outline confirm="Make a new install command? The one shown before stops working." />;
  return (
    <article aria-labelledby="install-title" data-install>
      <h2 id="install-title">Install the agent on your server</h2>
      {install === 'not-owner' ? (
        <p>Waiting for the deployment’s owner to run its install command on the server. Only the owner sees the command.</p>
      ) : install === null ? (
        <>
          <p class="form-error">The install command was used, replaced or has expired. If the server’s agent is not online yet, make a new one and run it there.</p>
          {renew}
        </>
      ) : (
        <>
          <p>
            Run this line as root on the server{props.address ? <> at <code>{props.address}</code></> : ''}. It installs Docker if it is missing, enrols the server and
            starts Stacker’s agent, which then sets up the stack; this page follows it. Keep it to yourself: it lets one server in.
          </p>
          <pre class="install-command">
            <code id="install-command">{install.install_command}</code>
          </pre>
          <p>
            <button type="button" data-copy="install-command">
              Copy
            </button>{' '}
            <small data-install-expires>{`Works once, until ${formatDate(install.expires_at)}.`}</small>
          </p>
          {renew}
        </>
      )}
    </article>
  );
}

/** The server Stacker created in the user's cloud: provider, its ID and address, a link to it in the provider's console. */
export function CloudServer(props: { view: EngineView }) {
  const server = props.view.cloud_server;
  if (!server) return null;
  return (
    <section aria-labelledby="cloud-server-title" data-cloud-server={server.provider}>
      <h2 id="cloud-server-title">Server</h2>
      <p>
        {`A server Stacker created in your ${server.label} account`}
        {server.id ? <>{', ID '}<code>{server.id}</code></> : ' (being created)'}
        {props.view.server_address ? <>{', at '}<code>{props.view.server_address}</code></> : ''}
        {server.deleted_at ? `; deleted at ${server.label} on ${formatDate(server.deleted_at)}.` : '.'}{' '}
        {server.console_url && !server.deleted_at && (
          <a href={server.console_url} target="_blank" rel="noopener noreferrer">
            {`Open it in the ${server.label} console`}
          </a>
        )}
      </p>
    </section>
  );
}

/** Where the running stack is reached. */
export function Addresses(props: { addresses: EngineView['addresses'] }) {
  if (props.addresses.length === 0) return null;
  return (
    <section aria-labelledby="addresses-title">
      <h2 id="addresses-title">Addresses</h2>
      <ul data-deployment-addresses>
        {props.addresses.map((address) => (
          <li>
            <a href={address.url} rel="noopener noreferrer">
              {address.url}
            </a>{' '}
            <small>{address.service}</small>
          </li>
        ))}
      </ul>
    </section>
  );
}

/** Redeploy and Remove (not while the agent is awaited: Cancel stops that deploy), the revisions and their Roll back buttons. */
export function Revisions(props: { url: string; engine: EngineState }) {
  const { view, over } = props.engine;
  const idle = !over && !operationRuns(view);
  const removing = view.operation?.kind === 'remove' && operationRuns(view);
  const canRollBack = (revision: RevisionView) => idle && revision.applied_at !== null && !revision.current;
  return (
    <section aria-labelledby="revisions-title">
      <h2 id="revisions-title">Revisions</h2>
      <p data-deployment-actions>
        {idle && (
          <ActionButton action={`${props.url}/redeploy`} label="Redeploy" confirm="Apply the project as it is now to this server, as a new revision? If it fails, the last good revision is applied again." />
        )}
        {!over && !removing && !waitsForAgent(view) && (
          <ActionButton
            action={`${props.url}/remove`}
            label="Remove"
            variant="secondary"
            outline
            confirm="Take the stack down on the server? Its containers are removed; the server and its agent stay."
          />
        )}
      </p>
      <DataTable
        rows={view.revisions}
        empty="No revision yet."
        rowAttributes={(revision) => ({ 'data-revision': String(revision.revision) })}
        columns={[
          { label: 'Revision', cell: (revision) => String(revision.revision) },
          { label: 'Status', cell: (revision) => revision.status },
          { label: 'Applied', cell: (revision) => formatDate(revision.applied_at) },
          { label: 'Current', cell: (revision) => (revision.current ? 'current' : '') },
          {
            label: 'Actions',
            cell: (revision) =>
              canRollBack(revision) && (
                <ActionButton
                  action={`${props.url}/rollback`}
                  fields={{ revision: String(revision.revision) }}
                  label={`Roll back to ${revision.revision}`}
                  variant="secondary"
                  outline
                  confirm={`Apply revision ${revision.revision} again?`}
                />
              ),
          },
        ]}
      />
    </section>
  );
}
