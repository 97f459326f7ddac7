// Deployment status wait: how long a status change, reported by the install service's signed webhook,
// takes to reach a dashboard request waiting on GET /project/deploy/status?deployment_hash=H&wait=20.
//   node bench/deploy-wait.ts [--rounds 100] [--settle 500]
//   (or BENCH_ROUNDS, BENCH_SETTLE; settle in milliseconds)
// Each round: the owner's wait request is sent; after --settle ms (so that it is listening on the
// deployment's doorbell, not answered by its first read) POST /webhooks/install moves the status,
// signed with X-Install-Signature and a fresh X-Install-Message-Id. Measured: from the webhook's
// response arriving (and from the webhook being sent) to the waiting request's response arriving.
import { createHmac, randomBytes } from 'node:crypto';
import http from 'node:http';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { ms, percentile, shellQuote, sleep, timedRequest, type TimedResponse } from './lib/measure.ts';
import { machine, startService } from './lib/service.ts';

const WAIT_SECONDS = 20;
const OWNER = 'benchdeployowner';
const OWNER_HEADERS = { authorization: `Bearer user-group_user-${OWNER}` };
/** Statuses the install service reports that do not end a deployment; each round sets the next one. */
const STATUSES = ['in_progress', 'paused', 'wait_resume', 'wait_start', 'confirmed'] as const;

function settings() {
  const usage = 'usage: node bench/deploy-wait.ts [--rounds n] [--settle ms]';
  try {
    const { values } = parseArgs({ options: { rounds: { type: 'string' }, settle: { type: 'string' } } });
    const rounds = Number(values.rounds ?? process.env.BENCH_ROUNDS ?? 100);
    const settle = Number(values.settle ?? process.env.BENCH_SETTLE ?? 500);
    if (Number.isInteger(rounds) && rounds > 0 && Number.isInteger(settle) && settle >= 0) return { rounds, settle };
    console.error(`${usage} (whole numbers; rounds above 0)`);
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : String(error)}\n${usage}`);
  }
  process.exit(2);
}
const { rounds, settle } = settings();
const command = [
  ...['BENCH_ROUNDS', 'BENCH_SETTLE'].flatMap((name) => (process.env[name] ? [`${name}=${process.env[name]}`] : [])),
  'node bench/deploy-wait.ts',
  ...process.argv.slice(2).map(shellQuote),
].join(' ');

interface DeploymentView {
  status: string;
  message: string | null;
  progress: number | null;
}

async function main(): Promise<number> {
  const machineLine = machine();
  console.error(`[bench] deploy-wait: ${rounds} status changes, wait=${WAIT_SECONDS}, settle ${settle} ms`);
  const secret = randomBytes(32).toString('hex');
  const service = await startService('bench_deploy_wait', { INSTALL_WEBHOOK_SECRET: secret }, { snapshot: true });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  const fromResponse: number[] = [];
  const fromSent: number[] = [];
  const webhookRoundTrip: number[] = [];
  const problems: string[] = [];
  let answeredEarly = 0;
  let missed = 0;
  let failures = 0;
  let database = '';
  try {
    database = service.postgres;
    const client = new pg.Client({ connectionString: service.databaseUrl });
    await client.connect();
    let deploymentId: number;
    const deploymentHash = `deployment_benchwait_${randomBytes(6).toString('hex')}`;
    try {
      const project = await client.query<{ id: number }>(
        `insert into project (stack_id, user_id, name, metadata) values (gen_random_uuid(), $1, 'bench-deploy-wait', '{}') returning id`,
        [OWNER],
      );
      const deployment = await client.query<{ id: number }>(
        `insert into deployment (project_id, metadata, status, deployment_hash, user_id, deadline_at)
         values ($1, '{}', 'pending', $2, $3, now() + interval '1 day') returning id`,
        [project.rows[0]!.id, deploymentHash, OWNER],
      );
      deploymentId = deployment.rows[0]!.id;
    } finally {
      await client.end();
    }

    const waitUrl = `${service.baseUrl}/project/deploy/status?deployment_hash=${deploymentHash}&wait=${WAIT_SECONDS}`;
    const webhookUrl = `${service.baseUrl}/webhooks/install`;
    const runId = randomBytes(4).toString('hex');
    // One unmeasured round trip of each first: the introspection cache and the isolate are warm.
    const warm = await timedRequest(agent, `${service.baseUrl}/project/deploy/status?deployment_hash=${deploymentHash}`, { headers: OWNER_HEADERS });
    if (warm.status !== 200) throw new Error(`GET /project/deploy/status answered ${warm.status}: ${warm.body}`);

    for (let round = 1; round <= rounds; round++) {
      const status = STATUSES[round % STATUSES.length]!;
      const message = `bench ${runId} step ${round}`;
      const progress = round % 100;
      let waitAnswer: TimedResponse | undefined;
      const waiting = timedRequest(agent, waitUrl, { headers: OWNER_HEADERS, timeoutMs: (WAIT_SECONDS + 30) * 1000 }).then((response) => (waitAnswer = response));
      await sleep(settle);
      if (waitAnswer) answeredEarly++;

      const body = JSON.stringify({ deploy_id: deploymentId, status, progress, message });
      const t = Math.floor(Date.now() / 1000);
      const signature = `t=${t},v1=${createHmac('sha256', secret).update(`${t}.`).update(body).digest('hex')}`;
      const webhook = await timedRequest(agent, webhookUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-install-signature': signature, 'x-install-message-id': `bench-${runId}-${round}` },
        body,
        timeoutMs: 30_000,
      });
      webhookRoundTrip.push(webhook.doneAt - webhook.sentAt);
      const answer = await waiting;
      const applied = webhook.status === 200 && (JSON.parse(webhook.body) as { item?: { duplicate?: boolean } }).item?.duplicate === false;
      if (!applied || answer.status !== 200) {
        failures++;
        problems.push(`round ${round}: webhook ${webhook.status} ${webhook.body.slice(0, 120)}; wait ${answer.status} ${answer.body.slice(0, 120)}`);
        continue;
      }
      const item = (JSON.parse(answer.body) as { item: DeploymentView }).item;
      if (item.status !== status || item.message !== message) {
        // The wait ended (timeout) without seeing this change.
        missed++;
        problems.push(`round ${round}: the wait answered ${item.status} "${item.message}" after ${(answer.doneAt - answer.sentAt).toFixed(0)} ms`);
        continue;
      }
      fromResponse.push(answer.doneAt - webhook.doneAt);
      fromSent.push(answer.doneAt - webhook.sentAt);
    }
  } finally {
    agent.destroy();
    await service.stop();
  }

  const answeredBeforeWebhook = fromResponse.filter((value) => value < 0).length;
  console.log(`Machine: ${machineLine}`);
  console.log(`Command: ${command}`);
  console.log(`Date: ${new Date().toISOString()}`);
  console.log(
    `GET /project/deploy/status?deployment_hash=H&wait=${WAIT_SECONDS} held by the owner; ${settle} ms later a signed POST /webhooks/install ` +
      `(X-Install-Signature, fresh X-Install-Message-Id) changes the status; ${rounds} rounds, one at a time. ` +
      `Database: ${database}\n`,
  );
  console.log('| measured from | rounds seen | p50 ms | p99 ms | max ms | min ms |');
  console.log('|---|--:|--:|--:|--:|--:|');
  console.log(`| webhook response arrived | ${fromResponse.length}/${rounds} | ${ms(percentile(fromResponse, 50))} | ${ms(percentile(fromResponse, 99))} | ${ms(Math.max(...fromResponse))} | ${ms(Math.min(...fromResponse))} |`);
  console.log(`| webhook request sent | ${fromSent.length}/${rounds} | ${ms(percentile(fromSent, 50))} | ${ms(percentile(fromSent, 99))} | ${ms(Math.max(...fromSent))} | ${ms(Math.min(...fromSent))} |`);
  console.log('');
  console.log(`Webhook round trip: p50 ${ms(percentile(webhookRoundTrip, 50))} ms, p99 ${ms(percentile(webhookRoundTrip, 99))} ms`);
  console.log(`Wait answered before its webhook's response arrived: ${answeredBeforeWebhook}; answered before the webhook was sent: ${answeredEarly}; change not seen: ${missed}; failed rounds: ${failures}`);
  for (const problem of problems.slice(0, 5)) console.log(`  ${problem}`);
  const bad = missed + failures + answeredEarly;
  if (bad) console.error(`[bench] deploy-wait: ${bad} rounds went wrong`);
  return bad ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`[bench] deploy-wait failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
