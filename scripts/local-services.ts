// What a local run (`npm start`, the console) puts in place of what production configures:
//   - the secrets (SECURITY_KEY, the webhook and job signing keys, the Vault token), generated once and
//     kept in <data dir>/local-secrets.json (mode 600) so that what was stored stays readable;
//   - a Vault stand-in on loopback (KV API as node-vault calls it, kept in <data dir>/vault.json);
//   - an install-service stand-in on loopback that takes deploy jobs the way the real one does
//     (signature checked) and reports progress to the job's progress_url, signed with
//     INSTALL_WEBHOOK_SECRET, ending `completed` (or `failed`, for a job whose server type is `local-fail`).
// Only settings left unset are filled in; anything configured wins.
import { Receiver } from '@upstash/qstash';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { z } from 'zod';


/** X-Install-Signature as the install service signs its progress reports: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">. */
export function installSignature(secret: string, body: string, t = Math.floor(Date.now() / 1000)): string {
  return `t=${t},v1=${createHmac('sha256', secret).update(`${t}.`).update(body).digest('hex')}`;
}
export interface LocalSecrets {
  SECURITY_KEY: string;
  INSTALL_WEBHOOK_SECRET: string;
  QSTASH_CURRENT_SIGNING_KEY: string;
  VAULT_TOKEN: string;
}

/** The local run's generated secrets, created on first use. */
export function localSecrets(dataDir: string): LocalSecrets {
  const path = join(dataDir, 'local-secrets.json');
  if (existsSync(path)) return JSON.parse(readFileSync(path, 'utf8')) as LocalSecrets;
  const secrets: LocalSecrets = {
    SECURITY_KEY: randomBytes(32).toString('base64'),
    INSTALL_WEBHOOK_SECRET: randomBytes(32).toString('hex'),
    QSTASH_CURRENT_SIGNING_KEY: `sig_${randomBytes(24).toString('hex')}`,
    VAULT_TOKEN: `hvs.local-${randomBytes(18).toString('hex')}`,
  };
  mkdirSync(dataDir, { recursive: true });
  writeJsonAtomically(path, secrets);
  return secrets;
}

export interface LocalService {
  url: string;
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void | Promise<void>;

async function serve(handler: Handler): Promise<LocalService> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      Promise.resolve(handler(req, res, Buffer.concat(chunks).toString('utf8'))).catch((error: unknown) => {
        if (!res.headersSent) json(res, 500, { errors: [String(error)] });
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  return {
    url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function json(res: ServerResponse, status: number, body: unknown): void {
  // No keep-alive: workerd would reuse a connection this server is closing ("Network connection lost").
  res.writeHead(status, { 'content-type': 'application/json', connection: 'close' }).end(JSON.stringify(body));
}

function writeJsonAtomically(path: string, value: unknown): void {
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, JSON.stringify(value, null, 2), { mode: 0o600 });
  renameSync(temporary, path);
}

/** The same without blocking the event loop; `value` is read before this returns its promise. */
async function writeJsonAtomicallyInBackground(path: string, value: unknown): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`;
  const text = JSON.stringify(value, null, 2);
  await writeFile(temporary, text, { mode: 0o600 });
  await rename(temporary, path);
}

/** Vault's KV HTTP API (write, read, delete under /v1/), X-Vault-Token checked, kept in vault.json. */
export async function startLocalVault(options: { dataDir: string; token: string }): Promise<LocalService> {
  const file = join(options.dataDir, 'vault.json');
  const secrets: Record<string, { data: Record<string, unknown>; version: number; created: string }> = existsSync(file)
    ? (JSON.parse(readFileSync(file, 'utf8')) as never)
    : {};
  // Group commit: the changes made while one write is on its way to disk are written together next,
  // and each is answered only once it is on disk. Writing the whole file for each change took this
  // process (which also runs the database's WebSocket proxy) to a standstill at a few thousand agents
  // registering; so did writing it synchronously, as ext4 flushes a file renamed over another and the
  // event loop (the proxy's too) waited for the disk while PostgreSQL kept it busy.
  let unsaved: Array<(saved: boolean) => void> = [];
  let writing = false;
  const writeUnsaved = async () => {
    writing = true;
    while (unsaved.length > 0) {
      const waiting = unsaved;
      unsaved = [];
      let saved = true;
      try {
        await writeJsonAtomicallyInBackground(file, secrets); // reads `secrets` now: every change in `waiting`
      } catch {
        saved = false;
      }
      for (const each of waiting) each(saved);
    }
    writing = false;
  };
  const persistThen = (answer: (saved: boolean) => void) => {
    unsaved.push(answer);
    if (!writing) void writeUnsaved();
  };
  const unsavedAnswer = (res: Parameters<typeof json>[0]) => json(res, 500, { errors: [`could not write ${file}`] });
  return serve((req, res, body) => {
    const pathname = new URL(req.url ?? '/', 'http://vault').pathname;
    if (!pathname.startsWith('/v1/')) return json(res, 404, { errors: [] });
    if (!sameSecret(String(req.headers['x-vault-token'] ?? ''), options.token)) return json(res, 403, { errors: ['permission denied'] });
    const path = decodeURIComponent(pathname.slice('/v1/'.length)).replace(/^\/+|\/+$/g, '');
    if (req.method === 'POST' || req.method === 'PUT') {
      let data: unknown;
      try {
        data = (JSON.parse(body || 'null') as { data?: unknown } | null)?.data;
      } catch {
        return json(res, 400, { errors: ['failed to parse JSON input'] });
      }
      if (typeof data !== 'object' || data === null || Array.isArray(data)) return json(res, 400, { errors: ['no data provided'] });
      const entry = { data: data as Record<string, unknown>, version: (secrets[path]?.version ?? 0) + 1, created: new Date().toISOString() };
      secrets[path] = entry;
      return persistThen((saved) =>
        saved ? json(res, 200, { data: { created_time: entry.created, deletion_time: '', destroyed: false, version: entry.version } }) : unsavedAnswer(res),
      );
    }
    if (req.method === 'GET') {
      const entry = secrets[path];
      if (!entry) return json(res, 404, { errors: [] });
      const metadata = { created_time: entry.created, deletion_time: '', destroyed: false, version: entry.version };
      return json(res, 200, { data: { data: entry.data, metadata } });
    }
    if (req.method === 'DELETE') {
      delete secrets[path];
      return persistThen((saved) => (saved ? res.writeHead(204, { connection: 'close' }).end() : unsavedAnswer(res)));
    }
    return json(res, 405, { errors: ['unsupported operation'] });
  });
}

/** The progress a local deployment reports, one message every `stepMs`. */
export const LOCAL_DEPLOY_STEPS = [
  { status: 'in_progress', progress: 10, step: 'server', message: 'Creating the server (local stand-in: nothing is created)' },
  { status: 'in_progress', progress: 50, step: 'docker', message: 'Installing Docker' },
  { status: 'in_progress', progress: 80, step: 'stack', message: 'Starting the stack' },
  { status: 'completed', progress: 100, step: 'stack', message: 'Deployed' },
] as const;

/**
 * What a job for the server type `local-fail` reports instead (to try a failing deploy locally, e.g.
 * `stacker deploy` with `deploy.server.server: local-fail` in stacker.yml): it fails at the Docker step.
 */
export const LOCAL_FAIL_SERVER = 'local-fail';
export const LOCAL_FAILING_STEPS = [
  LOCAL_DEPLOY_STEPS[0],
  { status: 'failed', progress: 50, step: 'docker', message: `Installing Docker failed (local stand-in: the server type is "${LOCAL_FAIL_SERVER}")` },
] as const;

/**
 * And for the server type `local-hold`: the server step, then nothing until the deployment is
 * cancelled (to try a cancel locally, and for tests that cancel a running deployment: a deploy that
 * ends by itself within seconds can end before the cancel arrives).
 */
export const LOCAL_HOLD_SERVER = 'local-hold';

/**
 * The install service's stand-in: POST /install takes a job signed as QStash signs it (a retried job
 * is acknowledged, not run twice) and reports LOCAL_DEPLOY_STEPS to its progress_url; a webhook that
 * fails is sent again a few times with the same message id, as the real service does.
 */
export async function startLocalInstallService(options: { webhookSecret: string; signingKey: string; stepMs?: number; log?: (line: string) => void }): Promise<LocalService> {
  const receiver = new Receiver({ currentSigningKey: options.signingKey, nextSigningKey: options.signingKey });
  const started = new Set<string>();
  const running = new Map<string, AbortController>();
  const stepMs = options.stepMs ?? 1_000;
  let url = '';

  async function report(job: { deployment_id: number; progress_url: string; server?: string | null }, signal: AbortSignal) {
    const steps = job.server === LOCAL_FAIL_SERVER ? LOCAL_FAILING_STEPS : job.server === LOCAL_HOLD_SERVER ? [LOCAL_DEPLOY_STEPS[0]] : LOCAL_DEPLOY_STEPS;
    for (const [index, step] of steps.entries()) {
      await pause(stepMs, signal);
      const body = JSON.stringify({ deploy_id: job.deployment_id, ...step });
      for (let attempt = 0; ; attempt++) {
        // Signed afresh for each attempt (the signature's time must be within 300 s of Stacker's clock).
        const headers = {
          'content-type': 'application/json',
          'x-install-signature': installSignature(options.webhookSecret, body),
          'x-install-message-id': `local-${job.deployment_id}-${index}`,
        };
        const status = await fetch(job.progress_url, { method: 'POST', headers, body, signal }).then((r) => r.status, () => 0);
        if (status === 200) break;
        // 409 and the like: the deployment has ended (cancelled, say); nothing more to report.
        if ((status >= 400 && status < 500 && status !== 429) || attempt >= 4) return;
        await pause(1_000 * 2 ** attempt, signal);
      }
    }
    if (job.server === LOCAL_HOLD_SERVER) await untilAborted(signal); // until cancelled (or the stand-in stops)
  }

  const service = await serve(async (req, res, body) => {
    if (req.method !== 'POST' || new URL(req.url ?? '/', 'http://install').pathname !== '/install') return json(res, 404, { error: 'not found' });
    const valid = await receiver.verify({ signature: String(req.headers['upstash-signature'] ?? ''), body, url, clockTolerance: 30 }).catch(() => false);
    if (!valid) return json(res, 401, { error: 'invalid signature' });
    const raw = parseJson(body);
    if ((raw as { action?: unknown } | undefined)?.action === 'cancel') {
      const cancel = cancelJob.safeParse(raw);
      if (!cancel.success) return json(res, 400, { error: issuesOf(cancel.error) });
      running.get(cancel.data.deployment_hash)?.abort();
      return json(res, 200, { accepted: true });
    }
    const parsed = deployJob.safeParse(raw);
    if (!parsed.success) return json(res, 400, { error: issuesOf(parsed.error) });
    const job = parsed.data;
    if (started.has(job.deployment_hash)) return json(res, 200, { accepted: false });
    started.add(job.deployment_hash);
    options.log?.(`install-service stand-in: deploying ${job.deployment_hash} (deployment ${job.deployment_id})`);
    const controller = new AbortController();
    const hash = job.deployment_hash;
    running.set(hash, controller);
    void report({ deployment_id: job.deployment_id, progress_url: job.progress_url, server: job.server }, controller.signal)
      .catch(() => undefined)
      .finally(() => running.delete(hash));
    json(res, 200, { accepted: true });
  });
  url = `${service.url}/install`;
  return {
    url,
    async close() {
      for (const controller of running.values()) controller.abort();
      await service.close();
    },
  };
}

/** What the stand-in reads of a job (the Worker's job carries more: the project, the cloud, ...). */
const cancelJob = z.object({ action: z.literal('cancel'), deployment_hash: z.string().min(1) });
const deployJob = z.object({
  deployment_id: z.number().int().positive(),
  deployment_hash: z.string().min(1),
  progress_url: z.url(),
  server: z.string().nullish(),
});

const issuesOf = (error: z.ZodError) => error.issues.map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`).join('; ');

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function untilAborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason);
    }, { once: true });
  });
}
