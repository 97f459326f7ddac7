// Catalog entries as templates (issue 28): what an entry provides to others ("a MySQL-compatible
// database") and exports (host, user, password, ...), what it requires, its health check and command;
// and the planner that adds an entry to a stack with what it requires, added or linked to a service the
// stack already has, its environment wired to them. Pure: the dashboard's builder (stack-form.ts) and
// the command line (`stacker init --app`, `stacker service add`) both plan with it, from the catalog.
import { z } from 'zod';
import { trimDashes } from './inputs/text.ts';

export const TEMPLATE_KINDS_MAX = 10;
const kind = z.string().trim().regex(/^[a-z0-9][a-z0-9-]{0,39}$/, 'a kind is lowercase letters, digits and "-", e.g. mysql, postgres, redis');
const asName = z.string().trim().regex(/^[a-z][a-z0-9_]{0,19}$/, 'a name is lowercase letters, digits and "_", e.g. db');
const short = (max: number) => z.string().max(max, `must be at most ${max} characters`).refine((v) => !v.includes('\u0000'), 'must not contain NUL');
const duration = z.string().regex(/^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$/, 'must be a duration like 30s, 1m30s or 500ms');

export const templateHealthcheckSchema = z.strictObject({
  test: z
    .array(short(1000))
    .min(2, 'needs the form and a command, e.g. ["CMD", "redis-cli", "ping"]')
    .max(30)
    .refine((test) => ['CMD', 'CMD-SHELL'].includes(test[0]!), 'starts with CMD or CMD-SHELL'),
  interval: duration.optional(),
  timeout: duration.optional(),
  retries: z.number().int().min(0).max(1000).optional(),
  start_period: duration.optional(),
});

export const requirementSchema = z.strictObject({
  /** How the entry's environment names it: `{{db.host}}`. */
  as: asName,
  /** What it must provide, e.g. "mysql". */
  kind,
  /** The catalog entry added when the stack has nothing that provides it. */
  default: z.string().trim().min(1).max(50),
  description: short(100).optional(),
});

/** The catalog_app.template column: what makes a catalog entry a template. */
export const templateFieldsSchema = z.strictObject({
  /** The image's documentation the entry was checked against. */
  docs: z.url().max(300).optional(),
  provides: z.array(kind).max(TEMPLATE_KINDS_MAX).optional(),
  exports: z.record(asName, short(500)).refine((map) => Object.keys(map).length <= 20, 'at most 20 exports').optional(),
  requires: z.array(requirementSchema).max(5, 'at most 5 requirements').optional(),
  healthcheck: templateHealthcheckSchema.optional(),
  command: short(1000).optional(),
});

export type CatalogTemplateFields = z.infer<typeof templateFieldsSchema>;
export type TemplateHealthcheck = z.infer<typeof templateHealthcheckSchema>;

/** A catalog entry as GET /catalog gives it. */
export interface TemplateEntry {
  code: string;
  name: string;
  category: string;
  description?: string;
  image: string;
  tag: string;
  ports: Array<{ host_port: string | null; container_port: string }>;
  environment: Array<{ key: string; value: string }>;
  volumes: Array<{ host_path: string | null; container_path: string }>;
  template?: CatalogTemplateFields | null;
}

/** A service already in the stack, as the planner reads it. */
export interface StackService {
  code: string;
  /** repository[:tag] */
  image: string;
  environment: Array<{ key: string; value: string }>;
  hostPorts: number[];
  healthcheck?: boolean;
}

export type DependsOn = Record<string, { condition: 'service_healthy' | 'service_started' }>;

export interface PlannedService {
  entry: TemplateEntry;
  code: string;
  ports: Array<{ host_port: string; container_port: string }>;
  environment: Array<{ key: string; value: string }>;
  volumes: Array<{ host_path: string | null; container_path: string }>;
  healthcheck?: TemplateHealthcheck;
  command?: string;
  depends_on?: DependsOn;
}

export interface TemplateLink {
  /** The service that requires. */
  service: string;
  as: string;
  kind: string;
  /** The service that provides. */
  provider: string;
  /** Added now (true) or already in the stack (false). */
  added: boolean;
}

export interface TemplatePlan {
  /** Dependencies first, the asked-for entry last. */
  services: PlannedService[];
  links: TemplateLink[];
}

/** A template cannot be planned: the message names the entry and what is missing. */
export class TemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateError';
  }
}

/** The name of a project secret a service's `{{secret:NAME}}` stands for: `${SERVICE_NAME}`. */
export function secretNameFor(service: string, name: string): string {
  const full = `${service}_${name}`.toUpperCase().replace(/[^A-Z0-9_]/g, '_');
  return /^[0-9]/.test(full) ? `S_${full}` : full;
}

/** The repository of an image reference, without tag, digest, docker.io or library/. */
export function repositoryOf(image: string): string {
  let name = image.split('@')[0]!;
  const colon = name.lastIndexOf(':');
  if (colon > name.lastIndexOf('/')) name = name.slice(0, colon);
  return name.replace(/^(docker\.io|index\.docker\.io|registry-1\.docker\.io)\//, '').replace(/^library\//, '');
}

const PLACEHOLDER = /\{\{\s*([^{}]+?)\s*\}\}/g;

interface FillContext {
  service: string;
  published: Map<string, string>;
  dependencies: Map<string, Record<string, string>>;
  env?: (key: string) => string | undefined;
}

function fill(text: string, context: FillContext, where: string): string {
  return text.replace(PLACEHOLDER, (_whole, reference: string) => {
    if (reference === 'service') return context.service;
    const [head, ...rest] = reference.split(':');
    const argument = rest.join(':');
    if (head === 'secret' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(argument)) return `\${${secretNameFor(context.service, argument)}}`;
    if (head === 'published' && /^\d+$/.test(argument)) return context.published.get(argument) || argument;
    if (head === 'env' && context.env) {
      const value = context.env(argument);
      if (value !== undefined) return value;
      throw new TemplateError(`${where}: {{env:${argument}}}: the service has no variable ${argument}`);
    }
    const dot = reference.indexOf('.');
    if (dot > 0) {
      const exports = context.dependencies.get(reference.slice(0, dot));
      const value = exports?.[reference.slice(dot + 1)];
      if (value !== undefined) return value;
    }
    throw new TemplateError(`${where}: {{${reference}}} does not resolve (a requirement's export, {{service}}, {{secret:NAME}} or {{published:PORT}})`);
  });
}

/** The catalog entry a service of the stack runs, by its image. */
const entryOfService = (catalog: readonly TemplateEntry[], service: StackService) => {
  const repository = repositoryOf(service.image);
  return catalog.find((entry) => entry.image === repository);
};

/** What a service of the stack exports, its own environment filling `{{env:KEY}}`. */
function exportsOf(entry: TemplateEntry, service: StackService): Record<string, string> {
  const own = new Map(service.environment.map((variable) => [variable.key, variable.value]));
  const defaults = new Map(entry.environment.map((variable) => [variable.key, variable.value]));
  const context: FillContext = {
    service: service.code,
    published: new Map(),
    dependencies: new Map(),
    // A variable the service lost falls back to the entry's default for it.
    env: (key) => own.get(key) ?? (defaults.has(key) ? fill(defaults.get(key)!, { service: service.code, published: new Map(), dependencies: new Map() }, entry.code) : undefined),
  };
  return Object.fromEntries(Object.entries(entry.template?.exports ?? {}).map(([key, value]) => [key, fill(value, context, `${entry.code} exports ${key}`)]));
}

const providesKind = (entry: TemplateEntry | undefined, kind: string) => Boolean(entry?.template?.provides?.includes(kind));

function uniqueName(wish: string, taken: Set<string>): string {
  const base = trimDashes(wish.toLowerCase().replace(/[^a-z0-9._-]+/g, '-')).slice(0, 44) || 'app';
  let name = base;
  for (let n = 2; taken.has(name); n += 1) name = `${base}-${n}`;
  return name;
}

/**
 * Plans adding catalog entry `code` to a stack that has `stack`: what it requires is linked to a
 * service of the stack that provides it, or added (its `default`, recursively); its environment is
 * filled in; its host ports move up past those the stack publishes; names are the entry's code or the
 * next free one (code-2, ...).
 */
export function planTemplate(catalog: readonly TemplateEntry[], code: string, stack: readonly StackService[]): TemplatePlan {
  const services: PlannedService[] = [];
  const links: TemplateLink[] = [];
  const present: StackService[] = [...stack];
  const taken = new Set(stack.map((service) => service.code));
  const usedPorts = new Set(stack.flatMap((service) => service.hostPorts));

  const add = (entry: TemplateEntry, chain: string[]): PlannedService => {
    if (chain.includes(entry.code)) throw new TemplateError(`Catalog app "${entry.code}" requires itself (${[...chain, entry.code].join(' → ')})`);
    const dependencies = new Map<string, Record<string, string>>();
    const dependsOn: DependsOn = {};
    const pending: TemplateLink[] = [];
    for (const requirement of entry.template?.requires ?? []) {
      const existing = present.find((service) => providesKind(entryOfService(catalog, service), requirement.kind));
      let provider: { code: string; exports: Record<string, string>; healthy: boolean; added: boolean };
      if (existing) {
        provider = { code: existing.code, exports: exportsOf(entryOfService(catalog, existing)!, existing), healthy: Boolean(existing.healthcheck), added: false };
      } else {
        const candidate =
          catalog.find((other) => other.code === requirement.default && providesKind(other, requirement.kind)) ?? catalog.find((other) => providesKind(other, requirement.kind));
        if (!candidate) throw new TemplateError(`${entry.name} requires ${requirement.description ?? requirement.kind} and the catalog has no app that provides "${requirement.kind}"`);
        const planned = add(candidate, [...chain, entry.code]);
        const asService: StackService = { code: planned.code, image: `${candidate.image}:${candidate.tag}`, environment: planned.environment, hostPorts: [] };
        provider = { code: planned.code, exports: exportsOf(candidate, asService), healthy: Boolean(planned.healthcheck), added: true };
      }
      dependencies.set(requirement.as, provider.exports);
      dependsOn[provider.code] = { condition: provider.healthy ? 'service_healthy' : 'service_started' };
      pending.push({ service: '', as: requirement.as, kind: requirement.kind, provider: provider.code, added: provider.added });
    }

    const name = uniqueName(entry.code, taken);
    taken.add(name);
    const published = new Map<string, string>();
    const ports = entry.ports.map((port) => {
      if (!port.host_port) return { host_port: '', container_port: port.container_port };
      let host = Number(port.host_port);
      while (usedPorts.has(host) && host < 65_535) host += 1;
      usedPorts.add(host);
      published.set(port.container_port, String(host));
      return { host_port: String(host), container_port: port.container_port };
    });
    const context: FillContext = { service: name, published, dependencies };
    const environment = entry.environment.map(({ key, value }) => ({ key, value: fill(value, context, `${entry.code}: ${key}`) }));
    const planned: PlannedService = {
      entry,
      code: name,
      ports,
      environment,
      volumes: entry.volumes.map(({ host_path, container_path }) => ({ host_path, container_path })),
      ...(entry.template?.healthcheck && { healthcheck: structuredClone(entry.template.healthcheck) }),
      ...(entry.template?.command && { command: fill(entry.template.command, context, `${entry.code}: command`) }),
      ...(Object.keys(dependsOn).length > 0 && { depends_on: dependsOn }),
    };
    services.push(planned);
    links.push(...pending.map((link) => ({ ...link, service: name })));
    present.push({ code: name, image: `${entry.image}:${entry.tag}`, environment, hostPorts: ports.map((p) => Number(p.host_port)).filter(Boolean), healthcheck: Boolean(planned.healthcheck) });
    return planned;
  };

  const entry = catalog.find((candidate) => candidate.code === code);
  if (!entry) throw new TemplateError(`No app "${code}" in the catalog`);
  add(entry, []);
  return { services, links };
}

/** `{{...}}` left in a text: a template reference that did not resolve. */
export const unresolvedReference = (text: string): string | undefined => /\{\{[^{}]*\}\}/.exec(text)?.[0];

/** Databases, caches and queues are a stack's services; everything else its web apps. */
export const listOfCategory = (category: string): 'service' | 'web' => (['Database', 'Cache', 'Queue'].includes(category) ? 'service' : 'web');
