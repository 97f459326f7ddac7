// stacker: the user's command line. Sign in, describe a stack in stacker.yml, push and deploy it,
// follow the deployment, and drive the agent on the deployed server. Run it as `npx stacker`.
import { randomUUID } from 'node:crypto';
import { Command, CommanderError, Option } from 'commander';
import { stringify } from 'yaml';
import { Api, apiFor, apiUrlOf, type GlobalOptions } from './api.ts';
import { completionScript } from './completion.ts';
import { followEvents, TERMINAL_COMMAND_STATUSES, type DeploymentEvent } from './follow.ts';
import { activity, CliError, EXIT, EXIT_CODES_HELP, info, printJson, printTable, progressBar, red } from './output.ts';
import { registerAuthCommands } from './commands/auth.ts';
import { registerConfigCommands } from './commands/config.ts';
import { deploymentOf, registerDeployCommands } from './commands/deploy.ts';
import { projectOf, registerProjectCommands } from './commands/project.ts';
import { registerServiceCommands } from './commands/service.ts';
import { globals, loadFile, withExamples, withRetry, type CommandDeps, type Opts } from './commands/shared.ts';

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

// push, compose
registerProjectCommands(program, deps);

// deploy, status, logs, deployments, servers, clouds, cancel
registerDeployCommands(program, deps);

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
