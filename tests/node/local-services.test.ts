// npm start's stand-ins: they check what the real services check, and do what the tour relies on.
import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { signLikeQStash } from '../../functions/services/queue.ts';
import { LOCAL_DEPLOY_STEPS, startLocalInstallService, startLocalVault } from '../../scripts/local-services.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'stacker-standins-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe('the Vault stand-in', () => {
  it('keeps what is written under the token, refuses another token, and keeps it across a restart', async () => {
    const vault = await startLocalVault({ dataDir, token: 'hvs.right' });
    const write = (token: string) =>
      fetch(`${vault.url}/v1/agent/h1/token`, { method: 'POST', headers: { 'x-vault-token': token, 'content-type': 'application/json' }, body: JSON.stringify({ data: { token: 't-1' } }) });
    expect((await write('hvs.wrong')).status).toBe(403);
    expect((await write('hvs.righ')).status).toBe(403);
    expect((await write('hvs.right')).status).toBe(200);
    await vault.close();
    const again = await startLocalVault({ dataDir, token: 'hvs.right' });
    const read = await fetch(`${again.url}/v1/agent/h1/token`, { headers: { 'x-vault-token': 'hvs.right' } });
    expect(((await read.json()) as { data: { data: unknown } }).data.data).toEqual({ token: 't-1' });
    await again.close();
  });
});

describe('the Vault stand-in under many writes at once', () => {
  it('answers each write once it is on disk: every one of 200 concurrent writes and deletes is there after a restart', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'stacker-vault-burst-'));
    try {
      const vault = await startLocalVault({ dataDir: folder, token: 'hvs.right' });
      const headers = { 'x-vault-token': 'hvs.right', 'content-type': 'application/json' };
      const writes = Array.from({ length: 200 }, (_, i) =>
        fetch(`${vault.url}/v1/agent/h${i}/token`, { method: 'POST', headers, body: JSON.stringify({ data: { token: `t-${i}` } }) }).then((answer) => answer.status),
      );
      expect(await Promise.all(writes)).toEqual(writes.map(() => 200));
      const deletes = Array.from({ length: 50 }, (_, i) => fetch(`${vault.url}/v1/agent/h${i}/token`, { method: 'DELETE', headers }).then((answer) => answer.status));
      expect(await Promise.all(deletes)).toEqual(deletes.map(() => 204));
      // Read straight from the file, as a restarted stand-in would: what was answered is on disk.
      const saved = JSON.parse(readFileSync(join(folder, 'vault.json'), 'utf8')) as Record<string, { data: { token: string } }>;
      await vault.close();
      expect(Object.keys(saved)).toHaveLength(150);
      expect(saved['agent/h199/token']?.data).toEqual({ token: 't-199' });
      expect(saved['agent/h0/token']).toBeUndefined();
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
});

describe('the install-service stand-in', () => {
  const webhookSecret = 'whsec-local';
  const signingKey = 'sig_local';

  async function progressReceiver() {
    const received: Array<{ body: Record<string, unknown>; signed: boolean }> = [];
    let onReport: () => void = () => undefined;
    const server = createServer((req, res) => {
      let text = '';
      req.on('data', (chunk) => (text += String(chunk)));
      req.on('end', () => {
        // As the Worker checks it (functions/services/install-webhook.ts): t within 300 s, v1 = HMAC of "<t>.<body>".
        const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(req.headers['x-install-signature']));
        const fresh = !!match && Math.abs(Date.now() / 1000 - Number(match[1])) <= 300;
        const signed = fresh && match![2] === createHmac('sha256', webhookSecret).update(`${match![1]}.${text}`).digest('hex');
        received.push({ body: JSON.parse(text) as Record<string, unknown>, signed });
        res.writeHead(200, { connection: 'close' }).end('{}');
        onReport();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const address = server.address() as { port: number };
    return {
      url: `http://127.0.0.1:${address.port}/webhooks/install`,
      received,
      reports: (count: number) => new Promise<void>((resolve) => {
        onReport = () => received.length >= count && resolve();
        onReport();
      }),
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  }

  const post = async (url: string, job: unknown, signed = true) => {
    const body = JSON.stringify(job);
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (signed) headers['upstash-signature'] = await signLikeQStash(signingKey, url, body);
    return fetch(url, { method: 'POST', headers, body });
  };

  it('refuses an unsigned job (401) and a malformed one (400); runs a signed job once, reporting each step signed', async () => {
    const install = await startLocalInstallService({ webhookSecret, signingKey, stepMs: 1 });
    const progress = await progressReceiver();
    try {
      const job = { action: 'deploy', deployment_id: 7, deployment_hash: 'deployment_7', progress_url: progress.url };
      expect((await post(install.url, job, false)).status).toBe(401);
      const malformed = await post(install.url, { deployment_id: 'seven' });
      expect(malformed.status).toBe(400);
      expect(((await malformed.json()) as { error: string }).error).toMatch(/deployment_id/);
      expect(await (await post(install.url, job)).json()).toEqual({ accepted: true });
      expect(await (await post(install.url, job)).json()).toEqual({ accepted: false }); // a redelivery
      await progress.reports(LOCAL_DEPLOY_STEPS.length);
      expect(progress.received.map((report) => [report.body.deploy_id, report.body.status, report.body.progress, report.signed])).toEqual(
        LOCAL_DEPLOY_STEPS.map((step) => [7, step.status, step.progress, true]),
      );
    } finally {
      await install.close();
      await progress.close();
    }
  });

  it('a cancel job stops the reports of a running deployment', async () => {
    const install = await startLocalInstallService({ webhookSecret, signingKey, stepMs: 200 });
    const progress = await progressReceiver();
    try {
      await post(install.url, { action: 'deploy', deployment_id: 8, deployment_hash: 'deployment_8', progress_url: progress.url });
      await progress.reports(1);
      expect((await post(install.url, { action: 'cancel', id: 8, deployment_id: 8, deployment_hash: 'deployment_8' })).status).toBe(200);
      const sent = progress.received.length;
      // Two more steps' worth of time: a running deployment would have reported again by then.
      await new Promise((resolve) => setTimeout(resolve, 600));
      expect(progress.received.length).toBe(sent);
      expect(sent).toBeLessThan(LOCAL_DEPLOY_STEPS.length);
    } finally {
      await install.close();
      await progress.close();
    }
  });
});
