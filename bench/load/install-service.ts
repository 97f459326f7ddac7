// The install service's stand-in for the load run. It accepts deploy jobs as the service delivers them
// without QStash (POST, `Upstash-Signature` as QStash signs, `Upstash-Message-Id` the same on every
// retry), checks that signature, and then reports progress the way the real install service does:
// signed POST <progress_url> (X-Install-Signature: t=<unix seconds>,v1=<HMAC of "<t>.<body>" with INSTALL_WEBHOOK_SECRET>,
// a fresh X-Install-Message-Id per message) a few times, then a terminal status. A webhook that gets
// no answer, a 5xx or a 429 is sent again (same message id) after 1, 2, 4, 8, 16 s.
import { Receiver } from '@upstash/qstash';
import { createHmac } from 'node:crypto';
import http from 'node:http';
import { sendJson, startStubServer } from '../../tests/stubs/http.ts';
import { sleep } from '../lib/measure.ts';
import { send, type Recorder } from './recorder.ts';

const RETRY_DELAYS_MS = [1_000, 2_000, 4_000, 8_000, 16_000];

export interface InstallJobState {
  deploymentId: number;
  deploymentHash: string;
  /** Deliveries of this job that reached the stand-in (a retried delivery counts again). */
  deliveries: number;
  /** Progress messages the service applied (200). */
  applied: number;
  /** The terminal status this stand-in reported, once the service applied it. */
  finished?: 'completed' | 'failed';
  /** A webhook the service refused for good (a 4xx other than 429), or that never got through. */
  problem?: string;
}

export interface InstallServiceStandIn {
  url: string;
  jobs: Map<string, InstallJobState>;
  /** Deliveries whose Upstash-Signature did not verify (answered 401). */
  badSignatures: number;
  /** Resolves when every progress sequence started so far has ended. */
  settled(): Promise<void>;
  close(): Promise<void>;
}

export async function startInstallService(options: {
  recorder: Recorder;
  webhookSecret: string;
  qstashSigningKey: string;
  /** Pause between two progress messages of one deployment. */
  stepMs: number;
  /** Every n-th deployment ends `failed` instead of `completed` (0: none). */
  failEvery: number;
}): Promise<InstallServiceStandIn> {
  const receiver = new Receiver({ currentSigningKey: options.qstashSigningKey, nextSigningKey: options.qstashSigningKey });
  const webhookAgent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  const jobs = new Map<string, InstallJobState>();
  const running = new Set<Promise<void>>();
  let url = '';
  let started = 0;
  let badSignatures = 0;

  async function postProgress(progressUrl: string, job: InstallJobState, messageId: string, message: Record<string, unknown>): Promise<boolean> {
    const body = JSON.stringify(message);
    for (let attempt = 0; ; attempt++) {
      const t = Math.floor(Date.now() / 1000); // signed afresh for each attempt: t must be within 300 s
      const headers = {
        'content-type': 'application/json',
        'x-install-signature': `t=${t},v1=${createHmac('sha256', options.webhookSecret).update(`${t}.`).update(body).digest('hex')}`,
        'x-install-message-id': messageId,
      };
      const response = await send(options.recorder, webhookAgent, 'POST /webhooks/install', progressUrl, { method: 'POST', headers, body, timeoutMs: 30_000 });
      if (response?.status === 200) {
        job.applied++;
        return true;
      }
      const retryable = !response || response.status >= 500 || response.status === 429;
      if (!retryable || attempt >= RETRY_DELAYS_MS.length) {
        job.problem ??= `${messageId}: ${response ? `${response.status} ${response.body.slice(0, 160)}` : 'no answer'}${retryable ? ' (retries exhausted)' : ''}`;
        return false;
      }
      await sleep(RETRY_DELAYS_MS[attempt]!);
    }
  }

  async function reportProgress(job: InstallJobState, progressUrl: string, fail: boolean): Promise<void> {
    const steps: Array<{ status: string; progress: number; message: string }> = [
      { status: 'in_progress', progress: 10, message: 'Creating the server' },
      { status: 'in_progress', progress: 50, message: 'Installing Docker' },
      { status: 'in_progress', progress: 80, message: 'Starting the stack' },
      fail ? { status: 'failed', progress: 80, message: 'The stack did not start' } : { status: 'completed', progress: 100, message: 'Deployed' },
    ];
    for (const [index, step] of steps.entries()) {
      await sleep(options.stepMs);
      const ok = await postProgress(progressUrl, job, `load-${job.deploymentId}-${index}`, { deploy_id: job.deploymentId, ...step });
      if (!ok) return;
    }
    job.finished = fail ? 'failed' : 'completed';
  }

  const server = await startStubServer(async (req, res, body) => {
    if (req.method !== 'POST' || new URL(req.url ?? '/', 'http://stub').pathname !== '/install') return sendJson(res, 404, { error: 'not found' });
    const signature = String(req.headers['upstash-signature'] ?? '');
    const valid = await receiver.verify({ signature, body, url, clockTolerance: 30 }).catch(() => false);
    if (!valid) {
      badSignatures++;
      return sendJson(res, 401, { error: 'invalid signature' });
    }
    const job = JSON.parse(body) as { deployment_id?: number; deployment_hash?: string; progress_url?: string; action?: string };
    if (job.action === 'cancel' || !job.deployment_hash || !job.deployment_id || !job.progress_url) {
      return sendJson(res, 200, { accepted: false });
    }
    const known = jobs.get(job.deployment_hash);
    if (known) {
      // The same job again (a retry after a lost answer): acknowledged, not started twice.
      known.deliveries++;
      return sendJson(res, 200, { accepted: false });
    }
    const state: InstallJobState = { deploymentId: job.deployment_id, deploymentHash: job.deployment_hash, deliveries: 1, applied: 0 };
    jobs.set(job.deployment_hash, state);
    started++;
    const fail = options.failEvery > 0 && started % options.failEvery === 0;
    const work = reportProgress(state, job.progress_url, fail).finally(() => running.delete(work));
    running.add(work);
    sendJson(res, 200, { accepted: true });
  });
  url = `${server.url}/install`;

  return {
    url,
    jobs,
    get badSignatures() {
      return badSignatures;
    },
    async settled() {
      while (running.size) await Promise.all([...running]);
    },
    async close() {
      webhookAgent.destroy();
      await server.close();
    },
  };
}
