// The Worker side of the per-deployment doorbell (functions/durable/deployment-doorbell.ts).

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

function timeoutOnly(timeoutMs: number, superseded = false): Listener {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const rung = superseded ? Promise.resolve(false) : new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
  return { rung, superseded, close: () => clearTimeout(timer) };
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
      const version = Number(response.headers.get('x-claim-version'));
      const cleared = Number(response.headers.get('x-claim-cleared'));
      const claim = response.headers.has('x-claim-version') && Number.isSafeInteger(version) && Number.isSafeInteger(cleared) ? { version, claimable: version > cleared } : undefined;
      let timer: ReturnType<typeof setTimeout> | undefined;
      let superseded = false;
      const rung = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
        socket.addEventListener('message', (event) => {
          if (event.data === 'superseded') superseded = true;
          resolve(!superseded);
        });
        socket.addEventListener('close', () => resolve(false));
        socket.addEventListener('error', () => resolve(false));
      });
      return {
        rung,
        claim,
        get superseded() {
          return superseded;
        },
        close() {
          clearTimeout(timer);
          try {
            socket.close(1000, 'done');
          } catch {
            // already closed
          }
        },
      };
    },
  };
}
