// One deployment as `GET /project/{id}/deployments/{deployment_id}` answers it (the built-in engine's
// server, revisions, addresses and install command), and what the deploy, status, rollback and
// destroy commands share: whether a deployment is live, following an operation to its end from the
// event it started at, and printing addresses and the install command. Server text is cleaned of
// terminal control sequences before it is printed.
import type { DeploymentView } from '../../functions/services/deployments.ts';
import type { EngineView } from '../../functions/services/deploy-engine/operations.ts';
import type { Api } from './api.ts';
import { followEvents } from './follow.ts';
import { bold, clean, CliError, dim, EXIT, printTable } from './output.ts';

/** The deployment detail (the CLI reads the types only: nothing of the Worker runs here). */
export type DeploymentDetail = DeploymentView &
  Omit<EngineView, 'engine'> & {
    engine: 'builtin' | 'install-service';
    install_command: string | null;
    install_command_expires_at: string | null;
  };

/** A deployment in one of these has ended (the server's TERMINAL_STATUSES). */
export const ENDED_STATUSES = new Set(['completed', 'failed', 'error', 'cancelled', 'timed_out', 'removed']);

export const detailOf = async (api: Api, projectId: number, deploymentId: number): Promise<DeploymentDetail> =>
  (await api.get<DeploymentDetail>(`/project/${projectId}/deployments/${deploymentId}`)).item!;

/**
 * A built-in deployment with a stack on its server: it ran a revision and was not removed or
 * cancelled (completed, or failed with the last good revision running again). `stacker deploy`
 * redeploys such a deployment instead of starting another.
 */
export const isLive = (detail: DeploymentDetail) => detail.engine === 'builtin' && detail.current_revision !== null && !['removed', 'cancelled'].includes(detail.status);

/** The deployment's last event number now: an operation started after this is followed from here. */
export async function latestSeq(api: Api, projectId: number, deploymentId: number): Promise<number> {
  const answer = await api.get(`/project/${projectId}/deployments/${deploymentId}/events?after=0&limit=1`);
  return Number((answer.meta as { latest_seq?: number } | undefined)?.latest_seq ?? 0);
}

/** What --json prints of a deployment's end (the last line when following). */
export const endOf = (detail: DeploymentDetail) => ({
  ended: true,
  deployment_id: detail.id,
  status: detail.status,
  message: detail.message,
  engine: detail.engine,
  server_address: detail.server_address,
  current_revision: detail.current_revision,
  addresses: detail.addresses,
});

export function printAddresses(addresses: Array<{ service: string; url: string }>, indent = '  '): void {
  const width = Math.max(0, ...addresses.map((entry) => clean(entry.service).length));
  for (const entry of addresses) process.stdout.write(`${indent}${clean(entry.service).padEnd(width)}  ${clean(entry.url)}\n`);
}

/** The install command, set apart so that it is easy to copy: the line alone, nothing after it. */
export function printInstallCommand(command: string, expiresAt: string | null): void {
  process.stdout.write(`\n${bold('Run this as root on your server:')}\n\n  ${clean(command)}\n\n`);
  process.stdout.write(`${dim(`It works once${expiresAt ? `, until ${expiresAt}` : ''}; \`stacker status\` shows it again until the agent enrolled.`)}\n`);
}

export interface FollowToEnd {
  json: boolean;
  /** Follow from after this event (the operation's first event is the next one). */
  after?: number;
  /** The end that is a success (exit 0): completed, or removed for destroy. */
  success?: string;
  /** Print the end (status, revision, addresses) as well: deploy, rollback and destroy, not logs. */
  summary?: boolean;
}

/**
 * Follows the event log until the deployment ends; exit 0 (return) on the expected end, else a
 * CliError (exit 1) with the reason. With `summary`, a built-in deployment's addresses are printed
 * at the end (or, with --json, one last line: endOf).
 */
export async function followToEnd(api: Api, projectId: number, deploymentId: number, options: FollowToEnd): Promise<void> {
  const success = options.success ?? 'completed';
  const result = await followEvents(api, projectId, deploymentId, { json: options.json, after: options.after ?? 0 });
  const detail = options.summary ? await detailOf(api, projectId, deploymentId).catch(() => undefined) : undefined;
  if (options.json && detail) process.stdout.write(`${JSON.stringify(endOf(detail))}\n`);
  if (!options.json) {
    if (result.status === success) process.stdout.write(`Deployment ${deploymentId} ${result.status}\n`);
    if (detail?.engine === 'builtin' && detail.addresses.length > 0) {
      const running = result.status === 'completed' ? 'Running' : 'Still running';
      process.stdout.write(`${running}: revision ${detail.current_revision} on ${clean(detail.server_address ?? 'the server')}\n`);
      printAddresses(detail.addresses);
    }
  }
  if (result.status === success) return;
  throw new CliError(`deployment ${deploymentId} ended ${clean(result.status)}: ${clean(result.reason ?? 'no reason given')}`, EXIT.failed);
}

/** `stacker status` of a built-in deployment: its server, revision, addresses, install command and revisions. */
export function printEngineStatus(detail: DeploymentDetail): void {
  const line = (label: string, value: string) => process.stdout.write(`  ${label.padEnd(10)}  ${value}\n`);
  line('engine', `built-in, own server ${clean(detail.server_address ?? '(no address)')}`);
  line('revision', detail.current_revision === null ? 'none running yet' : `${detail.current_revision} running`);
  if (detail.operation?.status === 'running') line('operation', `${clean(detail.operation.kind)} (step ${clean(detail.operation.step)}${detail.operation.revision === null ? '' : `, revision ${detail.operation.revision}`})`);
  if (detail.addresses.length > 0) {
    line('addresses', '');
    printAddresses(detail.addresses, '    ');
  }
  if (detail.install_command) printInstallCommand(detail.install_command, detail.install_command_expires_at);
  if (detail.revisions.length > 0) {
    process.stdout.write('\nRevisions:\n');
    printTable(
      ['REVISION', 'STATUS', 'CREATED', 'APPLIED', 'SERVICES', 'MESSAGE'],
      detail.revisions.map((revision) => [
        `${revision.revision}${revision.current ? ' *' : ''}`,
        revision.status,
        revision.created_at,
        revision.applied_at ?? '',
        revision.services.map((service) => service.name).join(','),
        revision.message,
      ]),
    );
  }
}
