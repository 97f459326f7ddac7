// stacker push and stacker compose: the project of stacker.yml on the server. projectOf and push are
// also how the deploy and agent groups get to it.
import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import type { Api } from '../api.ts';
import { toProjectForm } from '../conversions.ts';
import { clean, CliError } from '../output.ts';
import type { StackerFile } from '../stacker-file.ts';
import { globals, loadFile, withExamples, withRetry, type CommandDeps, type Opts } from './shared.ts';

export interface Project {
  id: number;
  name: string;
  updated_at: string;
}

/** The newest project of this name, if any. */
export async function findProject(api: Api, name: string): Promise<Project | undefined> {
  const projects = (await api.get<Project>('/project')).list ?? [];
  return projects.filter((project) => project.name === name).sort((a, b) => b.id - a.id)[0];
}

/** The project named by --project (id or name), else by stacker.yml. */
export async function projectOf(api: Api, opts: Opts & { project?: string }): Promise<Project> {
  if (opts.project && /^\d+$/.test(opts.project)) return (await api.get<Project>(`/project/${opts.project}`)).item!;
  const name = opts.project ?? loadFile(opts).file.name;
  const found = await findProject(api, name);
  if (!found) throw new CliError(`there is no project "${name}" on ${api.baseUrl} yet: run \`stacker push\``);
  return found;
}

/** Creates or updates the project of stacker.yml: the same file twice is one project. */
export async function push(api: Api, file: StackerFile): Promise<{ project: Project; created: boolean }> {
  const form = toProjectForm(file);
  const existing = await findProject(api, file.name);
  if (existing) return { project: (await api.put<Project>(`/project/${existing.id}`, form)).item!, created: false };
  const created = await withRetry(() => api.post<Project>('/project', form, { headers: { 'idempotency-key': randomUUID() } }));
  return { project: created.item!, created: true };
}

export function registerProjectCommands(program: Command, { apiFor, printJson }: CommandDeps): void {
  withExamples(
    program
      .command('push')
      .description('create the project of stacker.yml on the server, or update it (the same file twice is one project)')
      .option('--json', 'the project as JSON')
      .action(async (options: { json?: boolean }, command: Command) => {
        const opts = globals(command);
        const { file } = loadFile(opts);
        const { project, created } = await push(apiFor(opts), file);
        if (options.json) return printJson(project);
        process.stdout.write(`${created ? 'Created' : 'Updated'} project "${clean(project.name)}" (id ${project.id})\n`);
      }),
    'stacker push',
  );
  withExamples(
    program
      .command('compose')
      .description('print the docker-compose the server generates for the project')
      .option('--project <id|name>', 'another project than stacker.yml\'s')
      .action(async (options: { project?: string }, command: Command) => {
        const opts = { ...globals(command), ...options };
        const api = apiFor(opts);
        const project = await projectOf(api, opts);
        process.stdout.write(clean((await api.get<string>(`/project/${project.id}/compose`)).item ?? '', { multiline: true }));
      }),
    'stacker compose > docker-compose.generated.yml',
  );
}
