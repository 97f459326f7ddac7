// stacker rollback and stacker destroy: the built-in engine's operations on a deployment of your own
// server (an earlier revision applied again; the stack taken down). Each starts the operation, then
// follows the deployment's event log from the operation's first event to its end.
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import type { Api } from '../api.ts';
import { detailOf, followToEnd, latestSeq } from '../deployment.ts';
import { clean, CliError, EXIT } from '../output.ts';
import { deploymentOf } from './deploy.ts';
import { projectOf } from './project.ts';
import { globals, withExamples, type CommandDeps } from './shared.ts';

interface OperationOptions {
  project?: string;
  deployment?: string;
  follow: boolean;
  json?: boolean;
}

interface Accepted {
  deployment_id: number;
  deployment_hash: string;
  operation_id: number;
  revision: number | null;
}

/** Asks on the terminal; true for y or yes. Ctrl-C is an interruption (exit 130). */
async function confirm(question: string): Promise<boolean> {
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  const interrupted = new Promise<never>((_, reject) =>
    prompt.once('SIGINT', () => {
      process.stderr.write('\n');
      reject(new CliError('interrupted', EXIT.interrupted));
    }),
  );
  try {
    const answer = await Promise.race([prompt.question(`${question} [y/N] `), interrupted]);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    prompt.close();
  }
}

/**
 * Starts an operation (`send`) on a deployment and, unless --no-follow, follows it from the event
 * log's end as it was just before: only the operation's events are printed.
 */
async function runOperation(
  api: Api,
  projectId: number,
  deploymentId: number,
  options: OperationOptions & { operation: 'rollback' | 'destroy'; success: string },
  send: () => Promise<{ message: string; item?: Accepted }>,
  printJson: (value: unknown) => void,
): Promise<void> {
  const after = options.follow ? await latestSeq(api, projectId, deploymentId) : 0;
  const answer = await send();
  const started = { project_id: projectId, ...answer.item!, operation: options.operation, message: answer.message };
  const json = Boolean(options.json);
  if (json && !options.follow) return printJson(started);
  if (json) process.stdout.write(`${JSON.stringify(started)}\n`);
  else process.stdout.write(`Deployment ${deploymentId}: ${clean(answer.message)}\n`);
  if (options.follow) await followToEnd(api, projectId, deploymentId, { json, after, success: options.success, summary: true });
}

export function registerOperationCommands(program: Command, { apiFor, printJson }: CommandDeps): void {
  withExamples(
    program
      .command('rollback')
      .description('apply an earlier revision of the deployment on your own server again (default: the one that ran before the current), and follow it')
      .option('--revision <n>', 'the revision to apply (see `stacker status`)')
      .option('--project <id|name>', 'another project than stacker.yml\'s')
      .option('--deployment <id|hash>', 'a deployment of the project (default: the latest)')
      .option('--no-follow', 'return once the server accepted it (default: follow to the end; exit 0 on completed, 1 otherwise)')
      .option('--json', 'what was started as JSON; following, one object per line: that, each event, the end')
      .action(async (options: OperationOptions & { revision?: string }, command: Command) => {
        const opts = { ...globals(command), ...options };
        if (options.revision !== undefined && !/^[1-9]\d{0,6}$/.test(options.revision)) throw new CliError(`--revision "${options.revision}" is not a revision number`, EXIT.usage);
        const api = apiFor(opts);
        const project = await projectOf(api, opts);
        const deployment = await deploymentOf(api, project, options.deployment);
        const body = options.revision === undefined ? {} : { revision: Number(options.revision) };
        await runOperation(api, project.id, deployment.id, { ...options, operation: 'rollback', success: 'completed' }, () => api.post<Accepted>(`/project/${project.id}/deployments/${deployment.id}/rollback`, body), printJson);
      }),
    'stacker rollback                # the revision that ran before the current one',
    'stacker rollback --revision 1',
    'stacker rollback --revision 2 --json',
  );

  withExamples(
    program
      .command('destroy')
      .description('take the stack down on your own server (its containers stop and are deleted; the deployment ends removed), and follow it')
      .option('--yes', 'do not ask (required when not on a terminal)')
      .option('--project <id|name>', 'another project than stacker.yml\'s')
      .option('--deployment <id|hash>', 'a deployment of the project (default: the latest)')
      .option('--no-follow', 'return once the server accepted it (default: follow to the end; exit 0 on removed, 1 otherwise)')
      .option('--json', 'what was started as JSON; following, one object per line: that, each event, the end')
      .action(async (options: OperationOptions & { yes?: boolean }, command: Command) => {
        const opts = { ...globals(command), ...options };
        const api = apiFor(opts);
        const project = await projectOf(api, opts);
        const deployment = await deploymentOf(api, project, options.deployment);
        if (!options.yes) {
          if (!process.stdin.isTTY) throw new CliError('destroy takes the stack down and there is no terminal to ask on: pass --yes to confirm', EXIT.usage);
          const detail = await detailOf(api, project.id, deployment.id);
          const where = detail.server_address ? ` on ${clean(detail.server_address)}` : '';
          if (!(await confirm(`Take down the stack of "${project.name}" (deployment ${deployment.id}, ${clean(detail.status)})${where}? Its containers are stopped and deleted.`))) {
            throw new CliError('nothing was removed', EXIT.failed);
          }
        }
        await runOperation(api, project.id, deployment.id, { ...options, operation: 'destroy', success: 'removed' }, () => api.delete<Accepted>(`/project/${project.id}/deployments/${deployment.id}`), printJson);
      }),
    'stacker destroy',
    'stacker destroy --yes --json',
  );
}
