// stacker: the user's command line. Sign in, describe a stack in stacker.yml, push and deploy it,
// follow the deployment, and drive the agent on the deployed server. Run it as `npx stacker`.
import { randomUUID } from 'node:crypto';
import { Command, CommanderError, Option } from 'commander';
import { stringify } from 'yaml';
import type { DeploymentView } from '../../functions/services/deployments.ts';
import { Api, apiFor, apiUrlOf, type GlobalOptions } from './api.ts';
import { completionScript } from './completion.ts';
import { eventLine, followEvents, TERMINAL_COMMAND_STATUSES, type DeploymentEvent } from './follow.ts';
import { activity, CliError, EXIT, EXIT_CODES_HELP, info, printJson, printTable, progressBar, red } from './output.ts';
import { registerAuthCommands } from './commands/auth.ts';
import { registerConfigCommands } from './commands/config.ts';
import { projectOf, push, registerProjectCommands, type Project } from './commands/project.ts';
import { registerServiceCommands } from './commands/service.ts';
import { globals, loadFile, withExamples, withRetry, type CommandDeps, type Opts } from './commands/shared.ts';

type Deployment = DeploymentView;
interface CommandView {
  command_id: string;
  type: string;
  status: string;
  parameters: Record<string, unknown>;
  result: unknown;
  error: unknown;
  created_at: string;
  completed_at: string | null;
}

const program = new Command('stacker');

// ---- shared helpers -----------------------------------------------------------------------------

async function deploymentOf(api: Api, project: Project, wanted?: string): Promise<Deployment> {
  const list = (await api.get<Deployment>(`/project/${project.id}/deployments`)).list ?? [];
  const found = wanted ? list.find((d) => String(d.id) === wanted || d.deployment_hash === wanted) : list[0];
  if (!found) {
    throw new CliError(wanted ? `project "${project.name}" has no deployment ${wanted}: see \`stacker deployments\`` : `project "${project.name}" has not been deployed yet: run \`stacker deploy\``);
  }
  return found;
}

// ---- the program ----------------------------------------------------------------------------------

program
  .description('The Stacker command line: sign in, describe a stack in stacker.yml, deploy it, follow it, drive its agent.')
  .version('0.1.0')
  .addOption(new Option('--api-url <url>', 'the Stacker server (default $STACKER_URL, else http://127.0.0.1:8000)'))
  .addOption(new Option('-f, --file <path>', 'the stack file').default('stacker.yml'))
  .showSuggestionAfterError()
  .configureOutput({ outputError: (text, write) => write(text.replace(/^error: /, 'stacker: ')) })
  .addHelpText(
    'after',
    `
Environment:
  STACKER_URL    the server, as --api-url
  STACKER_TOKEN  an access token to use instead of the saved sign-in (CI)
  NO_COLOR       no colour, spinner or progress bar (neither when output is not a terminal)
  XDG_CONFIG_HOME  where credentials are kept ($XDG_CONFIG_HOME/stacker/credentials.json, mode 0600)
${EXIT_CODES_HELP}

A session:
  $ stacker login
  $ stacker init --from-compose docker-compose.yml
  $ stacker deploy --cloud htz --follow
  $ stacker agent restart web`,
  );

const deps: CommandDeps = { apiFor, apiUrlOf, info, printJson, printTable, progressBar, activity, red };

// login, logout, whoami
registerAuthCommands(program, deps);

// init, config, service
registerConfigCommands(program, deps);
registerServiceCommands(program, deps);

// push, compose, deploy, status, logs, lists, cancel
registerProjectCommands(program, deps);

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

// agent
const agent = program
  .command('agent')
  .description('drive the agent on the deployed server: each command waits for the agent\'s report')
  .addOption(new Option('--project <id|name>', 'another project than stacker.yml\'s'))
  .addOption(new Option('--deployment <id|hash>', 'a deployment of the project (default: the latest)'))
  .addOption(new Option('--timeout <seconds>', 'how long to wait for the agent\'s report').default('60'))
  .addOption(new Option('--json', 'the command (with its result) as JSON'));

type AgentOpts = Opts & { project?: string; deployment?: string; timeout: string; json?: boolean };

async function agentTarget(command: Command) {
  const opts = globals(command) as AgentOpts;
  const api = apiFor(opts);
  const project = await projectOf(api, opts);
  const deployment = await deploymentOf(api, project, opts.deployment);
  return { opts, api, project, deployment };
}

/** Creates a command, waits on the event log for its end, and prints its result. */
async function runAgentCommand(command: Command, type: string, parameters: Record<string, unknown>): Promise<void> {
  const { opts, api, project, deployment } = await agentTarget(command);
  const timeoutSeconds = Number(opts.timeout);
  if (!Number.isFinite(timeoutSeconds) || timeoutSeconds < 1) throw new CliError('--timeout is a number of seconds', EXIT.usage);
  const start = await api.get<DeploymentEvent>(`/project/${project.id}/deployments/${deployment.id}/events?after=2147483647`).catch(() => undefined);
  const after = (start?.meta as { latest_seq?: number } | undefined)?.latest_seq ?? 0;
  const created = await withRetry(() =>
    api.post<CommandView>(
      '/api/v1/commands',
      { deployment_hash: deployment.deployment_hash, command_type: type, parameters, timeout_seconds: Math.max(timeoutSeconds, 30) },
      { headers: { 'idempotency-key': randomUUID() } },
    ),
  );
  const commandId = created.item!.command_id;
  const spinner = opts.json ? undefined : activity(`${type}: waiting for the agent of ${deployment.deployment_hash} ...`);
  let final: CommandView;
  try {
    await followEvents(api, project.id, deployment.id, {
      after,
      quiet: true,
      deadline: Date.now() + timeoutSeconds * 1000,
      stopOn: (event) => {
        if (event.kind !== 'command' || event.subject !== commandId) return false;
        spinner?.update(`${type}: ${event.status}`);
        return TERMINAL_COMMAND_STATUSES.has(event.status ?? '');
      },
    });
    final = (await api.get<CommandView>(`/api/v1/commands/${deployment.deployment_hash}/${commandId}`)).item!;
  } catch (error) {
    if (error instanceof CliError && error.exitCode === EXIT.timeout) {
      throw new CliError(`the agent has not reported ${type} (${commandId}) within ${timeoutSeconds} s: is it running? (\`stacker agent status\`); see \`stacker agent history\` later`, EXIT.timeout);
    }
    throw error;
  } finally {
    spinner?.stop();
  }
  if (opts.json) printJson(final);
  else {
    process.stdout.write(`${type} ${final.command_id}: ${final.status}\n`);
    if (final.result !== null && final.result !== undefined) process.stdout.write(`${typeof final.result === 'string' ? final.result : stringify(final.result, { lineWidth: 0 })}`.replace(/\n?$/, '\n'));
    if (final.error) process.stderr.write(`${red('error')}: ${typeof final.error === 'string' ? final.error : JSON.stringify(final.error)}\n`);
  }
  if (final.status !== 'completed') process.exitCode = EXIT.failed;
}

withExamples(
  agent
    .command('health')
    .description('health of an app (default: every service of stacker.yml, one after the other)')
    .argument('[app]', 'the app (service name)')
    .action(async (app: string | undefined, _options: unknown, command: Command) => {
      const apps = app ? [app] : Object.keys(loadFile(globals(command)).file.services);
      for (const code of apps) await runAgentCommand(command, 'health', { app_code: code });
    }),
  'stacker agent health',
  'stacker agent health web --json',
);
withExamples(
  agent
    .command('status')
    .description('the agent: registered or not, last seen, its apps\' last status (no command is sent)')
    .action(async (_options: unknown, command: Command) => {
      const { opts, api, deployment } = await agentTarget(command);
      const item = (await api.get<Record<string, unknown>>(`/api/v1/deployments/${deployment.deployment_hash}/agent`)).item ?? {};
      if (opts.json) return printJson(item);
      process.stdout.write(stringify(item, { lineWidth: 0 }));
    }),
  'stacker agent status',
);
withExamples(
  agent
    .command('apps')
    .description('the containers running on the server (list_containers)')
    .action((_options: unknown, command: Command) => runAgentCommand(command, 'list_containers', {})),
  'stacker agent apps',
);
withExamples(
  agent
    .command('history')
    .description('the commands sent to the agent, newest first')
    .action(async (_options: unknown, command: Command) => {
      const { opts, api, deployment } = await agentTarget(command);
      const list = (await api.get<CommandView>(`/api/v1/commands/${deployment.deployment_hash}`)).list ?? [];
      if (opts.json) return printJson(list);
      printTable(['COMMAND', 'TYPE', 'STATUS', 'CREATED', 'COMPLETED'], list.map((c) => [c.command_id, c.type, c.status, c.created_at, c.completed_at]));
    }),
  'stacker agent history',
);
withExamples(
  agent
    .command('logs')
    .description('an app\'s container logs')
    .argument('<app>', 'the app (service name)')
    .option('--limit <lines>', 'how many lines (1 to 1000)', '400')
    .action((app: string, options: { limit: string }, command: Command) => runAgentCommand(command, 'logs', { app_code: app, limit: Number(options.limit) })),
  'stacker agent logs web',
  'stacker agent logs database --limit 50',
);
withExamples(
  agent
    .command('restart')
    .description('restart an app\'s container')
    .argument('<app>', 'the app (service name)')
    .option('--force', 'force the restart')
    .action((app: string, options: { force?: boolean }, command: Command) => runAgentCommand(command, 'restart', { app_code: app, ...(options.force && { force: true }) })),
  'stacker agent restart web',
);
withExamples(
  agent
    .command('exec')
    .description('any command the agent runs, with its parameters as JSON')
    .argument('<type>', 'the command type (health, logs, restart, stop, start, exec, server_resources, ...)')
    .option('--params <json>', 'the parameters, a JSON object', '{}')
    .action(async (type: string, options: { params: string }, command: Command) => {
      let parameters: unknown;
      try {
        parameters = JSON.parse(options.params);
      } catch (error) {
        throw new CliError(`--params is not JSON (${(error as Error).message}): e.g. --params '{"app_code":"web"}'`, EXIT.usage);
      }
      if (!parameters || typeof parameters !== 'object' || Array.isArray(parameters)) throw new CliError(`--params must be a JSON object, e.g. '{"app_code":"web"}'`, EXIT.usage);
      await runAgentCommand(command, type, parameters as Record<string, unknown>);
    }),
  `stacker agent exec stop --params '{"app_code":"web","timeout":10}'`,
  `stacker agent exec exec --params '{"app_code":"web","command":"nginx -t"}'`,
);

withExamples(
  program
    .command('completion')
    .description('print a shell completion script')
    .argument('<shell>', 'bash or zsh')
    .action((shell: string) => {
      if (shell !== 'bash' && shell !== 'zsh') throw new CliError(`no completion for "${shell}": bash or zsh`, EXIT.usage);
      process.stdout.write(completionScript(program, shell));
    }),
  'source <(stacker completion bash)',
  'stacker completion zsh > "${fpath[1]}/_stacker"',
);

// ---- run --------------------------------------------------------------------------------------------

function report(error: unknown): number {
  if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  if (error instanceof CliError) {
    const [first, ...rest] = error.message.split('\n');
    process.stderr.write(`stacker: ${first}\n`);
    for (const line of rest) process.stderr.write(`${line}\n`);
    for (const field of error.fields) process.stderr.write(`  ${field.path}: ${field.message}\n`);
    return error.exitCode;
  }
  process.stderr.write(`stacker: unexpected error: ${error instanceof Error ? error.message : String(error)} (please report it)\n`);
  return EXIT.failed;
}

program.exitOverride();
for (const sub of program.commands) {
  sub.exitOverride();
  for (const inner of sub.commands) inner.exitOverride();
}
process.on('SIGINT', () => process.exit(EXIT.interrupted));

try {
  await program.parseAsync(process.argv);
} catch (error) {
  process.exitCode = report(error);
}
