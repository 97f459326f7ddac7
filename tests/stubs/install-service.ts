// Stands in for the remote install service that receives deploy jobs.
//   POST /install[?fail=N]  accepts a job (JSON); answers 500 to the first N deliveries of each message id.
//                           A redelivered message id is acknowledged but not accepted again.
//   GET  /deliveries?deployment_hash=H  every delivery attempt seen for that deployment, in order.
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

  const server = await startStubServer((req, res, body) => {
    const url = new URL(req.url ?? '/', 'http://stub');
    if (req.method === 'GET' && url.pathname === '/deliveries') {
      const hash = url.searchParams.get('deployment_hash');
      return sendJson(res, 200, { deliveries: deliveries.filter((d) => hash === null || d.body.includes(`"${hash}"`)) });
    }
    if (req.method !== 'POST' || url.pathname !== '/install') return sendJson(res, 404, { error: 'not found' });

    const headers = Object.fromEntries(Object.entries(req.headers).map(([key, value]) => [key, String(value)]));
    const messageId = headers['upstash-message-id'] ?? '';
    const attempt = (attemptsByMessage.get(messageId) ?? 0) + 1;
    attemptsByMessage.set(messageId, attempt);
    const failFirst = Number(url.searchParams.get('fail') ?? '0');
    const status = attempt <= failFirst ? 500 : 200;
    const isNew = status === 200 && !accepted.has(messageId);
    if (isNew) accepted.add(messageId);
    deliveries.push({ messageId, headers, body, status, accepted: isNew });
    return sendJson(res, status, status === 200 ? { accepted: isNew } : { error: 'temporary failure' });
  });
  return { ...server, installUrl: `${server.url}/install` };
}
