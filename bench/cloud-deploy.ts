// The built-in engine creating servers in users' clouds, many at once: N deployments to Hetzner Cloud and
// DigitalOcean (half each by default), each with its own cloud account and saved key, against the
// providers' stand-ins (scripts/stand-ins/hetzner.ts, digitalocean.ts: the providers' paths, bodies,
// statuses, labels/tags and pagination), run in this process. A created server "boots" after --boot-ms;
// then what its cloud-init would do: the install command's exchange (POST /install/{secret}/enroll,
// the secret read from the server's user data) and the agent it starts (the agent stand-in of
// `npm run try-server`, in this process). Then every deployment is removed (DELETE), which takes the
// stack down and deletes the server.
// Counted: deployments not completed (stuck), servers created more than once for a deployment, servers
// left undeleted after the removals, and the provider calls each deployment made (one account each, so
// the stand-in's request log of that account is that deployment's calls), for the deploy and for the
// removal.
//   node bench/cloud-deploy.ts [--deployments 100] [--providers htz,do] [--boot-ms 3000] [--deadline 300]
//                              [--host wrangler|miniflare] [--code-from DIR]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { runcmdOf } from '../functions/services/deploy-engine/cloud-init.ts';
import { runAgentStandIn, type AgentStandInHandle } from '../scripts/stand-ins/agent.ts';
import type { CloudStandIn, StandInServer } from '../scripts/stand-ins/cloud.ts';
import { startDigitalOceanStandIn } from '../scripts/stand-ins/digitalocean.ts';
import { startHetznerStandIn } from '../scripts/stand-ins/hetzner.ts';
import { eachLimited, percentile, shellQuote, sleep } from './lib/measure.ts';
import { describeHost, machine, RATE_LIMITS_OFF, startService, type WorkerHost } from './lib/service.ts';

const OWNER = 'benchcloudowner';
const OWNER_HEADERS = { authorization: `Bearer user-group_user-${OWNER}`, 'content-type': 'application/json' };
const CHOICES = {
  htz: { server: 'cx23', region: 'fsn1', os: 'ubuntu-24.04' },
  do: { server: 's-1vcpu-1gb', region: 'fra1', os: 'ubuntu-24-04-x64' },
} as const;
type Provider = keyof typeof CHOICES;

function settings() {
  const usage = 'usage: node bench/cloud-deploy.ts [--deployments n] [--providers htz,do] [--boot-ms ms] [--deadline s] [--host wrangler|miniflare] [--code-from dir]';
  try {
    const { values } = parseArgs({
      options: {
        deployments: { type: 'string' },
        providers: { type: 'string' },
        'boot-ms': { type: 'string' },
        deadline: { type: 'string' },
        host: { type: 'string' },
        'code-from': { type: 'string' },
      },
    });
    const deployments = Number(values.deployments ?? 100);
    const providers = (values.providers ?? 'htz,do').split(',') as Provider[];
    const bootMs = Number(values['boot-ms'] ?? 3000);
    const deadline = Number(values.deadline ?? 300);
    const host = (values.host ?? 'wrangler') as WorkerHost;
    if ([deployments, deadline].every((n) => Number.isInteger(n) && n > 0) && Number.isInteger(bootMs) && bootMs >= 0 && providers.every((p) => p in CHOICES) && ['wrangler', 'miniflare'].includes(host)) {
      return { deployments, providers, bootMs, deadline, host, codeFrom: values['code-from'] };
    }
    console.error(`${usage} (whole numbers; providers among htz, do)`);
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : String(error)}\n${usage}`);
  }
  process.exit(2);
}
const { deployments: count, providers, bootMs, deadline, host, codeFrom } = settings();
const command = ['node bench/cloud-deploy.ts', ...process.argv.slice(2).map(shellQuote)].join(' ');

function projectForm(name: string) {
  const web = { _id: 'web', name: 'web', code: 'web', type: 'web', dockerhub_name: 'nginx:1.27', restart: 'always', custom: true, shared_ports: [{ host_port: '8080', container_port: '80' }], environment: [], volumes: [], network: [] };
  return { custom: { custom_stack_code: name, project_name: name, web: [web], service: [], feature: [], networks: [] } };
}

async function api<T>(base: string, path: string, init: { method?: string; body?: unknown } = {}): Promise<{ status: number; body: T }> {
  const response = await fetch(`${base}${path}`, { method: init.method ?? 'GET', headers: OWNER_HEADERS, body: init.body === undefined ? undefined : JSON.stringify(init.body) });
  return { status: response.status, body: (await response.json()) as T };
}

interface Deployment {
  index: number;
  provider: Provider;
  token: string;
  projectId: number;
  cloudId: number;
  deploymentId?: number;
  startedAt?: number;
  /** Provider calls when the deployment completed (the removal's come after). */
  deployCalls?: number;
}

const table = (label: string, values: number[], unit: string) =>
  `| ${label} | ${values.length}/${count} | ${percentile(values, 50)}${unit} | ${percentile(values, 99)}${unit} | ${values.length ? Math.max(...values) : '-'}${unit} | ${values.length ? Math.min(...values) : '-'}${unit} |`;

async function main(): Promise<number> {
  const machineLine = machine();
  console.error(`[bench] cloud-deploy: ${count} deployments at once (${providers.join(', ')}), servers boot after ${bootMs} ms, ${describeHost(host)}, deadline ${deadline} s`);
  const roots = mkdtempSync(join(tmpdir(), 'stacker-bench-cloud-'));
  const agents: AgentStandInHandle[] = [];
  const problems: string[] = [];
  let base = '';
  // A created server boots, then runs its user data's install command: the enrollment, then its agent.
  const boot = async (server: StandInServer) => {
    await sleep(bootMs + 100);
    const secret = /\/install\/([A-Za-z0-9_-]+)'/.exec(runcmdOf(server.userData)[0] ?? '')?.[1];
    if (!secret) return void problems.push(`server ${server.name}: no install command in its user data`);
    let answer = await fetch(`${base}/install/${secret}/enroll`, { method: 'POST' });
    for (let attempt = 1; answer.status === 503 && attempt <= 5; attempt++) {
      await sleep(2000);
      answer = await fetch(`${base}/install/${secret}/enroll`, { method: 'POST' });
    }
    const text = await answer.text();
    if (answer.status !== 200) return void problems.push(`server ${server.name}: enrollment answered ${answer.status}: ${text.slice(0, 160)}`);
    const env = Object.fromEntries(text.trim().split('\n').map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
    agents.push(runAgentStandIn({ env: { ...env, COMPOSE_PROJECT_DIR: `/home/trydirect/${env.DEPLOYMENT_HASH}`, STACKER_INSTALL_ROOT: join(roots, String(server.id)) }, log: () => undefined }));
  };
  const hooks = { token: `bench-${crypto.randomUUID()}`, bootAfterMs: bootMs, onServerCreated: (server: StandInServer) => void boot(server) };
  const standIns: Record<Provider, CloudStandIn> = { htz: await startHetznerStandIn(hooks), do: await startDigitalOceanStandIn(hooks) };
  const service = await startService(
    'bench_cloud_deploy',
    { ...RATE_LIMITS_OFF, DEPLOY_ENGINE: 'builtin', DOCKERHUB_CHECK: 'off', HETZNER_API_URL: standIns.htz.apiUrl, DIGITALOCEAN_API_URL: standIns.do.apiUrl },
    { ...(codeFrom ? { codeFrom } : { snapshot: true }), host, privatePostgres: { max_connections: 1000 } },
  );
  base = service.baseUrl;
  const deployments: Deployment[] = [];
  const toCompleted: number[] = [];
  const deployCalls: number[] = [];
  const removeCalls: number[] = [];
  const creates: number[] = [];
  let statuses: Record<string, number> = {};
  let removedStatuses: Record<string, number> = {};
  let completedAfter = Number.NaN;
  let removedAfter = Number.NaN;
  const client = new pg.Client({ connectionString: service.databaseUrl });
  try {
    // Accounts, keys and projects first, not timed.
    await eachLimited(Array.from({ length: count }, (_, i) => i), 16, async (index) => {
      const provider = providers[index % providers.length]!;
      const token = `bench-${provider}-${index}-${crypto.randomUUID()}`;
      standIns[provider].addAccount(token);
      const cloud = await api<{ item: { id: number } }>(base, '/cloud', { method: 'POST', body: { provider, cloud_token: token, save_token: true } });
      if (cloud.status !== 201) throw new Error(`POST /cloud answered ${cloud.status}: ${JSON.stringify(cloud.body)}`);
      const project = await api<{ item: { id: number } }>(base, '/project', { method: 'POST', body: projectForm(`bench-cloud-${index}`) });
      if (project.status !== 201) throw new Error(`POST /project answered ${project.status}: ${JSON.stringify(project.body)}`);
      deployments[index] = { index, provider, token, projectId: project.body.item.id, cloudId: cloud.body.item.id };
    });
    await client.connect();
    const statusOf = async (ids: number[]) =>
      Object.fromEntries((await client.query<{ status: string; n: number }>('select status, count(*)::int as n from deployment where id = any($1) group by 1', [ids])).rows.map((row) => [row.status, row.n]));
    const t0 = performance.now();
    const until = t0 + deadline * 1000;
    await Promise.all(
      deployments.map(async (deployment) => {
        deployment.startedAt = performance.now();
        const answer = await api<{ item: { deployment_id: number } }>(base, `/project/${deployment.projectId}/deploy/${deployment.cloudId}`, {
          method: 'POST',
          body: { server: CHOICES[deployment.provider], stack: {} },
        });
        if (answer.status !== 202) return void problems.push(`deploy ${deployment.index}: ${answer.status} ${JSON.stringify(answer.body).slice(0, 200)}`);
        deployment.deploymentId = answer.body.item.deployment_id;
      }),
    );
    const ids = deployments.flatMap((deployment) => (deployment.deploymentId === undefined ? [] : [deployment.deploymentId]));
    // Each deployment's time to completed, and its provider calls then, polled every 250 ms.
    const pending = new Set(deployments.filter((deployment) => deployment.deploymentId !== undefined));
    while (pending.size > 0 && performance.now() < until) {
      const { rows } = await client.query<{ id: number; status: string }>('select id, status from deployment where id = any($1)', [[...pending].map((d) => d.deploymentId)]);
      for (const row of rows) {
        if (!['completed', 'failed', 'cancelled', 'removed'].includes(row.status)) continue;
        const deployment = [...pending].find((d) => d.deploymentId === row.id)!;
        pending.delete(deployment);
        if (row.status === 'completed') toCompleted.push(Math.round(performance.now() - deployment.startedAt!));
        deployment.deployCalls = standIns[deployment.provider].requests(deployment.token).length;
        deployCalls.push(deployment.deployCalls);
        creates.push(standIns[deployment.provider].requests(deployment.token).filter((call) => call.method === 'POST').length);
      }
      if (pending.size > 0) await sleep(250);
    }
    if (pending.size === 0) completedAfter = (performance.now() - t0) / 1000;
    statuses = await statusOf(ids);
    const stuck = await client.query<{ id: number; status: string; message: string | null }>("select id, status, message from deployment where id = any($1) and status <> 'completed' order by id limit 5", [ids]);
    for (const row of stuck.rows) problems.push(`deployment ${row.id}: ${row.status} (${row.message})`);

    // Remove them all at once: stack down, server deleted.
    const r0 = performance.now();
    const removeUntil = r0 + deadline * 1000;
    await Promise.all(
      deployments
        .filter((deployment) => deployment.deploymentId !== undefined)
        .map(async (deployment) => {
          const answer = await api(base, `/project/${deployment.projectId}/deployments/${deployment.deploymentId}`, { method: 'DELETE' });
          if (answer.status !== 202) problems.push(`remove ${deployment.deploymentId}: ${answer.status} ${JSON.stringify(answer.body).slice(0, 200)}`);
        }),
    );
    for (;;) {
      removedStatuses = await statusOf(ids);
      if ((removedStatuses.removed ?? 0) + (removedStatuses.failed ?? 0) + (removedStatuses.cancelled ?? 0) === ids.length || performance.now() > removeUntil) break;
      await sleep(250);
    }
    if ((removedStatuses.removed ?? 0) === ids.length) removedAfter = (performance.now() - r0) / 1000;
    for (const deployment of deployments) {
      if (deployment.deployCalls !== undefined) removeCalls.push(standIns[deployment.provider].requests(deployment.token).length - deployment.deployCalls);
    }
  } finally {
    await client.end().catch(() => undefined);
    await Promise.all(agents.map((agent) => agent.stop()));
    await service.stop();
    await Promise.all(Object.values(standIns).map((standIn) => standIn.close()));
    rmSync(roots, { recursive: true, force: true });
  }

  const servers = deployments.map((deployment) => standIns[deployment.provider].servers(deployment.token));
  const twice = servers.filter((list) => list.length > 1).length;
  const leftRunning = servers.flat().filter((server) => server.deletedAt === null).length;
  const stuck = count - (statuses.completed ?? 0);
  console.log(`Machine: ${machineLine}`);
  console.log(`Command: ${command}`);
  console.log(`Date: ${new Date().toISOString()}`);
  console.log(
    `${count} cloud deployments at once (${providers.map((p) => `${p}: ${deployments.filter((d) => d.provider === p).length}`).join(', ')}), one account and saved key each, ` +
      `against the providers' stand-ins; servers run ${bootMs} ms after their create, then enrol and start an agent stand-in; then all removed at once. ` +
      `Worker: ${describeHost(host)}. Database: ${service.postgres}.\n`,
  );
  console.log(`Deploy: ${JSON.stringify(statuses)}; all ended ${Number.isFinite(completedAfter) ? `${completedAfter.toFixed(1)} s after the first deploy request` : `? (not within ${deadline} s)`}.`);
  console.log(`Remove: ${JSON.stringify(removedStatuses)}; all removed ${Number.isFinite(removedAfter) ? `${removedAfter.toFixed(1)} s after the first DELETE` : `? (not within ${deadline} s)`}.`);
  console.log(`Not completed (stuck or failed): ${stuck}. Deployments with more than one server: ${twice}. Servers left undeleted after the removals: ${leftRunning}.\n`);
  console.log('| measured, per deployment | deployments | p50 | p99 | max | min |');
  console.log('|---|--:|--:|--:|--:|--:|');
  console.log(table('provider calls, deploy request -> completed', deployCalls, ''));
  console.log(table('of which creates (POST)', creates, ''));
  console.log(table('provider calls of the removal', removeCalls, ''));
  console.log(table('deploy request -> completed', toCompleted, ' ms'));
  for (const problem of problems.slice(0, 10)) console.log(`  ${problem}`);
  const bad = stuck + twice + leftRunning;
  if (bad) console.error(`[bench] cloud-deploy: ${stuck} not completed, ${twice} with two servers, ${leftRunning} servers left`);
  return bad ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`[bench] cloud-deploy failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
