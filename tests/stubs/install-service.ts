// Stands in for the remote install service that receives deploy jobs.
//   POST /install[?fail=N]  accepts a job (JSON); answers 500 to the first N deliveries of each message id.
//        [&hang=M]          and before those, never answers the first M (the sender must time out).
//                           A redelivered message id is acknowledged but not accepted again.
//   GET  /deliveries?deployment_hash=H[&accepted=N]  every delivery attempt seen for that deployment, in
//        order; with accepted=N, held until N of them were accepted (at most 10 s).
import { sendJson, startStubServer, type StubServer } from './http.ts';

export interface Delivery {
  messageId: string;
  headers: Record<string, string>;
  body: string;
  status: number;
  accepted: boolean;
}

export async function startInstallServiceStub(): Promise<StubServer & { installUrl: string }> {
  const deliveries: Delivery[] = [];
  const attemptsByMessage = new Map<string, number>();
  const accepted = new Set<string>();

  const waiters = new Set<() => void>();
  const server = await startStubServer(async (req, res, body) => {
    const url = new URL(req.url ?? '/', 'http://stub');
    if (req.method === 'GET' && url.pathname === '/deliveries') {
      const hash = url.searchParams.get('deployment_hash');
      const wanted = Number(url.searchParams.get('accepted') ?? '0');
      const matching = () => deliveries.filter((d) => hash === null || d.body.includes(`"${hash}"`));
      const deadline = Date.now() + 10_000;
      while (matching().filter((d) => d.accepted).length < wanted && Date.now() < deadline) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, deadline - Date.now());
          waiters.add(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      return sendJson(res, 200, { deliveries: matching() });
    }
    if (req.method !== 'POST' || url.pathname !== '/install') return sendJson(res, 404, { error: 'not found' });

    const headers = Object.fromEntries(Object.entries(req.headers).map(([key, value]) => [key, String(value)]));
    const messageId = headers['upstash-message-id'] ?? '';
    const attempt = (attemptsByMessage.get(messageId) ?? 0) + 1;
    attemptsByMessage.set(messageId, attempt);
    const hangFirst = Number(url.searchParams.get('hang') ?? '0');
    if (attempt <= hangFirst) {
      deliveries.push({ messageId, headers, body, status: 0, accepted: false });
      return; // no answer at all; the connection closes when the sender gives up
    }
    const failFirst = hangFirst + Number(url.searchParams.get('fail') ?? '0');
    const status = attempt <= failFirst ? 500 : 200;
    const isNew = status === 200 && !accepted.has(messageId);
    if (isNew) accepted.add(messageId);
    deliveries.push({ messageId, headers, body, status, accepted: isNew });
    for (const wake of waiters) wake();
    waiters.clear();
    return sendJson(res, status, status === 200 ? { accepted: isNew } : { error: 'temporary failure' });
  });
  return { ...server, installUrl: `${server.url}/install` };
}
