// stacker agent ...: drive the agent on the deployed server. Each command is created on the server,
// then waited for on the deployment's event log until the agent reports it, and its result printed.
import { randomUUID } from 'node:crypto';
import { Option, type Command } from 'commander';
import { stringify } from 'yaml';
import { followEvents, TERMINAL_COMMAND_STATUSES, type DeploymentEvent } from '../follow.ts';
import { clean, CliError, EXIT } from '../output.ts';
import { deploymentOf } from './deploy.ts';
import { projectOf } from './project.ts';
import { globals, loadFile, withExamples, withRetry, type CommandDeps, type Opts } from './shared.ts';

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

type AgentOpts = Opts & { project?: string; deployment?: string; timeout: string; json?: boolean };

export function registerAgentCommands(program: Command, { apiFor, activity, printJson, printTable, red }: CommandDeps): void {
  const agent = program
    .command('agent')
    .description('drive the agent on the deployed server: each command waits for the agent\'s report')
    .addOption(new Option('--project <id|name>', 'another project than stacker.yml\'s'))
    .addOption(new Option('--deployment <id|hash>', 'a deployment of the project (default: the latest)'))
    .addOption(new Option('--timeout <seconds>', 'how long to wait for the agent\'s report').default('60'))
    .addOption(new Option('--json', 'the command (with its result) as JSON'));

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
      // The agent's words (its output, its error) are shown without terminal control sequences.
      process.stdout.write(`${type} ${clean(final.command_id)}: ${clean(final.status)}\n`);
      if (final.result !== null && final.result !== undefined) {
        const text = typeof final.result === 'string' ? final.result : stringify(final.result, { lineWidth: 0 });
        process.stdout.write(clean(text, { multiline: true }).replace(/\n?$/, '\n'));
      }
      if (final.error) process.stderr.write(`${red('error')}: ${clean(typeof final.error === 'string' ? final.error : JSON.stringify(final.error), { multiline: true })}\n`);
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
        process.stdout.write(clean(stringify(item, { lineWidth: 0 }), { multiline: true }));
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
}
