// The Worker side of the per-deployment doorbell (functions/durable/deployment-doorbell.ts).
import type { GateAnswer, GateRequest } from '../durable/agent-gate-types.ts';

/** 'status': news of the deployment (a status change or any new event); 'commands': work for its agent. */
export type DoorbellTopic = 'status' | 'commands';

export interface Listener {
  /** Resolves true on a ring; false when the timeout passes, the connection drops, or the wait is superseded. */
  rung: Promise<boolean>;
  /** True once a newer wait of the same waiter has ended this one. */
  readonly superseded: boolean;
  close(): void;
  /**
   * The deployment's claim version when the wait began ('commands' only; functions/durable/deployment-doorbell.ts):
   * `claimable` false means no claim since the last ring found nothing, so the first claim can be skipped.
   * Undefined when the doorbell could not say: claim.
   */
  readonly claim?: { version: number; claimable: boolean };
}

export interface ListenOptions {
  /** Who waits (an agent id): one wait per waiter, the newest by `arrival` wins. */
  waiter?: string;
  /** When the waiting request arrived (ms since the epoch). */
  arrival?: number;
}

export interface Doorbell {
  /** Wakes every waiter of the topic; never throws (a missed ring only delays a waiter to its timeout). */
  ring(deploymentHash: string, topic: DoorbellTopic): Promise<void>;
  /**
   * Starts listening; `close` stops. Listen before the last database check, so a ring between that
   * check and the wait is not missed.
   */
  listen(deploymentHash: string, topic: DoorbellTopic, timeoutMs: number, options?: ListenOptions): Promise<Listener>;
}

/**
 * The wait route's first listen, opened together with the agent's authentication: one call to the
 * deployment's object checks the token and, when it vouches for it, opens the wait.
 */
export interface AgentWaitOpening {
  answer: GateAnswer;
  /** With an 'ok' answer: the open wait; its timeout starts now. At most once. */
  start?: (timeoutMs: number) => Listener;
  /** Closes the wait unless it was started (then its listener's close does). */
  discard(): void;
}

function timeoutOnly(timeoutMs: number, superseded = false): Listener {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const rung = superseded ? Promise.resolve(false) : new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
  return { rung, superseded, close: () => clearTimeout(timer) };
}

/** Listens on an accepted socket from now on (a ring before `start` is kept); the timeout starts with `start`. */
function listenOn(socket: WebSocket, claim: Listener['claim']): { start: (timeoutMs: number) => Listener; close: () => void } {
  let superseded = false;
  let outcome: boolean | undefined;
  let settle: ((rung: boolean) => void) | undefined;
  const finish = (rung: boolean) => {
    if (outcome !== undefined) return;
    outcome = rung;
    settle?.(rung);
  };
  socket.addEventListener('message', (event) => {
    if (event.data === 'superseded') superseded = true;
    finish(!superseded);
  });
  socket.addEventListener('close', () => finish(false));
  socket.addEventListener('error', () => finish(false));
  let timer: ReturnType<typeof setTimeout> | undefined;
  const close = () => {
    clearTimeout(timer);
    try {
      socket.close(1000, 'done');
    } catch {
      // already closed
    }
  };
  const start = (timeoutMs: number): Listener => {
    const rung =
      outcome !== undefined
        ? Promise.resolve(outcome)
        : new Promise<boolean>((resolve) => {
            settle = resolve;
            timer = setTimeout(() => finish(false), timeoutMs);
          });
    return {
      rung,
      claim,
      get superseded() {
        return superseded;
      },
      close,
    };
  };
  return { start, close };
}

/** The claim version the object sent with an accepted wait ('commands'). */
function claimState(response: Response): Listener['claim'] {
  const version = Number(response.headers.get('x-claim-version'));
  const cleared = Number(response.headers.get('x-claim-cleared'));
  return response.headers.has('x-claim-version') && Number.isSafeInteger(version) && Number.isSafeInteger(cleared) ? { version, claimable: version > cleared } : undefined;
}

/**
 * Opens the agent's wait on its deployment's object with the token check folded in (AgentWaitOpening).
 * Throws when the object cannot be reached or answers something else; the caller then asks Postgres.
 */
export async function openAgentWait(namespace: DurableObjectNamespace, deploymentHash: string, gate: GateRequest, arrival: number): Promise<AgentWaitOpening> {
  const query = new URLSearchParams({ topic: 'commands', waiter: gate.agentId, arrival: String(arrival) });
  const headers: Record<string, string> = { upgrade: 'websocket', 'x-gate-token-hash': gate.tokenHash };
  if (gate.requestId !== undefined) headers['x-gate-request-id'] = gate.requestId;
  if (gate.requestIdKeepUntil !== undefined) headers['x-gate-request-keep-until'] = String(gate.requestIdKeepUntil);
  const response = await namespace.get(namespace.idFromName(deploymentHash)).fetch(`https://doorbell/wait?${query}`, { headers });
  const socket = response.webSocket;
  const opened = response.headers.get('x-gate-answer');
  if (socket && opened) {
    socket.accept();
    const listening = listenOn(socket, claimState(response));
    let started = false;
    return {
      answer: JSON.parse(opened) as GateAnswer,
      start: (timeoutMs) => {
        started = true;
        return listening.start(timeoutMs);
      },
      discard: () => {
        if (!started) listening.close();
      },
    };
  }
  // 409 with an answer: vouched for, but a newer wait of this agent is already held.
  if (response.status === 409 && opened) return { answer: JSON.parse(opened) as GateAnswer, start: (timeoutMs) => timeoutOnly(timeoutMs, true), discard: () => undefined };
  if (response.status === 200 && !socket) return { answer: (await response.json()) as GateAnswer, discard: () => undefined };
  if (socket) {
    socket.accept();
    socket.close(1011, 'unexpected answer');
  }
  await response.body?.cancel();
  throw new Error(`the deployment's object answered the wait with ${response.status}`);
}

export function durableDoorbell(namespace: DurableObjectNamespace): Doorbell {
  const stub = (hash: string) => namespace.get(namespace.idFromName(hash));
  return {
    async ring(hash, topic) {
      try {
        const response = await stub(hash).fetch(`https://doorbell/ring?topic=${topic}`, { method: 'POST' });
        await response.body?.cancel();
      } catch {
        // see interface
      }
    },
    async listen(hash, topic, timeoutMs, options = {}) {
      const query = new URLSearchParams({ topic });
      if (options.waiter !== undefined) {
        query.set('waiter', options.waiter);
        query.set('arrival', String(options.arrival ?? Date.now()));
      }
      const response = await stub(hash).fetch(`https://doorbell/wait?${query}`, { headers: { upgrade: 'websocket' } });
      const socket = response.webSocket;
      if (!socket) {
        await response.body?.cancel();
        // 409: a newer wait of this waiter is already held. Otherwise no doorbell: wait out the timeout.
        return timeoutOnly(timeoutMs, response.status === 409);
      }
      socket.accept();
      return listenOn(socket, claimState(response)).start(timeoutMs);
    },
  };
}

/**
 * Asks the deployment's object to advance its built-in engine run now (durable/deployment-doorbell.ts
 * `runEngine`). Never throws: the object's alarm and the cron catch up with a wake-up that was lost.
 */
export async function wakeEngine(namespace: DurableObjectNamespace, deploymentHash: string, deploymentId: number): Promise<void> {
  try {
    const stub = namespace.get(namespace.idFromName(deploymentHash)) as unknown as { runEngine(deploymentId: number): Promise<void> };
    await stub.runEngine(deploymentId);
  } catch {
    // see above
  }
}

/** What a step taken outside the deployment's object tells it (durable/deployment-doorbell.ts `engineStepped`). */
export interface EngineStepTaken {
  wakeAt: number | null;
  queuedCommands: boolean;
  wroteEvents: boolean;
}

/** Tells the deployment's object about a step taken elsewhere: it rings who waits and looks again by `wakeAt`. Throws when the object cannot be reached. */
export async function engineStepped(namespace: DurableObjectNamespace, deploymentHash: string, deploymentId: number, step: EngineStepTaken): Promise<void> {
  const stub = namespace.get(namespace.idFromName(deploymentHash)) as unknown as { engineStepped(deploymentId: number, step: EngineStepTaken): Promise<void> };
  await stub.engineStepped(deploymentId, step);
}
