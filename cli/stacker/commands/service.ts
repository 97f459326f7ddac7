// stacker service list and add: the server's app catalog, and its apps added to stacker.yml. The
// catalog helpers are also init's (config.ts).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { isMap, parseDocument } from 'yaml';
import type { Api } from '../api.ts';
import { publishedHostPorts, serviceFromCatalog, serviceNameFor, type CatalogEntry } from '../conversions.ts';
import { CliError, EXIT } from '../output.ts';
import { globals, withExamples, type CommandDeps } from './shared.ts';

export async function catalogOf(api: Api): Promise<CatalogEntry[]> {
  return (await api.get<CatalogEntry>('/catalog')).list ?? [];
}

export function pickFromCatalog(catalog: CatalogEntry[], codes: string[]): CatalogEntry[] {
  return codes.map((code) => {
    const entry = catalog.find((app) => app.code === code);
    if (!entry) throw new CliError(`no app "${code}" in the catalog: see \`stacker service list\``, EXIT.usage);
    return entry;
  });
}

export function addCatalogServices(services: Record<string, unknown>, entries: CatalogEntry[]): string[] {
  const used = publishedHostPorts(services);
  const taken = new Set(Object.keys(services));
  return entries.map((entry) => {
    const name = serviceNameFor(entry.code, taken);
    services[name] = serviceFromCatalog(entry, used);
    return name;
  });
}

export function registerServiceCommands(program: Command, { apiFor, info, printJson, printTable }: CommandDeps): void {
  const service = program.command('service').description('the server\'s app catalog');
  withExamples(
    service
      .command('list')
      .description('the apps of the catalog')
      .option('--json', 'as JSON')
      .action(async (options: { json?: boolean }, command: Command) => {
        const catalog = await catalogOf(apiFor(globals(command)));
        if (options.json) return printJson(catalog);
        printTable(['CODE', 'NAME', 'CATEGORY', 'IMAGE'], catalog.map((app) => [app.code, app.name, app.category, `${app.image}:${app.tag}`]));
      }),
    'stacker service list',
  );
  withExamples(
    service
      .command('add')
      .description('add catalog apps to stacker.yml (its comments are kept)')
      .argument('<code...>', 'catalog app codes')
      .action(async (codes: string[], _options: unknown, command: Command) => {
        const opts = globals(command);
        if (!existsSync(opts.file)) throw new CliError(`${opts.file} not found: run \`stacker init --app ${codes.join(' --app ')}\``, EXIT.config);
        const entries = pickFromCatalog(await catalogOf(apiFor(opts)), codes);
        const document = parseDocument(readFileSync(opts.file, 'utf8'));
        if (document.errors.length) throw new CliError(`${opts.file} is not valid YAML: run \`stacker config validate\``, EXIT.config);
        const services = (document.toJS() as { services?: Record<string, unknown> } | null)?.services ?? {};
        const current = { ...services };
        const names = addCatalogServices(current, entries);
        if (!isMap(document.get('services'))) document.set('services', document.createNode({}));
        for (const name of names) document.setIn(['services', name], document.createNode(current[name]));
        writeFileSync(opts.file, document.toString({ lineWidth: 0 }));
        info(`Added ${names.join(', ')} to ${opts.file}`);
      }),
    'stacker service add redis',
    'stacker service add grafana prometheus',
  );
}
