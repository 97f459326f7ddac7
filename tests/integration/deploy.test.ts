import { env } from 'cloudflare:test';
import { Receiver } from '@upstash/qstash';
import { sql } from 'drizzle-orm';
import { brotliDecompressSync } from 'node:zlib';
import { describe, expect, it, vi } from 'vitest';
import { inject } from 'vitest';
import { runScheduledJobs } from '../../functions/cron.ts';
import { hmacSha256Hex } from '../../functions/services/crypto.ts';
import { api, bearerFor, jsonRequest, uniqueId } from '../helpers/auth.ts';
import { withDatabase } from '../helpers/db.ts';
import { createProjectFor, deliveriesOf, deploy, installSignature, postProgress, progressHeaders, requestAndSettle, type Started } from '../helpers/deploy.ts';
import { deployBodies, projectForms } from '../helpers/fixtures.ts';
import { QSTASH_TOKEN } from '../stubs/qstash.ts';

const CLOUD_TOKEN = 'hcloud-token-that-must-stay-secret-0123456789';
const deployBody = { ...deployBodies.deploy2, cloud: { provider: 'htz', cloud_token: CLOUD_TOKEN, save_token: false } };
const receiver = new Receiver({ currentSigningKey: env.QSTASH_CURRENT_SIGNING_KEY, nextSigningKey: env.QSTASH_NEXT_SIGNING_KEY });

async function outboxOf(deploymentId: number) {
  return withDatabase(async (db) => (await db.execute<Record<string, unknown>>(sql`select * from deploy_outbox where deployment_id = ${deploymentId} order by id`)).rows);
}

async function statusOf(hash: string, userId: string) {
  const response = await api(`/project/deploy/status?deployment_hash=${hash}`, { headers: bearerFor('group_user', userId) });
  return ((await response.json()) as { item: { status: string; progress: number | null; message: string | null } }).item;
}

describe('POST /project/{id}/deploy', () => {
  it('delivers the job to the install service exactly once, signed, even when its first answer is a 500', async () => {
    const project = await createProjectFor(uniqueId('dep'));
    const started = await deploy(project, deployBody, { INSTALL_SERVICE_URL: `${env.INSTALL_SERVICE_URL}?fail=1` });
    expect(started.status).toBe(202);
    expect(started.body).toMatchObject({ id: project.id, item: { status: 'pending' } });
    const { deployment_id: deploymentId, deployment_hash: hash } = started.body.item;
    expect(hash).toMatch(/^deployment_[0-9a-f-]{36}$/);

    const deliveries = await deliveriesOf(hash, 1);
    expect(deliveries.map((d) => d.status)).toEqual([500, 200]);
    expect(deliveries.filter((d) => d.accepted)).toHaveLength(1);
    expect(new Set(deliveries.map((d) => d.messageId))).toEqual(new Set([`direct_deploy-${hash}`]));
    for (const delivery of deliveries) {
      expect(await receiver.verify({ signature: delivery.headers['upstash-signature']!, body: delivery.body })).toBe(true);
    }

    const job = JSON.parse(deliveries[1]!.body) as Record<string, unknown>;
    expect(job).toMatchObject({
      id: deploymentId,
      deployment_id: deploymentId,
      deployment_hash: hash,
      project_id: project.id,
      user_token: project.userId,
      user_email: `${project.userId}@example.test`,
      provider: 'htz',
      cloud_token: CLOUD_TOKEN,
      region: 'fsn1',
      server: 'cx11',
      routing_key: 'install.start.tfa.all.all',
    });
    const compose = brotliDecompressSync(Uint8Array.from(job.docker_compose as number[])).toString('utf8');
    expect(compose).toBe(projectForms[2]!.compose);

    const [entry] = await outboxOf(deploymentId);
    expect(entry!.published_at).not.toBeNull();
    expect(String(entry!.payload_sealed)).not.toContain(CLOUD_TOKEN);
  });

  it('goes through QStash when QSTASH_TOKEN is set: deduplicated per deployment, flow-controlled, signed', async () => {
    const project = await createProjectFor(uniqueId('qs'));
    const started = await deploy(project, deployBody, { QSTASH_TOKEN });
    expect(started.status).toBe(202);
    const hash = started.body.item.deployment_hash;
    const deliveries = await deliveriesOf(hash, 1);
    expect(deliveries.filter((d) => d.accepted)).toHaveLength(1);
    expect(await receiver.verify({ signature: deliveries[0]!.headers['upstash-signature']!, body: deliveries[0]!.body })).toBe(true);

    const published = ((await (await fetch(`${inject('qstashStubUrl')}/published`)).json()) as { published: Array<{ headers: Record<string, string>; body: string }> }).published;
    const mine = published.find((p) => p.body.includes(hash))!;
    // By the hash, not the serial id: unique beyond this database (another installation on the same account).
    expect(mine.headers['upstash-deduplication-id']).toBe(`deploy-${hash}`);
    expect(mine.headers['upstash-flow-control-key']).toBe(`deployment-${started.body.item.deployment_id}`);
  });

  it('keeps the job in the outbox while the queue is down, and the cron delivers it later', async () => {
    const project = await createProjectFor(uniqueId('down'));
    const started = await deploy(project, deployBody, { QSTASH_TOKEN, QSTASH_URL: 'http://127.0.0.1:9' });
    expect(started.status).toBe(202);
    const { deployment_id: deploymentId, deployment_hash: hash } = started.body.item;
    const [waiting] = await outboxOf(deploymentId);
    expect(waiting).toMatchObject({ published_at: null, attempts: 1 });
    expect(String(waiting!.last_error)).toMatch(/QStash did not accept the job/);
    expect(await deliveriesOf(hash)).toEqual([]);

    // The backoff has passed; the queue is back.
    await withDatabase((db) => db.execute(sql`update deploy_outbox set next_attempt_at = now() where deployment_id = ${deploymentId}`));
    await runScheduledJobs({ ...env, QSTASH_TOKEN } as never);
    expect((await deliveriesOf(hash, 1)).filter((d) => d.accepted)).toHaveLength(1);
    expect((await outboxOf(deploymentId))[0]!.published_at).not.toBeNull();

    // A second cron run publishes nothing more for it.
    await runScheduledJobs({ ...env, QSTASH_TOKEN } as never);
    expect((await deliveriesOf(hash)).filter((d) => d.accepted)).toHaveLength(1);
  });

  it('with an Idempotency-Key, a retry answers the deployment already started (200) and starts nothing; another key starts another', async () => {
    const project = await createProjectFor(uniqueId('idem'));
    const send = (key: string) =>
      requestAndSettle(`/project/${project.id}/deploy`, jsonRequest('POST', deployBody, { ...bearerFor('group_user', project.userId), 'idempotency-key': key }));
    const first = await send('deploy-1');
    expect(first.status).toBe(202);
    const started = ((await first.json()) as Started).item;
    const [again, concurrent] = await Promise.all([send('deploy-1'), send('deploy-1')]);
    for (const retry of [again, concurrent]) {
      expect(retry.status).toBe(200);
      expect(((await retry.json()) as Started).item).toEqual(started);
    }
    const other = await send('deploy-2');
    expect(other.status).toBe(202);
    const rows = await withDatabase(async (db) => (await db.execute<{ n: string }>(sql`select count(*) as n from deployment where project_id = ${project.id}`)).rows[0]!.n);
    expect(Number(rows)).toBe(2);
    expect((await outboxOf(started.deployment_id)).filter((entry) => entry.kind === 'deploy')).toHaveLength(1);
    // the same key on another project is another deployment
    const elsewhere = await createProjectFor(project.userId);
    const otherProject = await requestAndSettle(`/project/${elsewhere.id}/deploy`, jsonRequest('POST', deployBody, { ...bearerFor('group_user', project.userId), 'idempotency-key': 'deploy-1' }));
    expect(otherProject.status).toBe(202);
  });

  it('two requests with the same new Idempotency-Key at once start one deployment', async () => {
    const project = await createProjectFor(uniqueId('idem'));
    const init = () => jsonRequest('POST', deployBody, { ...bearerFor('group_user', project.userId), 'idempotency-key': 'same' });
    const answers = await Promise.all([0, 1, 2].map(() => requestAndSettle(`/project/${project.id}/deploy`, init())));
    expect(answers.map((answer) => answer.status).sort()).toEqual([200, 200, 202]);
    const hashes = await Promise.all(answers.map(async (answer) => ((await answer.json()) as Started).item.deployment_hash));
    expect(new Set(hashes).size).toBe(1);
  });

  it('reuses the project’s server row instead of adding one per deploy; saves the cloud only with save_token', async () => {
    const project = await createProjectFor(uniqueId('srv'));
    await deploy(project, deployBody);
    await deploy(project, { ...deployBody, server: { ...deployBody.server, region: 'nbg1' }, cloud: { ...deployBody.cloud, save_token: true } });
    const rows = await withDatabase(async (db) => ({
      servers: (await db.execute<{ region: string }>(sql`select region from server where project_id = ${project.id}`)).rows,
      clouds: (await db.execute<{ cloud_token: string }>(sql`select cloud_token from cloud where user_id = ${project.userId}`)).rows,
    }));
    expect(rows.servers).toEqual([{ region: 'nbg1' }]);
    expect(rows.clouds).toHaveLength(1);
    expect(rows.clouds[0]!.cloud_token).not.toContain(CLOUD_TOKEN);
  });

  it('deploys with a saved cloud of the caller, and refuses another user’s project or cloud with 404', async () => {
    const project = await createProjectFor(uniqueId('sv'));
    const cloud = await api('/cloud', jsonRequest('POST', { provider: 'htz', cloud_token: CLOUD_TOKEN, save_token: true }, bearerFor('group_user', project.userId)));
    const cloudId = ((await cloud.json()) as { item: { id: number } }).item.id;
    const started = await deploy(project, { stack: deployBody.stack, server: deployBody.server }, {}, `/project/${project.id}/deploy/${cloudId}`);
    expect(started.status).toBe(202);
    const [delivery] = (await deliveriesOf(started.body.item.deployment_hash, 1)).filter((d) => d.accepted);
    expect(JSON.parse(delivery!.body)).toMatchObject({ cloud_token: CLOUD_TOKEN, save_token: true });

    const stranger = { id: project.id, userId: uniqueId('str') };
    expect((await deploy(stranger, deployBody)).status).toBe(404);
    const strangerProject = await createProjectFor(stranger.userId);
    const viaOtherCloud = await deploy(strangerProject, { stack: deployBody.stack, server: deployBody.server }, {}, `/project/${strangerProject.id}/deploy/${cloudId}`);
    expect(viaOtherCloud.status).toBe(404);
  });

  it('rejects bad bodies with 400 naming the field, and creates nothing', async () => {
    const project = await createProjectFor(uniqueId('bad'));
    const headers = bearerFor('group_user', project.userId);
    const cases: Array<[unknown, string]> = [
      [{ stack: {}, server: {} }, 'body.cloud'],
      [{ stack: {}, server: {}, cloud: { provider: 'h' } }, 'body.cloud.provider'],
      [{ stack: { stack_code: 'x' }, server: {}, cloud: { provider: 'htz' } }, 'body.stack.stack_code'],
      [{ stack: {}, server: { ssh_port: 5 }, cloud: { provider: 'htz' } }, 'body.server.ssh_port'],
      [{ server: {}, cloud: { provider: 'htz' } }, 'body.stack'],
    ];
    for (const [body, path] of cases) {
      const response = await api(`/project/${project.id}/deploy`, jsonRequest('POST', body, headers));
      expect(response.status, path).toBe(400);
      expect(((await response.json()) as { errors: Array<{ path: string }> }).errors.map((e) => e.path), path).toContain(path);
    }
    const list = await api(`/project/${project.id}/deployments`, { headers });
    expect(((await list.json()) as { list: unknown[] }).list).toEqual([]);
  });

  it('the reference deploy fixtures are accepted as they are', async () => {
    for (const body of [deployBodies.deploy, deployBodies.deploy2]) {
      const project = await createProjectFor(uniqueId('fx'));
      expect((await deploy(project, body)).status).toBe(202);
    }
  });
});

describe('progress webhooks', () => {
  async function started() {
    const project = await createProjectFor(uniqueId('wh'));
    const result = await deploy(project, deployBody);
    return { project, deploymentId: result.body.item.deployment_id, hash: result.body.item.deployment_hash };
  }

  it('move the status through each step to completed; a duplicate changes nothing; then it never moves again', async () => {
    const { project, deploymentId, hash } = await started();
    const steps = [
      { status: 'in_progress', progress: '10', message: 'Creating server' },
      { status: 'in_progress', progress: 55, message: 'Installing apps' },
      { status: 'completed', progress: '100', message: 'Done' },
    ];
    for (const [index, step] of steps.entries()) {
      const response = await postProgress({ id: 'job-1', deploy_id: String(deploymentId), alert: 0, ...step }, { messageId: `${hash}-${index}` });
      expect(response.status).toBe(200);
      const status = await statusOf(hash, project.userId);
      expect(status).toMatchObject({ status: step.status, progress: Number(step.progress), message: step.message });
    }
    const duplicate = await postProgress({ id: 'job-1', deploy_id: String(deploymentId), alert: 0, ...steps[2] }, { messageId: `${hash}-2` });
    expect(duplicate.status).toBe(200);
    expect(((await duplicate.json()) as { item: { duplicate: boolean } }).item.duplicate).toBe(true);

    const late = await postProgress({ deployment_hash: hash, status: 'failed', message: 'late' }, { messageId: `${hash}-late` });
    expect(late.status).toBe(409);
    expect(await statusOf(hash, project.userId)).toMatchObject({ status: 'completed', message: 'Done' });
  });

  it('accepts QStash signatures with the current and the next key, matching by deployment_hash', async () => {
    const { project, hash } = await started();
    expect((await postProgress({ deployment_hash: hash, status: 'in_progress', progress: 5 }, { signer: 'upstash-current', messageId: `${hash}-a` })).status).toBe(200);
    expect((await postProgress({ deployment_hash: hash, status: 'paused' }, { signer: 'upstash-next', messageId: `${hash}-b` })).status).toBe(200);
    expect((await statusOf(hash, project.userId)).status).toBe('paused');
  });

  it('refuses a missing or bad signature (401), an unknown deployment (404), a malformed body (400)', async () => {
    const { project, deploymentId, hash } = await started();
    const message = { deploy_id: deploymentId, status: 'failed' };
    expect((await postProgress(message, { signer: 'none' })).status).toBe(401);
    expect((await postProgress(message, { signer: 'wrong' })).status).toBe(401);
    expect((await postProgress({ deploy_id: 2147483000, status: 'failed' })).status).toBe(404);
    expect((await postProgress({ deployment_hash: 'deployment_nope', status: 'failed' })).status).toBe(404);
    for (const bad of [{ deploy_id: deploymentId, status: 'exploded' }, { deploy_id: deploymentId, status: 'failed', progress: '250' }, { status: 'failed' }, { deploy_id: 'abc', status: 'failed' }]) {
      const response = await postProgress(bad);
      expect(response.status, JSON.stringify(bad)).toBe(400);
    }
    expect((await postProgress({}, { raw: '{"deploy_id":' })).status).toBe(400);
    expect((await statusOf(hash, project.userId)).status).toBe('pending');
  });

  const eventCount = async (deploymentId: number) =>
    (await withDatabase((db) => db.execute<{ n: number }>(sql`select count(*)::int as n from deployment_event where deployment_id = ${deploymentId}`))).rows[0]!.n;

  it('a signed body sent again, with another message id and freshly signed, changes nothing (X-Install-Signature and QStash)', async () => {
    const { project, deploymentId, hash } = await started();
    for (const signer of ['install', 'upstash-current'] as const) {
      const body = JSON.stringify({ deploy_id: deploymentId, status: 'in_progress', progress: signer === 'install' ? 30 : 40, message: `via ${signer}` });
      const headers = await progressHeaders(body, { signer, messageId: `${hash}-${signer}-1` });
      const first = await requestAndSettle('/webhooks/install', { method: 'POST', headers, body });
      expect(((await first.json()) as { item: { duplicate: boolean } }).item.duplicate).toBe(false);
      const events = await eventCount(deploymentId);
      // The captured request again, under a new unsigned message id (or with upstash-message-id): nothing moves.
      for (const replay of [
        { ...headers, 'x-install-message-id': `${hash}-${signer}-2` },
        { ...headers, 'upstash-message-id': `msg_${crypto.randomUUID()}` },
        await progressHeaders(body, { signer, messageId: `${hash}-${signer}-3`, t: Math.floor(Date.now() / 1000) - 5 }),
      ]) {
        const response = await requestAndSettle('/webhooks/install', { method: 'POST', headers: replay, body });
        expect(response.status).toBe(200);
        expect(((await response.json()) as { item: { duplicate: boolean } }).item.duplicate).toBe(true);
      }
      expect(await eventCount(deploymentId)).toBe(events);
    }
    // A later state still moves it.
    expect((await postProgress({ deploy_id: deploymentId, status: 'paused' })).status).toBe(200);
    expect((await statusOf(hash, project.userId)).status).toBe('paused');
  });

  it('X-Install-Signature is t=<unix seconds>,v1=<hex HMAC of "t.body">: a t more than 300 s away and the old sha256= form are refused', async () => {
    const { project, deploymentId, hash } = await started();
    const body = JSON.stringify({ deploy_id: deploymentId, status: 'in_progress', progress: 7 });
    const send = (signature: string) => requestAndSettle('/webhooks/install', { method: 'POST', headers: { 'content-type': 'application/json', 'x-install-signature': signature }, body });
    const secret = env.INSTALL_WEBHOOK_SECRET;
    // Each signature is made just before it is sent, from the clock then: on a loaded machine the
    // requests before it can take seconds, and a t made at the test's start drifts toward the window.
    // Ahead by 305, not 301: the request itself may take a few seconds to be read.
    const refusals: Array<[string, (now: number) => Promise<string>, RegExp]> = [
      ['old form', async () => `sha256=${await hmacSha256Hex(secret, new TextEncoder().encode(body))}`, /must be t=<unix seconds>,v1=/],
      ['301 s old', (now) => installSignature(secret, body, now - 301), /more than 300 s from the server clock/],
      ['305 s ahead', (now) => installSignature(secret, body, now + 305), /more than 300 s from the server clock/],
      ['another t than signed', async (now) => (await installSignature(secret, body, now)).replace(`t=${now}`, `t=${now - 1}`), /^Invalid X-Install-Signature$/],
      ['no t', async () => `v1=${'a'.repeat(64)}`, /must be t=<unix seconds>,v1=/],
    ];
    for (const [name, signatureAt, message] of refusals) {
      const response = await send(await signatureAt(Math.floor(Date.now() / 1000)));
      expect(response.status, name).toBe(401);
      expect(((await response.json()) as { message: string }).message, name).toMatch(message);
    }
    expect((await statusOf(hash, project.userId)).status).toBe('pending');
    expect((await send(await installSignature(secret, body, Math.floor(Date.now() / 1000) - 250))).status).toBe(200);
  });

  it('a QStash signature must name this webhook\'s URL', async () => {
    const { project, deploymentId, hash } = await started();
    const response = await postProgress({ deploy_id: deploymentId, status: 'failed' }, { signer: 'upstash-current', url: 'https://elsewhere.example/webhooks/install' });
    expect(response.status).toBe(401);
    expect((await statusOf(hash, project.userId)).status).toBe('pending');
  });

  it('checks X-Install-Signature over the bytes as sent: a signed body that is not UTF-8 is malformed (400), not unsigned (401)', async () => {
    const { project, deploymentId, hash } = await started();
    const json = new TextEncoder().encode(JSON.stringify({ deploy_id: deploymentId, status: 'failed' }));
    const body = Uint8Array.of(...json, 0xff);
    const response = await requestAndSettle('/webhooks/install', { method: 'POST', headers: { 'content-type': 'application/json', 'x-install-signature': await installSignature(env.INSTALL_WEBHOOK_SECRET, body) }, body });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { message: string }).message).toBe('Malformed JSON in request body');
    expect((await statusOf(hash, project.userId)).status).toBe('pending');
  });
});

describe('deployment status, cancel and the watchdog', () => {
  it('status by hash or id for the owner; 404 for another user; 400 without exactly one key', async () => {
    const project = await createProjectFor(uniqueId('st'));
    const { body } = await deploy(project, deployBody);
    const headers = bearerFor('group_user', project.userId);
    const byId = await api(`/project/deploy/status?deployment_id=${body.item.deployment_id}`, { headers });
    expect(((await byId.json()) as { item: { deployment_hash: string } }).item.deployment_hash).toBe(body.item.deployment_hash);
    expect((await api(`/project/deploy/status?deployment_id=${body.item.deployment_id}`, { headers: bearerFor('group_user', uniqueId('o')) })).status).toBe(404);
    expect((await api('/project/deploy/status', { headers })).status).toBe(400);
    expect((await api(`/project/deploy/status?deployment_id=1&deployment_hash=x`, { headers })).status).toBe(400);
    expect((await api(`/project/deploy/status?deployment_id=1&wait=60`, { headers })).status).toBe(400);
    const list = await api(`/project/${project.id}/deployments`, { headers });
    expect(((await list.json()) as { list: Array<{ id: number }> }).list.map((d) => d.id)).toEqual([body.item.deployment_id]);
  });

  it('?wait answers as soon as the status changes (since = the updated_at the caller has)', async () => {
    const project = await createProjectFor(uniqueId('wait'));
    const { body } = await deploy(project, deployBody);
    const headers = bearerFor('group_user', project.userId);
    const before = (await (await api(`/project/deploy/status?deployment_hash=${body.item.deployment_hash}`, { headers })).json()) as { item: { updated_at: string } };
    const waiting = api(`/project/deploy/status?deployment_hash=${body.item.deployment_hash}&wait=25&since=${encodeURIComponent(before.item.updated_at)}`, { headers });
    const response = await postProgress({ deploy_id: body.item.deployment_id, status: 'in_progress', progress: 30, message: 'Provisioning' }, { messageId: `${body.item.deployment_hash}-w` });
    expect(response.status).toBe(200);
    const answered = (await (await waiting).json()) as { item: { status: string; progress: number } };
    expect(answered.item).toMatchObject({ status: 'in_progress', progress: 30 });
  });

  it('?wait with no change answers the unchanged status when the wait ends', async () => {
    const project = await createProjectFor(uniqueId('idle'));
    const { body } = await deploy(project, deployBody);
    const response = await api(`/project/deploy/status?deployment_hash=${body.item.deployment_hash}&wait=1`, { headers: bearerFor('group_user', project.userId) });
    expect(((await response.json()) as { item: { status: string } }).item.status).toBe('pending');
  });

  it('cancels a pending deployment whose job never left: the job is withdrawn', async () => {
    const project = await createProjectFor(uniqueId('cp'));
    const { deploymentId, hash } = await withDatabase(async (db) => {
      const hash = `deployment_${crypto.randomUUID()}`;
      const row = await db.execute<{ id: number }>(sql`insert into deployment (project_id, metadata, status, deployment_hash, user_id, deadline_at)
        values (${project.id}, '{}', 'pending', ${hash}, ${project.userId}, now() + interval '1 hour') returning id`);
      const id = row.rows[0]!.id;
      await db.execute(sql`insert into deploy_outbox (deployment_id, kind, deduplication_id, payload_sealed) values (${id}, 'deploy', ${`deploy-${id}`}, 'sealed')`);
      return { deploymentId: id, hash };
    });
    // The database is shared with files that run the cron: one could claim the job between its insert
    // and the cancel (it then counts as maybe sent). The job is held with FOR SHARE, which the cron's
    // FOR UPDATE SKIP LOCKED passes over, until the cancel waits for it; the cancel then gets it first.
    const cancelling = await withDatabase((db) =>
      db.transaction(async (tx) => {
        await tx.execute(sql`select id from deploy_outbox where deployment_id = ${deploymentId} for share`);
        const holder = (await tx.execute<{ pid: number }>(sql`select pg_backend_pid() as pid`)).rows[0]!.pid;
        const cancel = requestAndSettle(`/project/${project.id}/deployments/${deploymentId}/cancel`, { method: 'POST', headers: bearerFor('group_user', project.userId) });
        await vi.waitFor(
          async () => {
            const waiting = await withDatabase((other) => other.execute<{ n: number }>(sql`select count(*)::int as n from pg_stat_activity where ${holder} = any(pg_blocking_pids(pid))`));
            expect(waiting.rows[0]!.n).toBe(1);
          },
          { timeout: 15_000, interval: 20 },
        );
        return { cancel };
      }),
    );
    const response = await cancelling.cancel;
    expect(response.status).toBe(200);
    expect(((await response.json()) as { item: { status: string } }).item.status).toBe('cancelled');
    expect(await outboxOf(deploymentId)).toEqual([]);
    expect(await deliveriesOf(hash)).toEqual([]);
  });

  it('cancels a running deployment and tells the install service; it then never moves again', async () => {
    const project = await createProjectFor(uniqueId('cr'));
    const { body } = await deploy(project, deployBody);
    const { deployment_id: deploymentId, deployment_hash: hash } = body.item;
    await postProgress({ deploy_id: deploymentId, status: 'in_progress', progress: 20 }, { messageId: `${hash}-r` });
    const response = await requestAndSettle(`/project/${project.id}/deployments/${deploymentId}/cancel`, { method: 'POST', headers: bearerFor('group_user', project.userId) });
    expect(response.status).toBe(200);
    const cancelJob = (await deliveriesOf(hash, 2)).find((d) => d.headers['x-stacker-job'] === 'cancel');
    expect(JSON.parse(cancelJob!.body)).toMatchObject({ action: 'cancel', deployment_id: deploymentId, deployment_hash: hash });
    expect((await postProgress({ deploy_id: deploymentId, status: 'completed' }, { messageId: `${hash}-after` })).status).toBe(409);
    const again = await requestAndSettle(`/project/${project.id}/deployments/${deploymentId}/cancel`, { method: 'POST', headers: bearerFor('group_user', project.userId) });
    expect(again.status).toBe(409);
    const stranger = await api(`/project/${project.id}/deployments/${deploymentId}/cancel`, { method: 'POST', headers: bearerFor('group_user', uniqueId('x')) });
    expect(stranger.status).toBe(404);
  });

  it('the watchdog moves a deployment past its deadline to timed_out', async () => {
    const project = await createProjectFor(uniqueId('wd'));
    const { body } = await deploy(project, deployBody);
    await withDatabase((db) => db.execute(sql`update deployment set deadline_at = now() - interval '1 second' where id = ${body.item.deployment_id}`));
    await runScheduledJobs(env as never);
    expect((await statusOf(body.item.deployment_hash, project.userId)).status).toBe('timed_out');
    expect((await postProgress({ deploy_id: body.item.deployment_id, status: 'completed' })).status).toBe(409);
  });

  it('the watchdog withdraws the job of a timed-out deployment that never left the outbox', async () => {
    const project = await createProjectFor(uniqueId('wdq'));
    const { body } = await deploy(project, deployBody, { QSTASH_TOKEN, QSTASH_URL: 'http://127.0.0.1:9' });
    expect(await outboxOf(body.item.deployment_id)).toHaveLength(1);
    await withDatabase((db) => db.execute(sql`update deployment set deadline_at = now() - interval '1 second' where id = ${body.item.deployment_id}`));
    await runScheduledJobs({ ...env, QSTASH_TOKEN } as never);
    expect((await statusOf(body.item.deployment_hash, project.userId)).status).toBe('timed_out');
    expect(await outboxOf(body.item.deployment_id)).toEqual([]);
  });

  it('answers 503 naming the missing delivery setting before creating anything', async () => {
    const project = await createProjectFor(uniqueId('cfg'));
    // The install-service engine chosen without its address (unset, the built-in engine would deploy).
    const started = await deploy(project, deployBody, { INSTALL_SERVICE_URL: undefined, DEPLOY_ENGINE: 'install-service' });
    expect(started.status).toBe(503);
    expect(started.body.message).toMatch(/INSTALL_SERVICE_URL is not set/);
    const list = await api(`/project/${project.id}/deployments`, { headers: bearerFor('group_user', project.userId) });
    expect(((await list.json()) as { list: unknown[] }).list).toEqual([]);
  });
});
