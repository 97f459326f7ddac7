// Following a deployment's event log (GET /project/{id}/deployments/{deployment_id}/events): a cursor
// that only moves forward, so a dropped connection resumes where it stopped without repeating a line.
import type { EventView } from '../../functions/services/deployment-events.ts';
import type { Api } from './api.ts';
import { activity, clean, CliError, EXIT, info, isTerminal, progressBar } from './output.ts';

/** An event as the server answers it (the CLI only reads the type: nothing of the Worker runs here). */
export type DeploymentEvent = EventView;

interface EventsMeta {
  after: number;
  last_seq: number;
  latest_seq: number;
  status: string;
  terminal: boolean;
}

export const TERMINAL_COMMAND_STATUSES = new Set(['completed', 'failed', 'cancelled', 'expired']);

/** One line per event; the server's text in it is cleaned of terminal control sequences. */
export function eventLine(event: DeploymentEvent): string {
  const progress = event.progress === null ? '' : ` ${String(event.progress).padStart(3)}%`;
  const subject = event.subject && event.kind !== 'command' ? ` [${clean(event.subject)}]` : '';
  return `#${event.seq} ${event.kind} ${clean(event.status ?? '-')}${progress} ${clean(event.message ?? '')}${subject}`.trimEnd();
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface FollowOptions {
  after?: number;
  json?: boolean;
  /** Keep following after the deployment ended (logs --follow stops only on Ctrl-C); default: stop. */
  untilTerminal?: boolean;
  /** Stop when this returns true for an event (agent commands). */
  stopOn?: (event: DeploymentEvent) => boolean;
  /** Print nothing (agent commands: the caller prints the result). */
  quiet?: boolean;
  deadline?: number;
}

export interface FollowResult {
  status: string;
  reason: string | null;
  last: number;
  stoppedOn?: DeploymentEvent;
}

export async function followEvents(api: Api, projectId: number, deploymentId: number, options: FollowOptions = {}): Promise<FollowResult> {
  let after = options.after ?? 0;
  let reason: string | null = null;
  let retries = 0;
  const bar = !options.quiet && !options.json && isTerminal(process.stdout) ? activity('waiting for the first event ...') : undefined;
  try {
    for (;;) {
      const remaining = options.deadline === undefined ? 25 : Math.min(25, Math.floor((options.deadline - Date.now()) / 1000));
      if (remaining <= 0) throw new CliError('timed out waiting', EXIT.timeout);
      let list: DeploymentEvent[];
      let meta: EventsMeta;
      try {
        const answer = await api.get<DeploymentEvent>(`/project/${projectId}/deployments/${deploymentId}/events?after=${after}&wait=${remaining}`, { timeoutMs: (remaining + 15) * 1000 });
        list = answer.list ?? [];
        meta = answer.meta as unknown as EventsMeta;
        retries = 0;
      } catch (error) {
        // A dropped connection or a server restart: the same cursor again, after a short back-off.
        if (error instanceof CliError && error.exitCode === EXIT.unreachable && retries < 8) {
          retries++;
          if (!options.quiet) info(`(connection lost: resuming after event #${after}, attempt ${retries})`);
          await pause(Math.min(250 * 2 ** retries, 8_000));
          continue;
        }
        throw error;
      }
      for (const event of list) {
        if (event.seq <= after) continue;
        after = event.seq;
        if (!['command', 'agent', 'app_status', 'server'].includes(event.kind) && event.message) reason = event.message;
        if (!options.quiet) {
          if (options.json) process.stdout.write(`${JSON.stringify(event)}\n`);
          else if (bar) {
            bar.log(eventLine(event));
            if (event.progress !== null) bar.update(`${progressBar(event.progress)} ${clean(event.message ?? '')}`);
          } else process.stdout.write(`${eventLine(event)}\n`);
        }
        if (options.stopOn?.(event)) return { status: meta.status, reason, last: after, stoppedOn: event };
      }
      after = Math.max(after, meta.last_seq);
      if (options.untilTerminal !== false && !options.stopOn && meta.terminal && after >= meta.latest_seq) return { status: meta.status, reason, last: after };
    }
  } finally {
    bar?.stop();
  }
}
