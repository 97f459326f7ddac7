// stacker service list and add: the server's app catalog, and its apps added to stacker.yml. The
// catalog helpers are also init's (config.ts).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { isMap, parseDocument } from 'yaml';
import type { Api } from '../api.ts';
import { listOfCategory, planTemplate, TemplateError, type PlannedService, type StackService } from '../../../functions/services/templates.ts';
import { environmentOf, publishedHostPorts, type CatalogEntry } from '../conversions.ts';
import { stackerFileSchema, type StackerService } from '../stacker-file.ts';
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

/** The services of a (raw) stacker.yml as the template planner reads them. */
function stackOf(services: Record<string, unknown>): StackService[] {
  return Object.entries(services).map(([code, value]) => {
    const service = (value && typeof value === 'object' ? value : {}) as StackerService;
    return {
      code,
      image: typeof service.image === 'string' ? service.image : '',
      environment: environmentOf(service),
      hostPorts: [...publishedHostPorts({ [code]: service })],
      healthcheck: Boolean((service as { healthcheck?: unknown }).healthcheck),
    };
  });
}

/** Whether this stacker.yml schema takes a service field (depends_on and healthcheck came with issue 28). */
const takesField = (field: 'depends_on' | 'healthcheck', value: unknown) =>
  stackerFileSchema.safeParse({ name: 'probe', services: { first: { image: 'nginx:1.27' }, other: { image: 'nginx:1.27', [field]: value } } }).success;

/** A planned template service as stacker.yml writes it. */
function serviceOfPlanned(planned: PlannedService): Record<string, unknown> {
  const { entry } = planned;
  const service: Record<string, unknown> = { image: `${entry.image}:${entry.tag}`, kind: listOfCategory(entry.category), catalog: entry.code };
  if (entry.name.length >= 3) service.name = entry.name;
  if (planned.ports.length) service.ports = planned.ports.map((port) => (port.host_port ? `${port.host_port}:${port.container_port}` : port.container_port));
  if (planned.environment.length) service.environment = Object.fromEntries(planned.environment.map(({ key, value }) => [key, value]));
  if (planned.volumes.length) service.volumes = planned.volumes.map((volume) => (volume.host_path ? `${volume.host_path}:${volume.container_path}` : volume.container_path));
  if (planned.command) service.command = planned.command;
  if (planned.healthcheck && takesField('healthcheck', { test: ['CMD', 'true'] })) service.healthcheck = planned.healthcheck;
  if (planned.depends_on && takesField('depends_on', { first: { condition: 'service_started' } })) service.depends_on = planned.depends_on;
  return service;
}

/**
 * Adds catalog apps as the dashboard's builder does (services/templates.ts): each with what it requires,
 * linked to a service the file has or added, its environment wired. Returns what it did, in words.
 */
export function addCatalogServices(services: Record<string, unknown>, catalog: CatalogEntry[], codes: string[]): string[] {
  pickFromCatalog(catalog, codes);
  const said: string[] = [];
  for (const code of codes) {
    let plan;
    try {
      plan = planTemplate(catalog, code, stackOf(services));
    } catch (error) {
      if (error instanceof TemplateError) throw new CliError(error.message, EXIT.usage);
      throw error;
    }
    for (const planned of plan.services) services[planned.code] = serviceOfPlanned(planned);
    const main = plan.services.at(-1)!;
    const links = plan.links.map((link) => `${link.as} → ${link.provider}${link.added ? ' (added)' : ' (already in the stack)'}`);
    said.push(`${main.code}${links.length ? ` (${links.join(', ')})` : ''}`);
  }
  return said;
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
        const catalog = await catalogOf(apiFor(opts));
        pickFromCatalog(catalog, codes);
        const document = parseDocument(readFileSync(opts.file, 'utf8'));
        if (document.errors.length) throw new CliError(`${opts.file} is not valid YAML: run \`stacker config validate\``, EXIT.config);
        const services = (document.toJS() as { services?: Record<string, unknown> } | null)?.services ?? {};
        const current = { ...services };
        const said = addCatalogServices(current, catalog, codes);
        if (!isMap(document.get('services'))) document.set('services', document.createNode({}));
        for (const name of Object.keys(current).filter((key) => !(key in services))) document.setIn(['services', name], document.createNode(current[name]));
        writeFileSync(opts.file, document.toString({ lineWidth: 0 }));
        info(`Added ${said.join('; ')} to ${opts.file}. Generated passwords stay on the server: \`stacker secrets list\` after \`stacker push\``);
      }),
    'stacker service add redis',
    'stacker service add grafana prometheus',
  );
}
