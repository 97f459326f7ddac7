// stacker init and stacker config (validate, show, example, schema): writing stacker.yml, from a compose
// file or catalog apps, and checking and showing it.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { fromCompose, serviceNameFor, toProjectForm } from '../conversions.ts';
import { CliError, EXIT } from '../output.ts';
import { EXAMPLE, formatProblems, parseStackerFile, stackerJsonSchema } from '../stacker-file.ts';
import { addCatalogServices, catalogOf } from './service.ts';
import { globals, loadFile, withExamples, type CommandDeps } from './shared.ts';

const sanitizeName = (wish: string) => serviceNameFor(wish.toLowerCase(), new Set());

export function registerConfigCommands(program: Command, { apiFor, apiUrlOf, info, printJson, printTable }: CommandDeps): void {
  function writeStackerFile(path: string, content: Record<string, unknown>, force: boolean, schemaUrl: string): void {
    if (existsSync(path) && !force) throw new CliError(`${basename(path)} exists already: pass --force to replace it, or \`stacker service add\` to add apps`, EXIT.usage);
    // The first line points editors (YAML language server) at the schema the server publishes.
    const text = `# yaml-language-server: $schema=${schemaUrl}\n# stacker.yml: see \`stacker config example\`; schema: \`stacker config schema\`\n${stringify(content, { lineWidth: 0 })}`;
    const parsed = parseStackerFile(text);
    writeFileSync(path, text);
    if (!parsed.ok) info(`note: ${basename(path)} needs fixing before \`stacker push\`:\n${formatProblems(basename(path), parsed.problems).join('\n')}`);
  }

  withExamples(
    program
      .command('init')
      .description('write stacker.yml from a docker-compose.yml, or from apps of the server\'s catalog')
      .option('--from-compose <file>', 'a docker-compose.yml to convert: every service with its name and what compose says of it (depends_on, healthcheck, ...); what cannot be carried (build:, a local file mounted) is named')
      .option('--app <code>', 'a catalog app to add (repeatable; see `stacker service list`)', (value: string, all: string[] = []) => [...all, value])
      .option('--name <name>', 'the project name (default: the folder name)')
      .option('--force', 'replace an existing stacker.yml')
      .action(async (options: { fromCompose?: string; app?: string[]; name?: string; force?: boolean }, command: Command) => {
        const opts = globals(command);
        const target = resolve(opts.file);
        const name = sanitizeName(options.name ?? basename(dirname(target)));
        let content: Record<string, unknown>;
        if (options.fromCompose) {
          if (!existsSync(options.fromCompose)) throw new CliError(`${options.fromCompose} not found`, EXIT.usage);
          let converted;
          try {
            converted = fromCompose(readFileSync(options.fromCompose, 'utf8'), name, options.fromCompose);
          } catch (error) {
            const field = (error as { field?: string }).field;
            throw new CliError(`${options.fromCompose}: ${field ? `${field}: ` : ''}${(error as Error).message}`, EXIT.config);
          }
          for (const note of converted.notes) info(`note: ${note}`);
          content = converted.file;
          if (options.app?.length) for (const line of addCatalogServices(content.services as Record<string, unknown>, await catalogOf(apiFor(opts)), options.app)) info(`Added ${line}`);
        } else {
          let codes = options.app ?? [];
          const api = apiFor(opts);
          const catalog = await catalogOf(api);
          if (codes.length === 0) {
            if (!process.stdin.isTTY) throw new CliError('say what to start from: --from-compose <file> or --app <code> (see `stacker service list`)', EXIT.usage);
            printTable(['CODE', 'NAME', 'CATEGORY'], catalog.map((app) => [app.code, app.name, app.category]));
            const prompt = createInterface({ input: process.stdin, output: process.stderr });
            const answer = await prompt.question('Apps to add (codes, separated by spaces or commas): ');
            prompt.close();
            codes = answer.split(/[\s,]+/).filter(Boolean);
            if (codes.length === 0) throw new CliError('no app chosen', EXIT.usage);
          }
          const services: Record<string, unknown> = {};
          for (const line of addCatalogServices(services, catalog, codes)) info(`Added ${line}`);
          content = { name, services };
        }
        writeStackerFile(target, content, Boolean(options.force), `${apiUrlOf(opts)}/schema/stacker.schema.json`);
        info(`Wrote ${opts.file} (${Object.keys(content.services as object).length} services). Next: \`stacker config validate\`, then \`stacker deploy --server own --address <your server's address> --follow\``);
      }),
    'stacker init --from-compose docker-compose.yml',
    'stacker init --app nginx --app postgres --name shop',
    'stacker init            # pick apps from the catalog interactively',
  );

  const config = program.command('config').description('check and show stacker.yml');
  withExamples(
    config
      .command('validate')
      .description('check stacker.yml against its schema: every problem with its line and field')
      .option('--json', 'problems as JSON')
      .action((options: { json?: boolean }, command: Command) => {
        const opts = globals(command);
        if (!existsSync(opts.file)) throw new CliError(`${opts.file} not found: run \`stacker init\` (or pass --file)`, EXIT.config);
        const parsed = parseStackerFile(readFileSync(opts.file, 'utf8'));
        if (options.json) printJson(parsed.ok ? { valid: true, problems: [], warnings: parsed.warnings } : { valid: false, problems: parsed.problems });
        if (parsed.ok) {
          if (!options.json) for (const line of formatProblems(opts.file, parsed.warnings)) process.stderr.write(`${line}\n`);
          if (!options.json) process.stdout.write(`${opts.file} is valid: project "${parsed.file.name}", ${Object.keys(parsed.file.services).length} services\n`);
          return;
        }
        if (!options.json) for (const line of formatProblems(opts.file, parsed.problems)) process.stderr.write(`${line}\n`);
        process.exitCode = EXIT.config;
      }),
    'stacker config validate',
    'stacker config validate --file other.yml --json',
  );
  withExamples(
    config
      .command('show')
      .description('stacker.yml resolved (defaults filled in), or the project form `stacker push` sends')
      .option('--form', 'the project form (POST /project) instead')
      .option('--json', 'as JSON')
      .action((options: { form?: boolean; json?: boolean }, command: Command) => {
        const { file } = loadFile(globals(command));
        const value = options.form ? toProjectForm(file) : file;
        if (options.json || options.form) printJson(value);
        else process.stdout.write(stringify(value, { lineWidth: 0 }));
      }),
    'stacker config show',
    'stacker config show --form',
  );
  withExamples(
    config
      .command('example')
      .description('print an example stacker.yml with comments')
      .action(() => void process.stdout.write(EXAMPLE)),
    'stacker config example > stacker.yml',
  );
  withExamples(
    config
      .command('schema')
      .description('print the JSON Schema of stacker.yml (for editors; also schema/stacker.schema.json in the repository)')
      .action(() => printJson(stackerJsonSchema())),
    'stacker config schema > .stacker.schema.json',
  );
}
