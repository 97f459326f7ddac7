// A docker-compose file read into a stack, without loss: every service keeps its name (db included),
// image, ports (host address and protocol), environment, volumes, networks, and the fields of
// compose-fields.ts. What Stacker cannot carry (a `build:` section, a bind mount of a local file, keys
// it does not know) is named in a note, never dropped silently. `stacker init --from-compose` (which
// writes stacker.yml), POST /project/import and the dashboard's import box all read through here.
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { COMPOSE_EXTRA_KEYS, composeExtraFields, composeNamePattern, restartPattern, SERVICE_NAME_MAX, type ComposeExtras } from './compose-fields.ts';

/** A service in compose's own words, as stacker.yml keeps it (its short syntax for ports and volumes). */
export interface ImportedService extends ComposeExtras {
  image: string;
  /** `[HOST_IP:]HOST:CONTAINER[/PROTOCOL]`, or `CONTAINER[/PROTOCOL]` reachable inside the stack only (compose's `expose`). */
  ports?: string[];
  environment?: Record<string, string>;
  /** `SOURCE:/target[:ro]` or `/target` (a named volume). */
  volumes?: string[];
  networks?: string[];
  restart?: string;
}

export interface ImportedNetwork {
  driver?: string;
  internal?: boolean;
  external?: boolean;
  attachable?: boolean;
  enable_ipv6?: boolean;
}

/** What was not carried over, or carried differently: for the user, with the service and field. */
export interface ImportNote {
  service?: string;
  field?: string;
  message: string;
}

export interface ImportedCompose {
  services: Record<string, ImportedService>;
  networks: Record<string, ImportedNetwork | null>;
  notes: ImportNote[];
}

/** The compose file cannot become a stack; `field` is where, e.g. `services.web.build`. */
export class ComposeImportError extends Error {
  readonly field: string;
  constructor(message: string, field: string) {
    super(message);
    this.name = 'ComposeImportError';
    this.field = field;
  }
}

export interface ImportOptions {
  /** Whether a relative bind source is a file (the CLI looks; the server cannot and guesses by its name). */
  isLocalFile?: (source: string) => boolean | undefined;
}

/** The largest compose file read (the API's body cap says the same). */
export const COMPOSE_SOURCE_MAX = 256 * 1024;

/** Short port syntax: host address (IPv4 or [IPv6]), host port, container port, protocol. */
export const portSyntax = /^(?:(\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-fA-F:.]+\]):)?(?:(\d{1,5}):)?(\d{1,5})(?:\/(tcp|udp))?$/;
/** Short volume syntax: source, target, mode. */
export const volumeSyntax = /^(?:([^:\s]+):)?(\/[^:\s]*)(?::(ro|rw))?$/;

const CARRIED = new Set(['image', 'ports', 'expose', 'environment', 'volumes', 'networks', 'restart', ...COMPOSE_EXTRA_KEYS]);
const NETWORK_FIELDS = ['driver', 'internal', 'external', 'attachable', 'enable_ipv6'] as const;
const TOP_LEVEL_READ = new Set(['services', 'networks', 'volumes', 'version', 'name']);

const asRecord = (value: unknown): Record<string, unknown> => (value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {});
const isRelative = (source: string) => /^(\.\.?(\/|$)|~)/.test(source);
/** Without a look at the disk: a relative path whose last part has an extension (nginx.conf, init.sql) is a file. */
const looksLikeFile = (source: string) => /\.[A-Za-z0-9]{1,10}$/.test(source.split('/').pop() ?? '');

/** Reads a compose file's text into services, networks and notes. */
export function readCompose(source: string, options: ImportOptions = {}): ImportedCompose {
  if (source.length > COMPOSE_SOURCE_MAX) throw new ComposeImportError(`the compose file is larger than ${COMPOSE_SOURCE_MAX / 1024} KiB`, '');
  const document = parseDocument(source, { uniqueKeys: true });
  if (document.errors.length > 0) throw new ComposeImportError(`the compose file is not valid YAML: ${document.errors[0]!.message.split('\n')[0]}`, '');
  const compose = asRecord(document.toJS({ maxAliasCount: 100 }));
  const services = asRecord(compose.services);
  if (Object.keys(services).length === 0) throw new ComposeImportError('the compose file has no services', 'services');
  const notes: ImportNote[] = [];
  const out: Record<string, ImportedService> = {};
  for (const [name, value] of Object.entries(services)) {
    if (name.length > SERVICE_NAME_MAX || !composeNamePattern.test(name)) {
      throw new ComposeImportError(`service "${name}": a service name is 1 to ${SERVICE_NAME_MAX} of letters, digits, ".", "_" and "-"`, `services.${name}`);
    }
    out[name] = readService(name, asRecord(value), options, notes);
  }
  const networks: Record<string, ImportedNetwork | null> = {};
  for (const [name, value] of Object.entries(asRecord(compose.networks))) {
    const network = asRecord(value);
    const kept: ImportedNetwork = {};
    for (const field of NETWORK_FIELDS) {
      if (network[field] === undefined) continue;
      if (field === 'driver') kept.driver = String(network.driver);
      else kept[field] = Boolean(network[field]);
    }
    const left = Object.keys(network).filter((field) => !(NETWORK_FIELDS as readonly string[]).includes(field));
    if (left.length) notes.push({ field: `networks.${name}`, message: `network "${name}": not carried over: ${left.join(', ')}` });
    networks[name] = Object.keys(kept).length ? kept : null;
  }
  // Networks a service names without declaring them: declared, as compose would refuse otherwise.
  for (const service of Object.values(out)) for (const network of service.networks ?? []) if (!(network in networks)) networks[network] = null;
  for (const [name, value] of Object.entries(asRecord(compose.volumes))) {
    const left = Object.keys(asRecord(value));
    if (left.length) notes.push({ field: `volumes.${name}`, message: `volume "${name}": ${left.join(', ')} not carried over (Stacker keeps named volumes on the server, under /root/project)` });
  }
  if (compose.version !== undefined) notes.push({ field: 'version', message: 'version: left out (the compose specification calls it obsolete)' });
  const leftTop = Object.keys(compose).filter((field) => !TOP_LEVEL_READ.has(field));
  if (leftTop.length) notes.push({ message: `not carried over: ${leftTop.join(', ')}` });
  return { services: out, networks, notes };
}

function readService(name: string, service: Record<string, unknown>, options: ImportOptions, notes: ImportNote[]): ImportedService {
  const note = (field: string, message: string) => notes.push({ service: name, field, message: `service "${name}": ${message}` });
  const where = (field: string) => `services.${name}.${field}`;
  if (typeof service.image !== 'string' || service.image === '') {
    const why = service.build !== undefined ? ' but build: (Stacker deploys images: build and push the image, then set image:)' : '';
    throw new ComposeImportError(`service "${name}" has no image${why}`, where(service.build !== undefined ? 'build' : 'image'));
  }
  if (service.image.length > 100) throw new ComposeImportError(`service "${name}": the image name is longer than 100 characters`, where('image'));
  if (service.build !== undefined) note('build', `build: not carried over (Stacker deploys images): image ${service.image} is deployed as it is on its registry`);
  const imported: ImportedService = { image: service.image };
  const ports = [...readPorts(service.ports, note), ...readExpose(service.expose, note)];
  if (ports.length) imported.ports = [...new Set(ports)];
  const environment = readEnvironment(service.environment, note);
  if (environment && Object.keys(environment).length) imported.environment = environment;
  const volumes = readVolumes(service.volumes, options, note);
  if (volumes.length) imported.volumes = volumes;
  const networks = readNetworks(service.networks, note);
  if (networks.length) imported.networks = networks;
  // Without restart, compose does not restart the container: said as such, since a stack's default is unless-stopped.
  const restart = service.restart === undefined ? 'no' : String(service.restart);
  if (!restartPattern.test(restart)) throw new ComposeImportError(`service "${name}": restart "${restart}" is not no, always, unless-stopped or on-failure[:N]`, where('restart'));
  imported.restart = restart;
  const extras: Record<string, unknown> = { ...service, depends_on: normaliseDependsOn(service.depends_on, note), healthcheck: normaliseHealthcheck(service.healthcheck, note) };
  for (const key of COMPOSE_EXTRA_KEYS) {
    if (extras[key] === undefined || extras[key] === null) continue;
    const parsed = (composeExtraFields[key] as z.ZodType).safeParse(extras[key]);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const path = [key, ...issue.path.map(String)].join('.');
      throw new ComposeImportError(`service "${name}": ${path}: ${issue.message}`, where(path));
    }
    (imported as unknown as Record<string, unknown>)[key] = parsed.data;
  }
  if (service.env_file !== undefined) note('env_file', 'env_file: not carried over (a local file): put its variables under environment');
  const left = Object.keys(service).filter((field) => !CARRIED.has(field) && field !== 'build' && field !== 'env_file');
  if (left.length) note(left[0]!, `not carried over: ${left.join(', ')}`);
  return imported;
}

function readPorts(value: unknown, note: (field: string, message: string) => void): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new ComposeImportError('ports must be a list', 'ports');
  return value.flatMap((entry, index): string[] => {
    if (typeof entry === 'number' || typeof entry === 'string') {
      const text = String(entry);
      const match = portSyntax.exec(text);
      if (!match) {
        note(`ports.${index}`, `port "${text}" is not carried over (port ranges and random host ports are not supported)`);
        return [];
      }
      return [text];
    }
    const long = asRecord(entry);
    if (long.target === undefined) return [];
    const left = Object.keys(long).filter((key) => !['target', 'published', 'protocol', 'host_ip'].includes(key));
    if (left.length) note(`ports.${index}`, `port ${String(long.target)}: ${left.join(', ')} not carried over`);
    const ip = typeof long.host_ip === 'string' && long.host_ip ? (long.host_ip.includes(':') ? `[${long.host_ip}]:` : `${long.host_ip}:`) : '';
    const protocol = long.protocol === 'udp' ? '/udp' : long.protocol === 'tcp' ? '/tcp' : '';
    const text = long.published !== undefined && long.published !== '' ? `${ip}${String(long.published)}:${String(long.target)}${protocol}` : `${String(long.target)}${protocol}`;
    if (!portSyntax.test(text)) {
      note(`ports.${index}`, `port "${text}" is not carried over (port ranges are not supported)`);
      return [];
    }
    return [text];
  });
}

function readExpose(value: unknown, note: (field: string, message: string) => void): string[] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((entry, index) => {
    const text = String(entry);
    if (/^\d{1,5}(\/(tcp|udp))?$/.test(text)) return [text];
    note(`expose.${index}`, `expose "${text}" is not carried over (ranges are not supported)`);
    return [];
  });
}

function readEnvironment(value: unknown, note: (field: string, message: string) => void): Record<string, string> | undefined {
  const entries: Array<[string, unknown]> = Array.isArray(value)
    ? value.map((entry) => {
        const text = String(entry);
        const at = text.indexOf('=');
        return at === -1 ? [text, null] : [text.slice(0, at), text.slice(at + 1)];
      })
    : Object.entries(asRecord(value));
  if (entries.length === 0) return undefined;
  const environment: Record<string, string> = {};
  for (const [key, inner] of entries) {
    if (inner === null || inner === undefined) note(`environment.${key}`, `${key} has no value (compose takes it from the shell that runs it): set it, it is empty for now`);
    environment[key] = inner === null || inner === undefined ? '' : String(inner);
  }
  return environment;
}

function readVolumes(value: unknown, options: ImportOptions, note: (field: string, message: string) => void): string[] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((entry, index): string[] => {
    let source: string | undefined;
    let target: string;
    let readOnly = false;
    if (typeof entry === 'string') {
      const match = volumeSyntax.exec(entry);
      if (!match) {
        note(`volumes.${index}`, `volume "${entry}" is not carried over (it is not SOURCE:/target[:ro|rw])`);
        return [];
      }
      [, source, target] = match as unknown as [string, string | undefined, string];
      readOnly = match[3] === 'ro';
    } else {
      const long = asRecord(entry);
      if (typeof long.target !== 'string') return [];
      if (long.type === 'tmpfs' || long.type === 'npipe') {
        note(`volumes.${index}`, `volume ${long.target}: type ${String(long.type)} is not carried over`);
        return [];
      }
      const left = Object.keys(long).filter((key) => !['type', 'source', 'target', 'read_only'].includes(key));
      if (left.length) note(`volumes.${index}`, `volume ${long.target}: ${left.join(', ')} not carried over`);
      source = typeof long.source === 'string' && long.source ? long.source : undefined;
      target = long.target;
      readOnly = long.read_only === true;
    }
    if (source !== undefined && isRelative(source) && (options.isLocalFile?.(source) ?? looksLikeFile(source))) {
      note(`volumes.${index}`, `the bind mount of the local file ${source} (${target}) is not carried over: the server does not have it; put it in the image or a volume`);
      return [];
    }
    return [`${source === undefined ? '' : `${source}:`}${target}${readOnly ? ':ro' : ''}`];
  });
}

function readNetworks(value: unknown, note: (field: string, message: string) => void): string[] {
  if (Array.isArray(value)) return value.map(String);
  return Object.entries(asRecord(value)).map(([network, settings]) => {
    const left = Object.keys(asRecord(settings));
    if (left.length) note(`networks.${network}`, `network ${network}: ${left.join(', ')} not carried over`);
    return network;
  });
}

/** The map form keeps each condition; restart and required (newer than the specification's schema) are named. */
function normaliseDependsOn(value: unknown, note: (field: string, message: string) => void): unknown {
  if (value === undefined || value === null || Array.isArray(value)) return value;
  return Object.fromEntries(
    Object.entries(asRecord(value)).map(([service, settings]) => {
      const { condition, ...rest } = asRecord(settings);
      if (Object.keys(rest).length) note(`depends_on.${service}`, `depends_on ${service}: ${Object.keys(rest).join(', ')} not carried over`);
      return [service, { condition: condition ?? 'service_started' }];
    }),
  );
}

function normaliseHealthcheck(value: unknown, note: (field: string, message: string) => void): unknown {
  if (value === undefined || value === null) return value;
  const { start_interval: startInterval, ...rest } = asRecord(value);
  if (startInterval !== undefined) note('healthcheck.start_interval', 'healthcheck: start_interval not carried over');
  return rest;
}

// ---- to the project form ---------------------------------------------------------------------------

const splitImage = (image: string) => {
  const colon = image.lastIndexOf(':');
  return colon > image.lastIndexOf('/') ? { repository: image.slice(0, colon), tag: image.slice(colon + 1) } : { repository: image, tag: '' };
};

/** The `shared_ports` entry of a port in short syntax (`portSyntax`). */
export function formPort(port: string): { host_port: string; container_port: string; protocol?: string; host_ip?: string } {
  const [, ip, host, container, protocol] = portSyntax.exec(port) ?? [];
  return { host_port: host ?? '', container_port: container ?? port, ...(protocol && { protocol }), ...(ip && { host_ip: ip.replace(/^\[|\]$/g, '') }) };
}

/** The `volumes` entry of a volume in short syntax (`volumeSyntax`). */
export function formVolume(volume: string): { host_path: string | null; container_path: string; read_only?: true } {
  const [, source, target, mode] = volumeSyntax.exec(volume) ?? [];
  return { host_path: source ?? null, container_path: target ?? volume, ...(mode === 'ro' && { read_only: true as const }) };
}

/**
 * The project form's app for a service in compose's words: stacker.yml's services (cli/stacker) and
 * imported compose files become apps the same way.
 */
export function serviceToApp(code: string, service: ImportedService, app: { kind: string; name?: string; custom?: boolean; domain?: string }): Record<string, unknown> {
  const image = service.image.length <= 50 ? { dockerhub_name: service.image } : { dockerhub_image: splitImage(service.image).tag ? service.image : `${service.image}:latest` };
  const extras: Record<string, unknown> = {};
  for (const key of COMPOSE_EXTRA_KEYS) if (service[key] !== undefined) extras[key] = service[key];
  return {
    _id: code,
    name: app.name ?? code.slice(0, 50),
    code,
    type: app.kind,
    ...image,
    restart: service.restart ?? 'unless-stopped',
    custom: app.custom ?? true,
    shared_ports: (service.ports ?? []).map(formPort),
    environment: Object.entries(service.environment ?? {}).map(([key, value]) => ({ key, value })),
    volumes: (service.volumes ?? []).map(formVolume),
    network: service.networks ?? [],
    ...extras,
    ...(app.domain !== undefined && { domain: app.domain }),
  };
}

/** The project form (POST /project) of an imported compose file: every service a web app, in the file's order. */
export function importedToForm(projectName: string, imported: Pick<ImportedCompose, 'services' | 'networks'>): { custom: Record<string, unknown> } {
  return {
    custom: {
      custom_stack_code: projectName,
      project_name: projectName,
      web: Object.entries(imported.services).map(([code, service]) => serviceToApp(code, service, { kind: 'web' })),
      service: [],
      feature: [],
      networks: Object.entries(imported.networks).map(([name, network]) => ({ id: name, name, ...(network ?? {}) })),
    },
  };
}
