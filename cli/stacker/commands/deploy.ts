// stacker deploy and what follows a deploy: status, logs, deployments, servers, clouds, cancel.
// deploymentOf is also the agent group's way to the deployment. A deploy goes to a saved cloud (the
// install service) or, with the built-in engine, to the user's own server (`--server own`: the
// answer's install command is printed); a project whose latest deployment is a live built-in one is
// redeployed instead (`--new` starts another).
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { Command } from 'commander';
import type { DeploymentView } from '../../../functions/services/deployments.ts';
import type { Api } from '../api.ts';
import { detailOf, ENDED_STATUSES, followToEnd, isLive, latestSeq, printEngineStatus, printInstallCommand, type DeploymentDetail } from '../deployment.ts';
import { eventLine, type DeploymentEvent } from '../follow.ts';
import { clean, CliError, EXIT, info } from '../output.ts';
import type { StackerFile } from '../stacker-file.ts';
import { findProject, projectOf, push, type Project } from './project.ts';
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

/** GET /cloud/{id}/offers (functions/services/cloud-offers.ts). */
interface CloudOffers {
  types: Array<{ name: string; cores: number; memoryGb: number; diskGb: number; architecture: string | null; currency: string; prices: Array<{ location: string; monthly: number }> }>;
  locations: Array<{ name: string; description: string; country: string | null; city: string | null }>;
  images: Array<{ name: string; description: string; distribution: string; architecture: string | null }>;
}

interface DeployOptions {
  cloud?: string;
  server?: string;
  region?: string;
  os?: string;
  sshKey?: string;
  address?: string;
  new?: boolean;
  follow?: boolean;
  idempotencyKey?: string;
  json?: boolean;
}

/** Where a new deployment goes, from the flags, else stacker.yml: an own server, or a saved cloud. */
interface Target {
  own: boolean;
  /** The own server's address (--address, else deploy.server.srv_ip). */
  address?: string;
  /** The saved cloud (--cloud, else deploy.cloud). */
  cloud?: string;
  /** Named on the command line (not only in stacker.yml). */
  explicit: boolean;
}

const OWN = 'own';

function targetOf(options: DeployOptions, file: StackerFile): Target {
  const fileCloud = file.deploy?.cloud === undefined ? undefined : String(file.deploy.cloud);
  if (options.server === OWN && options.cloud !== undefined && options.cloud !== OWN) {
    throw new CliError(`--server own deploys to a server you already have, --cloud ${options.cloud} to a saved cloud: pass one of them`, EXIT.usage);
  }
  const own = options.server === OWN || options.cloud === OWN || (options.cloud === undefined && fileCloud === OWN);
  if (options.address !== undefined && !own) throw new CliError('--address is the address of your own server: add --server own (or set deploy.cloud: own in stacker.yml)', EXIT.usage);
  const explicit = options.cloud !== undefined || options.server !== undefined || options.address !== undefined;
  if (own) return { own, address: options.address ?? file.deploy?.server?.srv_ip, explicit };
  return { own, cloud: options.cloud ?? fileCloud, explicit };
}

/** The project's latest deployment if it is a built-in one (the one `stacker deploy` would redeploy), else undefined. */
async function latestBuiltin(api: Api, file: StackerFile): Promise<{ project: Project; detail: DeploymentDetail } | undefined> {
  const project = await findProject(api, file.name);
  if (!project) return undefined;
  const latest = ((await api.get<Deployment>(`/project/${project.id}/deployments`)).list ?? [])[0];
  if (!latest) return undefined;
  const detail = await detailOf(api, project.id, latest.id);
  return detail.engine === 'builtin' ? { project, detail } : undefined;
}

/** What `stacker deploy` started, as --json prints it (the first line when following). */
interface Started {
  project_id: number;
  deployment_id: number;
  deployment_hash: string;
  status: string;
  operation: 'deploy' | 'redeploy';
  [field: string]: unknown;
}

async function deploy(api: Api, file: StackerFile, options: DeployOptions): Promise<{ started: Started; after: number }> {
  const target = targetOf(options, file);
  const live = options.new ? undefined : await latestBuiltin(api, file);
  if (live && isLive(live.detail)) {
    const { detail } = live;
    const where = detail.server_address ?? 'its server';
    if (target.explicit && (!target.own || (options.address !== undefined && options.address !== detail.server_address))) {
      throw new CliError(`deployment ${detail.id} of "${file.name}" is live on ${where}: \`stacker deploy\` redeploys it there; pass --new to start another deployment`, EXIT.usage);
    }
    const { project } = await push(api, file);
    const after = await latestSeq(api, project.id, detail.id);
    const answer = (await api.post<{ deployment_id: number; deployment_hash: string; operation_id: number; revision: number | null }>(`/project/${project.id}/deployments/${detail.id}/redeploy`, undefined)).item!;
    const started: Started = { project_id: project.id, ...answer, status: 'in_progress', operation: 'redeploy', server_address: detail.server_address };
    if (!options.json) {
      process.stdout.write(`Deployment ${detail.id} of "${project.name}" is live on ${clean(where)} (revision ${detail.current_revision}): redeploying it as revision ${answer.revision} (\`stacker deploy --new\` starts another deployment)\n`);
    }
    return { started, after };
  }
  if (live && !ENDED_STATUSES.has(live.detail.status)) {
    const { detail } = live;
    throw new CliError(
      `deployment ${detail.id} of "${file.name}" is still ${clean(detail.status)} (${clean(detail.message ?? 'no message')}): follow it with \`stacker logs --follow\` (\`stacker status\` shows its install command), stop it with \`stacker cancel\`, or pass --new`,
    );
  }
  const key = options.idempotencyKey ?? randomUUID();
  if (target.own) {
    if (!target.address) throw new CliError('which server? pass --address <ip> (your server\'s public address) or set deploy.server.srv_ip in stacker.yml', EXIT.usage);
    if (!isIP(target.address)) throw new CliError(`--address "${target.address}" is not an IPv4 or IPv6 address`, EXIT.usage);
    const { project } = await push(api, file);
    const server = { ...file.deploy?.server, srv_ip: target.address };
    const answer = await withRetry(() =>
      api.post<{ deployment_id: number; deployment_hash: string; status: string; install_command?: string }>(
        `/project/${project.id}/deploy`,
        { cloud: { provider: OWN }, server, stack: { stack_code: file.name } },
        { headers: { 'idempotency-key': key } },
      ),
    );
    const item = answer.item!;
    const expires = item.install_command ? (await detailOf(api, project.id, item.deployment_id)).install_command_expires_at : null;
    const started: Started = { project_id: project.id, ...item, operation: 'deploy', server_address: target.address, install_command: item.install_command ?? null, install_command_expires_at: expires };
    if (!options.json) {
      process.stdout.write(`Deployment ${item.deployment_id} of "${project.name}" to your own server at ${target.address}: ${clean(item.status)} (${item.deployment_hash})\n`);
      if (item.install_command) printInstallCommand(item.install_command, expires);
    }
    return { started, after: 0 };
  }
  if (!target.cloud) throw new CliError('where to? pass --server own --address <ip> (a server you have), or --cloud <id|provider> (a saved cloud: see `stacker clouds`), or set deploy.cloud in stacker.yml', EXIT.usage);
  const cloud = await cloudOf(api, target.cloud);
  const { project } = await push(api, file);
  const sshKey = options.sshKey === undefined ? undefined : sshPublicKeyOf(options.sshKey);
  const server = {
    ...file.deploy?.server,
    ...(options.server && { server: options.server }),
    ...(options.region && { region: options.region }),
    ...(options.os && { os: options.os }),
    ...(sshKey && { ssh_public_key: sshKey }),
  };
  const answer = await withRetry(() =>
    api.post<{ deployment_id: number; deployment_hash: string; status: string }>(`/project/${project.id}/deploy/${cloud.id}`, { stack: { stack_code: file.name }, server }, { headers: { 'idempotency-key': key } }),
  );
  const item = answer.item!;
  if (!options.json) process.stdout.write(`Deployment ${item.deployment_id} of "${project.name}" to ${cloud.provider} (cloud ${cloud.id}): ${clean(item.status)} (${item.deployment_hash})\n`);
  return { started: { project_id: project.id, ...item, operation: 'deploy' }, after: 0 };
}

/** The first line of an OpenSSH .pub file; a private key is refused here, before it is sent anywhere. */
function sshPublicKeyOf(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new CliError(`--ssh-key ${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : 'cannot be read'}`, EXIT.usage);
  }
  if (/PRIVATE KEY/.test(text)) throw new CliError(`--ssh-key ${path} is a private key: pass the .pub file beside it`, EXIT.usage);
  const line = text.split('\n').map((entry) => entry.trim()).find((entry) => entry !== '');
  if (!line) throw new CliError(`--ssh-key ${path} is empty`, EXIT.usage);
  return line;
}

export function registerDeployCommands(program: Command, { apiFor, printJson, printTable, progressBar }: CommandDeps): void {
  withExamples(
    program
      .command('deploy')
      .description('push stacker.yml, then deploy the project: to your own server (--server own) or a saved cloud; a live deployment of your own server is redeployed')
      .option('--server <type>', '"own": a server you already have (with --address); else the cloud\'s server type (overrides deploy.server.server; locally "local-fail" makes the install-service stand-in fail)')
      .option('--region <location>', 'a new server\'s location (overrides deploy.server.region; see `stacker clouds regions <cloud>`)')
      .option('--os <image>', 'a new server\'s system image (overrides deploy.server.os; see `stacker clouds images <cloud>`)')
      .option('--ssh-key <file>', 'a new server in a cloud: your OpenSSH public key (the .pub file), which may log in as root')
      .option('--address <ip>', 'with --server own: your server\'s public address (default: deploy.server.srv_ip)')
      .option('--cloud <id|provider>', 'the saved cloud (default: deploy.cloud of stacker.yml; "own" as --server own)')
      .option('--new', 'start a new deployment even when the latest one is live (default: redeploy it, as a new revision)')
      .option('--follow', 'follow the deployment to its end: exit 0 on completed, 1 otherwise')
      .option('--idempotency-key <key>', 'the same key again answers the deployment it started (default: a new one)')
      .option('--json', 'what was started as JSON (install_command included); with --follow one object per line: that, each event, the end')
      .action(async (options: DeployOptions, command: Command) => {
        const opts = globals(command);
        const { file } = loadFile(opts);
        const api = apiFor(opts);
        const { started, after } = await deploy(api, file, options);
        const json = Boolean(options.json);
        if (json && !options.follow) return printJson(started);
        if (json) process.stdout.write(`${JSON.stringify(started)}\n`);
        if (options.follow) return followToEnd(api, started.project_id, started.deployment_id, { json, after, summary: true });
        if (!json && (started.operation === 'redeploy' || started.install_command)) info('Follow it with `stacker logs --follow` (or `stacker deploy --follow` next time).');
      }),
    'stacker deploy --server own --address 203.0.113.10 --follow',
    'stacker deploy --follow                 # the project has a live deployment: a new revision on the same server',
    'stacker deploy --new --server own --address 203.0.113.11',
    'stacker deploy --cloud htz --follow',
    'stacker deploy --cloud htz --server cx23 --region fsn1 --os ubuntu-24.04 --follow',
    'stacker deploy --cloud do --server s-1vcpu-1gb --region fra1 --ssh-key ~/.ssh/id_ed25519.pub',
    'stacker deploy --server own --address 203.0.113.10 --json | jq -r .install_command',
  );

  withExamples(
    program
      .command('status')
      .description('the project\'s latest deployment (or --deployment); for your own server also its address, revisions, addresses and, until the agent enrolled, the install command')
      .option('--project <id|name>', 'another project than stacker.yml\'s')
      .option('--deployment <id|hash>', 'a deployment of the project')
      .option('--json', 'as JSON')
      .action(async (options: { project?: string; deployment?: string; json?: boolean }, command: Command) => {
        const opts = { ...globals(command), ...options };
        const api = apiFor(opts);
        const project = await projectOf(api, opts);
        const deployment = await deploymentOf(api, project, options.deployment);
        const detail = await detailOf(api, project.id, deployment.id);
        if (options.json) return printJson(detail);
        process.stdout.write(
          `Project "${project.name}" (id ${project.id}), deployment ${detail.id} (${detail.deployment_hash}):\n  ${clean(detail.status)} ${progressBar(detail.progress ?? 0)} ${clean(detail.message ?? '')}\n  updated ${detail.updated_at}\n`,
        );
        if (detail.engine === 'builtin') printEngineStatus(detail);
      }),
    'stacker status',
    'stacker status --json | jq .addresses',
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
        if (options.follow) return followToEnd(api, project.id, deployment.id, { json: Boolean(options.json), after: Number(options.after) });
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
  const clouds = program
    .command('clouds')
    .description('your saved clouds (credentials masked); `clouds types|regions|images <cloud>`: what a Hetzner Cloud or DigitalOcean key can create')
    .option('--json', 'as JSON')
    .action(async (options: { json?: boolean }, command: Command) => {
      const list = (await apiFor(globals(command)).get<Cloud>('/cloud')).list ?? [];
      if (options.json) return printJson(list);
      printTable(['ID', 'PROVIDER', 'TOKEN', 'CREATED'], list.map((c) => [c.id, c.provider, c.cloud_token, c.created_at]));
    });
  withExamples(clouds, 'stacker clouds', 'stacker clouds types htz', 'stacker clouds regions 3 --json');
  // `--json` after the subcommand is read by `clouds` too (commander gives a parent's option to the parent).
  const offersOf = async (command: Command, wanted: string): Promise<CloudOffers> => {
    const api = apiFor(globals(command));
    const cloud = await cloudOf(api, wanted);
    return (await api.get<CloudOffers>(`/cloud/${cloud.id}/offers`)).item!;
  };
  clouds
    .command('types <cloud>')
    .description('the server types the saved cloud (id or provider) can create: cores, memory, disk, monthly price and where')
    .option('--json', 'as JSON')
    .action(async (wanted: string, options: { json?: boolean }, command: Command) => {
      const offers = await offersOf(command, wanted);
      if (options.json || command.parent?.opts().json) return printJson(offers.types);
      printTable(
        ['TYPE', 'CORES', 'MEMORY', 'DISK', 'ARCH', 'MONTHLY', 'LOCATIONS'],
        offers.types.map((type) => {
          const prices = type.prices.map((entry) => entry.monthly);
          const from = prices.length ? Math.min(...prices) : null;
          return [type.name, type.cores, `${type.memoryGb} GB`, `${type.diskGb} GB`, type.architecture, from === null ? 'not orderable' : `${prices.every((p) => p === from) ? '' : 'from '}${from.toFixed(2)} ${type.currency}`, type.prices.map((entry) => entry.location).join(' ')];
        }),
      );
    });
  clouds
    .command('regions <cloud>')
    .description('the locations (Hetzner) or regions (DigitalOcean) of the saved cloud')
    .option('--json', 'as JSON')
    .action(async (wanted: string, options: { json?: boolean }, command: Command) => {
      const offers = await offersOf(command, wanted);
      if (options.json || command.parent?.opts().json) return printJson(offers.locations);
      printTable(['REGION', 'NAME', 'COUNTRY', 'CITY'], offers.locations.map((entry) => [entry.name, entry.description, entry.country, entry.city]));
    });
  clouds
    .command('images <cloud>')
    .description('the system images the saved cloud can create servers with')
    .option('--json', 'as JSON')
    .action(async (wanted: string, options: { json?: boolean }, command: Command) => {
      const offers = await offersOf(command, wanted);
      if (options.json || command.parent?.opts().json) return printJson(offers.images);
      printTable(['IMAGE', 'DESCRIPTION', 'DISTRIBUTION', 'ARCH'], offers.images.map((entry) => [entry.name, entry.description, entry.distribution, entry.architecture ?? 'any']));
    });
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
        process.stdout.write(`Deployment ${cancelled.id}: ${clean(cancelled.status)}\n`);
      }),
    'stacker cancel',
  );
}
