// stacker secrets list|show|set|rotate: the project's secrets on the server (issue 28): the passwords
// and keys Stacker generated for its templates and the values kept secret, which the compose names as
// ${NAME}. list shows them masked; show prints one value (to its owner); set takes a value from the
// argument or, better for shell history, from standard input; rotate has the server generate a new one.
import type { Command } from 'commander';
import { clean, CliError, EXIT } from '../output.ts';
import { projectOf } from './project.ts';
import { globals, withExamples, type CommandDeps } from './shared.ts';

interface SecretView {
  name: string;
  value: string;
  generated: boolean;
  used_by: string[];
  updated_at: string;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]{0,99}$/;

function checkName(name: string): string {
  if (!NAME.test(name)) throw new CliError(`"${clean(name)}" is not a secret name: letters, digits and "_", not starting with a digit`, EXIT.usage);
  return name;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

export function registerSecretsCommands(program: Command, { apiFor, info, printJson, printTable }: CommandDeps): void {
  const secrets = program.command('secrets').description('the project\'s secrets: generated passwords and keys, and values kept secret (the compose names them ${NAME})');
  const withProject = (command: Command) => command.option('--project <id|name>', 'another project than stacker.yml\'s');

  withExamples(
    withProject(secrets.command('list'))
      .description('the secrets, masked, with the services that use each')
      .option('--json', 'as JSON')
      .action(async (options: { project?: string; json?: boolean }, command: Command) => {
        const opts = { ...globals(command), ...options };
        const api = apiFor(opts);
        const project = await projectOf(api, opts);
        const list = (await api.get<SecretView>(`/project/${project.id}/secrets`)).list ?? [];
        if (options.json) return printJson(list);
        if (list.length === 0) return info(`Project "${clean(project.name)}" has no secrets.`);
        printTable(
          ['NAME', 'VALUE', 'USED BY', 'ORIGIN', 'UPDATED'],
          list.map((secret) => [secret.name, secret.value, secret.used_by.join(', ') || '-', secret.generated ? 'generated' : 'set', secret.updated_at]),
        );
      }),
    'stacker secrets list',
  );
  withExamples(
    withProject(secrets.command('show'))
      .description('print one secret\'s value (yours alone)')
      .argument('<name>', 'the secret, e.g. MARIADB_PASSWORD')
      .action(async (name: string, options: { project?: string }, command: Command) => {
        const opts = { ...globals(command), ...options };
        const api = apiFor(opts);
        const project = await projectOf(api, opts);
        const item = (await api.get<{ value: string }>(`/project/${project.id}/secrets/${checkName(name)}`)).item;
        process.stdout.write(`${item?.value ?? ''}\n`);
      }),
    'stacker secrets show MARIADB_PASSWORD',
  );
  withExamples(
    withProject(secrets.command('set'))
      .description('set a secret; without a value it is read from standard input (kept out of your shell history)')
      .argument('<name>', 'the secret, e.g. SMTP_PASSWORD')
      .argument('[value]', 'the value')
      .action(async (name: string, value: string | undefined, options: { project?: string }, command: Command) => {
        const opts = { ...globals(command), ...options };
        checkName(name);
        if (value === undefined && process.stdin.isTTY) throw new CliError('give the value on standard input: `printf %s "$VALUE" | stacker secrets set NAME`', EXIT.usage);
        const given = value ?? (await readStdin());
        if (given === '') throw new CliError('the value is empty', EXIT.usage);
        const api = apiFor(opts);
        const project = await projectOf(api, opts);
        await api.put(`/project/${project.id}/secrets/${name}`, { value: given });
        info(`${name} set on project "${clean(project.name)}"; the next \`stacker deploy\` takes it to the server.`);
      }),
    'printf %s "$SMTP_PASSWORD" | stacker secrets set SMTP_PASSWORD',
  );
  withExamples(
    withProject(secrets.command('rotate'))
      .description('replace a secret with a new generated value (the next deploy takes it to the server)')
      .argument('<name>', 'the secret')
      .action(async (name: string, options: { project?: string }, command: Command) => {
        const opts = { ...globals(command), ...options };
        const api = apiFor(opts);
        const project = await projectOf(api, opts);
        await api.post(`/project/${project.id}/secrets/${checkName(name)}/rotate`, {});
        info(`${name} rotated on project "${clean(project.name)}"; the next \`stacker deploy\` takes the new value to the server (a database keeps the password it was created with until it is changed there too).`);
      }),
    'stacker secrets rotate GRAFANA_ADMIN_PASSWORD',
  );
}
