// The Worker side of the per-deployment doorbell (functions/durable/deployment-doorbell.ts).

export type DoorbellTopic = 'status' | 'commands';

export interface Doorbell {
  /** Wakes every waiter of the topic; never throws (a missed ring only delays a waiter to its timeout). */
  ring(deploymentHash: string, topic: DoorbellTopic): Promise<void>;
  /**
   * Starts listening. `rung` resolves true on a ring, false when `timeoutMs` passes or the
   * connection drops; `close` stops listening. Listen before the last database check, so a ring
   * between that check and the wait is not missed.
   */
  listen(deploymentHash: string, topic: DoorbellTopic, timeoutMs: number): Promise<{ rung: Promise<boolean>; close(): void }>;
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
    async listen(hash, topic, timeoutMs) {
      const response = await stub(hash).fetch(`https://doorbell/wait?topic=${topic}`, { headers: { upgrade: 'websocket' } });
      const socket = response.webSocket;
      if (!socket) {
        await response.body?.cancel();
        // No doorbell: degrade to waiting out the timeout.
        let timer: ReturnType<typeof setTimeout> | undefined;
        const rung = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
        return { rung, close: () => clearTimeout(timer) };
      }
      socket.accept();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const rung = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
        socket.addEventListener('message', () => resolve(true));
        socket.addEventListener('close', () => resolve(false));
        socket.addEventListener('error', () => resolve(false));
      });
      return {
        rung,
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
