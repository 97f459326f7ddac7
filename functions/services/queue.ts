// Delivery of jobs to the install service: through Upstash QStash, or (local runs, no QSTASH_TOKEN)
// directly, signed the way QStash signs, with the same message id on every retry.
import { Client } from '@upstash/qstash';
import { SignJWT } from 'jose';
import type { Config } from '../config.ts';
import { requireSetting } from '../config.ts';
import { toBase64 } from './crypto.ts';

export interface Job {
  /** Where the job goes (INSTALL_SERVICE_URL). */
  url: string;
  /** The JSON body, exactly as it will be sent. */
  body: string;
  /** The same id for the same job: QStash drops a second publish of it. */
  deduplicationId: string;
  /** Jobs with one key are delivered one at a time (per deployment). */
  flowControlKey: string;
  headers?: Record<string, string>;
}

export interface JobPublisher {
  readonly kind: 'qstash' | 'direct';
  /** Resolves with the message id once the job is accepted for delivery; rejects when it is not. */
  publish(job: Job): Promise<{ messageId: string }>;
}

export class PublishError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PublishError';
  }
}

/** Retries: 3 is the most QStash's free plan allows; the outbox and the cron cover the rest. */
export function qstashPublisher(token: string, baseUrl: string | undefined, retries = 3): JobPublisher {
  const client = new Client({ token, baseUrl, retry: false });
  return {
    kind: 'qstash',
    async publish(job) {
      try {
        const response = await client.publish({
          url: job.url,
          body: job.body,
          headers: { 'content-type': 'application/json', ...job.headers },
          deduplicationId: job.deduplicationId,
          retries,
          flowControl: { key: job.flowControlKey, parallelism: 1 },
        });
        return { messageId: (response as { messageId: string }).messageId };
      } catch (error) {
        throw new PublishError(`QStash did not accept the job: ${error instanceof Error ? error.message : String(error)}`);
      }
    },
  };
}

/** The Upstash-Signature QStash would send: an HS256 JWT over the destination and the body's SHA-256. */
export async function signLikeQStash(signingKey: string, url: string, body: string, now = Date.now()): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(body)));
  const bodyHash = toBase64(digest).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  const seconds = Math.floor(now / 1000);
  return new SignJWT({ body: bodyHash })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuer('Upstash')
    .setSubject(url)
    .setIssuedAt(seconds)
    .setNotBefore(seconds)
    .setExpirationTime(seconds + 300)
    .setJti(crypto.randomUUID())
    .sign(new TextEncoder().encode(signingKey));
}

export interface DirectPublisherOptions {
  signingKey: string;
  /** Delays before each retry, in ms; the delivery is given up (and left to the cron) after the last. */
  retryDelaysMs?: number[];
  timeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

/** Delivers at once, retrying with backoff; a 2xx from the destination is "accepted". */
export function directPublisher(options: DirectPublisherOptions): JobPublisher {
  const delays = options.retryDelaysMs ?? [250, 1_000, 4_000];
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  return {
    kind: 'direct',
    async publish(job) {
      const messageId = `direct_${job.deduplicationId}`;
      let lastProblem = '';
      for (let attempt = 0; attempt <= delays.length; attempt++) {
        if (attempt > 0) await sleep(delays[attempt - 1]!);
        try {
          const response = await fetch(job.url, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              ...job.headers,
              'upstash-signature': await signLikeQStash(options.signingKey, job.url, job.body),
              'upstash-message-id': messageId,
              'upstash-retried': String(attempt),
            },
            body: job.body,
            signal: AbortSignal.timeout(options.timeoutMs ?? 15_000),
          });
          await response.body?.cancel();
          if (response.ok) return { messageId };
          lastProblem = `install service answered ${response.status}`;
        } catch (error) {
          lastProblem = `install service unreachable (${error instanceof Error ? error.name : 'error'})`;
        }
      }
      throw new PublishError(lastProblem);
    },
  };
}

/** QStash when QSTASH_TOKEN is set, else direct delivery signed with QSTASH_CURRENT_SIGNING_KEY. */
export function publisherFromConfig(config: Config): JobPublisher {
  if (config.QSTASH_TOKEN) return qstashPublisher(config.QSTASH_TOKEN, config.QSTASH_URL);
  return directPublisher({ signingKey: requireSetting(config, 'QSTASH_CURRENT_SIGNING_KEY') });
}
