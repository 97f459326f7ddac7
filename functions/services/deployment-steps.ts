// The step-by-step state of a deployment, from its event log alone: its status, progress, the reason
// once it ended, and the checklist of steps. The deployment page and its live fragment show it; this is
// the one place it is computed (the page's script only appends the log's rows).
import { CHECKLIST } from './deploy-engine/engine.ts';
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
 * The state of a deployment: the last status, the last progress, and its steps. The install service's
 * steps come in order of first appearance; a step is done once a later one started, the last one
 * follows the deployment. The built-in engine's are its checklist (server, agent, stack, healthy),
 * as its current operation left them (engineChecklist).
 */
export function deploymentState(
  events: readonly StepEvent[],
  deployment: { status: string; progress: number | null; message: string | null; engine?: string },
): DeploymentState {
  let status = deployment.status;
  let progress = deployment.progress ?? 0;
  let message = deployment.message;
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
    steps:
      deployment.engine === 'builtin'
        ? engineChecklist(events, status)
        : steps.map((step, index) => ({ name: step.name, state: stepState(step.last, index === steps.length - 1, status) })),
  };
}

/**
 * The built-in engine's checklist, for the operation that runs or ran last (deploy, redeploy, roll back,
 * remove): each item as its last progress event in that operation says (done, failed, or running while
 * the deployment goes on); an item the operation did not report is done when a later one was (a
 * redeploy starts at the stack), else pending. An operation ends with a progress event whose status
 * ends the deployment (completed, failed, removed) or with a cancel; the next progress event begins
 * the next one.
 */
function engineChecklist(events: readonly StepEvent[], status: string): DeploymentState['steps'] {
  let last = new Map<string, string>();
  let ended = false;
  for (const event of events) {
    if (!DEPLOYMENT_KINDS.includes(event.kind)) continue;
    if (event.kind === 'progress' && event.subject && (CHECKLIST as readonly string[]).includes(event.subject)) {
      if (ended) last = new Map();
      ended = false;
      last.set(event.subject, event.status ?? 'in_progress');
    }
    if (event.status !== null && isTerminal(event.status)) ended = true;
  }
  const reported = CHECKLIST.map((item) => last.get(item));
  return CHECKLIST.map((name, index) => ({ name, state: checklistState(reported[index], reported.slice(index + 1).some((later) => later !== undefined), status) }));
}

function checklistState(last: string | undefined, laterReported: boolean, status: string): StepState {
  if (last === undefined) return laterReported ? 'done' : 'pending';
  if (last === 'failed' || last === 'error') return 'failed';
  if (last === 'done' || last === 'completed' || last === 'removed') return 'done';
  // Still in progress when the deployment ended (cancelled): it stopped there.
  return isTerminal(status) ? 'failed' : 'running';
}

function stepState(last: string, latest: boolean, status: string): StepState {
  if (last === 'failed' || last === 'error') return 'failed';
  if (!latest || status === 'completed') return 'done';
  if (isTerminal(status)) return 'failed';
  return last === 'wait_start' ? 'pending' : 'running';
}
