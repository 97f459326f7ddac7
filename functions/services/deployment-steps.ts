// The step-by-step state of a deployment, from its event log alone: its status, progress, the reason
// once it ended, and the checklist of steps. The deployment page and its live fragment show it; this is
// the one place it is computed (the page's script only appends the log's rows).
import { isTerminal } from './deployments.ts';

/** The kinds whose status is the deployment's own (agent, command and app events have statuses of their own). */
export const DEPLOYMENT_KINDS: readonly string[] = ['created', 'progress', 'cancelled', 'timed_out'];

export type StepState = 'pending' | 'running' | 'done' | 'failed';

/** What the state is read from: an event of the log, as services/deployment-events.ts shows it. */
export interface StepEvent {
  kind: string;
  status: string | null;
  progress: number | null;
  subject: string | null;
  message: string | null;
}

export interface DeploymentState {
  status: string;
  progress: number;
  terminal: boolean;
  /** Once ended: why (the last status event's message). */
  reason: string | null;
  steps: Array<{ name: string; state: StepState }>;
}

/**
 * The state of a deployment: the last status, the last progress, and the install service's steps in
 * order of first appearance; a step is done once a later one started, the last one follows the
 * deployment.
 */
export function deploymentState(events: readonly StepEvent[], fallback: { status: string; progress: number | null; message: string | null }): DeploymentState {
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
