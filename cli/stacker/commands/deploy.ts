// stacker deploy and what follows a deploy: status, logs, deployments, servers, clouds, cancel.
// deploymentOf is also the agent group's way to the deployment.
import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import type { DeploymentView } from '../../../functions/services/deployments.ts';
import type { Api } from '../api.ts';
import { eventLine, followEvents, type DeploymentEvent } from '../follow.ts';
import { CliError, EXIT } from '../output.ts';
import { projectOf, push, type Project } from './project.ts';
import { globals, loadFile, withExamples, withRetry, type CommandDeps } from './shared.ts';

export type Deployment = DeploymentView;

export async function deploymentOf(api: Api, project: Project, wanted?: string): Promise<Deployment> {
  const list = (await api.get<Deployment>(`/project/${project.id}/deployments`)).list ?? [];
  const found = wanted ? list.find((d) => String(d.id) === wanted || d.deployment_hash === wanted) : list[0];
  if (!found) {
    throw new CliError(wanted ? `project "${project.name}" has no deployment ${wanted}: see \`stacker deployments\`` : `project "${project.name}" has not been deployed yet: run \`stacker deploy\``);
  }
  return found;
}

interface Cloud {
  id: number;
  provider: string;
  cloud_token: string | null;
  created_at: string;
}

async function cloudOf(api: Api, wanted: string): Promise<Cloud> {
  const clouds = (await api.get<Cloud>('/cloud')).list ?? [];
  const byId = clouds.find((cloud) => String(cloud.id) === wanted);
  if (byId) return byId;
  const byProvider = clouds.filter((cloud) => cloud.provider === wanted);
  if (byProvider.length === 1) return byProvider[0]!;
  if (byProvider.length > 1) throw new CliError(`${byProvider.length} saved clouds are "${wanted}" (ids ${byProvider.map((c) => c.id).join(', ')}): pass --cloud <id>`, EXIT.usage);
  throw new CliError(`no saved cloud "${wanted}": see \`stacker clouds\`; add one in the dashboard (Cloud keys)`, EXIT.usage);
}

async function followAndExit(api: Api, projectId: number, deployment: { id: number }, json: boolean, after = 0): Promise<void> {
  const result = await followEvents(api, projectId, deployment.id, { json, after });
  if (result.status === 'completed') {
    if (!json) process.stdout.write(`Deployment ${deployment.id} completed\n`);
    return;
  }
  throw new CliError(`deployment ${deployment.id} ended ${result.status}: ${result.reason ?? 'no reason given'}`, EXIT.failed);
}

export function registerDeployCommands(program: Command, { apiFor, printJson, printTable, progressBar }: CommandDeps): void {
  withExamples(
    program
      .command('deploy')
      .description('push stacker.yml, then deploy the project to a saved cloud (with an Idempotency-Key)')
      .option('--cloud <id|provider>', 'the saved cloud (default: deploy.cloud of stacker.yml)')
      .option('--server <type>', 'the server type (overrides deploy.server.server; locally "local-fail" makes the stand-in fail)')
      .option('--follow', 'follow the deployment to its end: exit 0 on completed, 1 otherwise')
      .option('--idempotency-key <key>', 'the same key again answers the deployment it started (default: a new one)')
      .option('--json', 'the deployment (and with --follow, each event) as JSON')
      .action(async (options: { cloud?: string; server?: string; follow?: boolean; idempotencyKey?: string; json?: boolean }, command: Command) => {
        const opts = globals(command);
        const { file } = loadFile(opts);
        const api = apiFor(opts);
        const wanted = options.cloud ?? (file.deploy?.cloud === undefined ? undefined : String(file.deploy.cloud));
        if (!wanted) throw new CliError('which cloud? pass --cloud <id|provider> or set deploy.cloud in stacker.yml (see `stacker clouds`)', EXIT.usage);
        const cloud = await cloudOf(api, wanted);
        const { project } = await push(api, file);
        const server = { ...file.deploy?.server, ...(options.server && { server: options.server }) };
        const key = options.idempotencyKey ?? randomUUID();
        const answer = await withRetry(() =>
          api.post<{ deployment_id: number; deployment_hash: string; status: string }>(
            `/project/${project.id}/deploy/${cloud.id}`,
            { stack: { stack_code: file.name }, server },
            { headers: { 'idempotency-key': key } },
          ),
        );
        const started = answer.item!;
        if (options.json && !options.follow) return printJson({ project_id: project.id, ...started });
        if (!options.json) process.stdout.write(`Deployment ${started.deployment_id} of "${project.name}" to ${cloud.provider} (cloud ${cloud.id}): ${started.status} (${started.deployment_hash})\n`);
        if (options.follow) await followAndExit(api, project.id, { id: started.deployment_id }, Boolean(options.json));
      }),
    'stacker deploy --cloud htz --follow',
    'stacker deploy --cloud 3 --server cx22',
  );

  withExamples(
    program
      .command('status')
      .description('the project\'s latest deployment (or --deployment)')
      .option('--project <id|name>', 'another project than stacker.yml\'s')
      .option('--deployment <id|hash>', 'a deployment of the project')
      .option('--json', 'as JSON')
      .action(async (options: { project?: string; deployment?: string; json?: boolean }, command: Command) => {
        const opts = { ...globals(command), ...options };
        const api = apiFor(opts);
        const project = await projectOf(api, opts);
        const deployment = await deploymentOf(api, project, options.deployment);
        if (options.json) return printJson(deployment);
        process.stdout.write(
          `Project "${project.name}" (id ${project.id}), deployment ${deployment.id} (${deployment.deployment_hash}):\n  ${deployment.status} ${progressBar(deployment.progress ?? 0)} ${deployment.message ?? ''}\n  updated ${deployment.updated_at}\n`,
        );
      }),
    'stacker status',
    'stacker status --json',
  );

  withExamples(
    program
      .command('logs')
      .description('the deployment\'s event log (install progress, agent, commands); --follow waits for more')
      .option('--project <id|name>', 'another project than stacker.yml\'s')
      .option('--deployment <id|hash>', 'a deployment of the project (default: the latest)')
      .option('--follow', 'keep following until the deployment ends')
      .option('--after <seq>', 'start after this event number', '0')
      .option('--json', 'one JSON event per line')
      .action(async (options: { project?: string; deployment?: string; follow?: boolean; after: string; json?: boolean }, command: Command) => {
        const opts = { ...globals(command), ...options };
        const api = apiFor(opts);
        const project = await projectOf(api, opts);
        const deployment = await deploymentOf(api, project, options.deployment);
        if (options.follow) return followAndExit(api, project.id, deployment, Boolean(options.json), Number(options.after));
        let after = Number(options.after);
        for (;;) {
          const answer = await api.get<DeploymentEvent>(`/project/${project.id}/deployments/${deployment.id}/events?after=${after}`);
          for (const event of answer.list ?? []) process.stdout.write(options.json ? `${JSON.stringify(event)}\n` : `${eventLine(event)}\n`);
          const meta = answer.meta as { last_seq: number; latest_seq: number };
          if (meta.last_seq >= meta.latest_seq || meta.last_seq === after) break;
          after = meta.last_seq;
        }
      }),
    'stacker logs',
    'stacker logs --follow',
    'stacker logs --json | jq .message',
  );

  withExamples(
    program
      .command('deployments')
      .description('the project\'s deployments, newest first')
      .option('--project <id|name>', 'another project than stacker.yml\'s')
      .option('--json', 'as JSON')
      .action(async (options: { project?: string; json?: boolean }, command: Command) => {
        const opts = { ...globals(command), ...options };
        const api = apiFor(opts);
        const project = await projectOf(api, opts);
        const list = (await api.get<Deployment>(`/project/${project.id}/deployments`)).list ?? [];
        if (options.json) return printJson(list);
        printTable(['ID', 'STATUS', 'PROGRESS', 'UPDATED', 'HASH', 'MESSAGE'], list.map((d) => [d.id, d.status, d.progress === null ? '' : `${d.progress}%`, d.updated_at, d.deployment_hash, d.message]));
      }),
    'stacker deployments',
  );
  withExamples(
    program
      .command('servers')
      .description('your servers')
      .option('--json', 'as JSON')
      .action(async (options: { json?: boolean }, command: Command) => {
        const list = (await apiFor(globals(command)).get<Record<string, unknown>>('/server')).list ?? [];
        if (options.json) return printJson(list);
        printTable(['ID', 'PROJECT', 'REGION', 'SERVER', 'OS', 'IP'], list.map((s) => [s.id, s.project_id, s.region, s.server, s.os, s.srv_ip] as Array<string | number | null>));
      }),
    'stacker servers',
  );
  withExamples(
    program
      .command('clouds')
      .description('your saved clouds (credentials masked)')
      .option('--json', 'as JSON')
      .action(async (options: { json?: boolean }, command: Command) => {
        const list = (await apiFor(globals(command)).get<Cloud>('/cloud')).list ?? [];
        if (options.json) return printJson(list);
        printTable(['ID', 'PROVIDER', 'TOKEN', 'CREATED'], list.map((c) => [c.id, c.provider, c.cloud_token, c.created_at]));
      }),
    'stacker clouds',
  );
  withExamples(
    program
      .command('cancel')
      .description('cancel the project\'s running deployment (or --deployment)')
      .option('--project <id|name>', 'another project than stacker.yml\'s')
      .option('--deployment <id|hash>', 'a deployment of the project (default: the latest)')
      .option('--json', 'the cancelled deployment as JSON')
      .action(async (options: { project?: string; deployment?: string; json?: boolean }, command: Command) => {
        const opts = { ...globals(command), ...options };
        const api = apiFor(opts);
        const project = await projectOf(api, opts);
        const deployment = await deploymentOf(api, project, options.deployment);
        const cancelled = (await api.post<Deployment>(`/project/${project.id}/deployments/${deployment.id}/cancel`, {})).item!;
        if (options.json) return printJson(cancelled);
        process.stdout.write(`Deployment ${cancelled.id}: ${cancelled.status}\n`);
      }),
    'stacker cancel',
  );
}
