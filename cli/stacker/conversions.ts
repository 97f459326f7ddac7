// stacker.yml converted: to the project form POST /project takes, from a docker-compose.yml, and from
// the server's app catalog. The file itself (schema, parsing) is stacker-file.ts.
import { parseDocument } from 'yaml';
import type { CatalogTemplateFields } from '../../functions/services/templates.ts';
import { portPattern, RESTART_POLICIES, SERVICE_KINDS, volumePattern, type StackerFile, type StackerService } from './stacker-file.ts';

// ---- to the project form -------------------------------------------------------------------------

const splitImage = (image: string) => {
  const colon = image.lastIndexOf(':');
  return colon > image.lastIndexOf('/') ? { repository: image.slice(0, colon), tag: image.slice(colon + 1) } : { repository: image, tag: '' };
};

export function environmentOf(service: StackerService): Array<{ key: string; value: string }> {
  const environment = service.environment;
  if (!environment) return [];
  if (Array.isArray(environment)) {
    return environment.map((entry) => {
      const at = entry.indexOf('=');
      return at === -1 ? { key: entry, value: '' } : { key: entry.slice(0, at), value: entry.slice(at + 1) };
    });
  }
  return Object.entries(environment).map(([key, value]) => ({ key, value: value === null ? '' : String(value) }));
}

/** The project form (POST /project, PUT /project/{id}) a stacker.yml stands for. */
export function toProjectForm(file: StackerFile): { custom: Record<string, unknown> } {
  const lists: Record<(typeof SERVICE_KINDS)[number], unknown[]> = { web: [], service: [], feature: [] };
  for (const [code, service] of Object.entries(file.services)) {
    const image = service.image.length <= 50 ? { dockerhub_name: service.image } : { dockerhub_image: splitImage(service.image).tag ? service.image : `${service.image}:latest` };
    lists[service.kind].push({
      _id: code,
      name: service.name ?? code,
      code,
      type: service.kind,
      ...image,
      restart: service.restart,
      custom: service.catalog === undefined,
      shared_ports: (service.ports ?? []).map((port) => {
        const match = portPattern.exec(String(port))!;
        return { host_port: match[1] ?? '', container_port: match[2]!, ...(match[3] && { protocol: match[3] }) };
      }),
      environment: environmentOf(service),
      volumes: (service.volumes ?? []).map((volume) => {
        const match = volumePattern.exec(volume)!;
        return { host_path: match[1] ?? null, container_path: match[2]! };
      }),
      network: service.networks ?? [],
      ...(service.command !== undefined && { command: service.command }),
      ...(service.entrypoint !== undefined && { entrypoint: service.entrypoint }),
      ...(service.domain !== undefined && { domain: service.domain }),
    });
  }
  const networks = Object.entries(file.networks ?? {}).map(([name, network]) => ({ id: name, name, ...(network ?? {}) }));
  return {
    custom: {
      custom_stack_code: file.name,
      project_name: file.name,
      ...(file.description !== undefined && { custom_stack_description: file.description }),
      web: lists.web,
      service: lists.service,
      feature: lists.feature,
      networks,
    },
  };
}

// ---- from docker-compose.yml ---------------------------------------------------------------------

export interface Converted {
  file: Record<string, unknown>;
  /** What was changed or left out, for the user. */
  notes: string[];
}

const CARRIED = new Set(['image', 'ports', 'environment', 'volumes', 'networks', 'restart', 'command', 'entrypoint', 'container_name']);

const asRecord = (value: unknown): Record<string, unknown> => (value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {});

/** A service name the server takes (3 to 50 of [a-zA-Z0-9._-]). */
export function serviceNameFor(wish: string, taken: Set<string>): string {
  let base = wish.replace(/[^a-zA-Z0-9._-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 46) || 'app';
  if (base.length < 3) base = `${base}-app`;
  let name = base;
  for (let n = 2; taken.has(name); n++) name = `${base}-${n}`;
  taken.add(name);
  return name;
}

export function fromCompose(source: string, projectName: string): Converted {
  const document = parseDocument(source);
  if (document.errors.length > 0) throw new Error(`the compose file is not valid YAML: ${document.errors[0]!.message.split('\n')[0]}`);
  const compose = asRecord(document.toJS());
  const services = asRecord(compose.services);
  if (Object.keys(services).length === 0) throw new Error('the compose file has no services');
  const notes: string[] = [];
  const taken = new Set<string>();
  const out: Record<string, Record<string, unknown>> = {};
  for (const [key, value] of Object.entries(services)) {
    const service = asRecord(value);
    const name = serviceNameFor(key, taken);
    if (name !== key) notes.push(`service "${key}" is named "${name}" (the server needs 3 to 50 of letters, digits, ".", "_", "-"); other services reach it by that name now`);
    if (typeof service.image !== 'string') {
      throw new Error(`service "${key}" has no image${service.build ? ' (build: is not supported: build and push the image, then set image:)' : ''}`);
    }
    const converted: Record<string, unknown> = { image: service.image };
    const ports = composePorts(service.ports, key, notes);
    if (ports.length) converted.ports = ports;
    const environment = composeEnvironment(service.environment);
    if (environment && Object.keys(environment).length) converted.environment = environment;
    const volumes = composeVolumes(service.volumes, key, notes);
    if (volumes.length) converted.volumes = volumes;
    const networks = Array.isArray(service.networks) ? service.networks.map(String) : Object.keys(asRecord(service.networks));
    if (networks.length) converted.networks = networks;
    if (typeof service.restart === 'string') {
      const restart = service.restart.replace(/:.*$/, '');
      if ((RESTART_POLICIES as readonly string[]).includes(restart)) converted.restart = restart;
      else notes.push(`service "${key}": restart "${service.restart}" is not one of ${RESTART_POLICIES.join(', ')}; left at unless-stopped`);
    }
    for (const field of ['command', 'entrypoint'] as const) {
      const given = service[field];
      if (typeof given === 'string') converted[field] = given;
      else if (Array.isArray(given)) converted[field] = given.map(String).join(' ');
    }
    const left = Object.keys(service).filter((field) => !CARRIED.has(field));
    if (left.length) notes.push(`service "${key}": not carried over: ${left.join(', ')}`);
    out[name] = converted;
  }
  const file: Record<string, unknown> = { name: projectName, services: out };
  const networks: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(asRecord(compose.networks))) {
    const network = asRecord(value);
    const kept: Record<string, unknown> = {};
    for (const field of ['driver', 'internal', 'external', 'attachable', 'enable_ipv6'] as const) {
      if (network[field] !== undefined) kept[field] = field === 'driver' ? String(network[field]) : Boolean(network[field]);
    }
    networks[name] = Object.keys(kept).length ? kept : null;
  }
  // Networks a service names without declaring them: declared, as compose would create them.
  for (const service of Object.values(out)) for (const network of (service.networks as string[] | undefined) ?? []) if (!(network in networks)) networks[network] = null;
  if (Object.keys(networks).length) file.networks = networks;
  const leftTop = Object.keys(compose).filter((field) => !['services', 'networks', 'volumes', 'version', 'name'].includes(field));
  if (leftTop.length) notes.push(`not carried over: ${leftTop.join(', ')}`);
  return { file, notes };
}

function composePorts(value: unknown, service: string, notes: string[]): string[] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((entry): string[] => {
    if (typeof entry === 'number') return [String(entry)];
    if (typeof entry === 'string') {
      // [HOST_IP:][HOST:]CONTAINER[/PROTOCOL] -> [HOST:]CONTAINER[/PROTOCOL]; ranges: left out.
      const [body = '', protocolName] = entry.split('/');
      const protocol = protocolName ? `/${protocolName}` : '';
      const parts = body.split(':');
      const container = parts.at(-1)!;
      const host = parts.length >= 2 ? parts.at(-2)! : undefined;
      if (!/^\d+$/.test(container) || (host !== undefined && !/^\d*$/.test(host))) {
        notes.push(`service "${service}": port "${entry}" is not carried over (ranges are not supported)`);
        return [];
      }
      if (parts.length >= 3) notes.push(`service "${service}": port "${entry}" is published on all addresses (stacker.yml has no host IP)`);
      return [host ? `${host}:${container}${protocol}` : `${container}${protocol}`];
    }
    const long = asRecord(entry);
    if (long.target === undefined) return [];
    const protocol = long.protocol === 'udp' ? '/udp' : '';
    return [long.published !== undefined ? `${long.published}:${long.target}${protocol}` : `${long.target}${protocol}`];
  });
}

function composeEnvironment(value: unknown): Record<string, string> | undefined {
  if (Array.isArray(value)) {
    return Object.fromEntries(
      value.map((entry) => {
        const text = String(entry);
        const at = text.indexOf('=');
        return at === -1 ? [text, ''] : [text.slice(0, at), text.slice(at + 1)];
      }),
    );
  }
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, inner === null || inner === undefined ? '' : String(inner)]));
  return undefined;
}

function composeVolumes(value: unknown, service: string, notes: string[]): string[] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((entry): string[] => {
    if (typeof entry === 'string') {
      const parts = entry.split(':');
      if (parts.length === 1) return [parts[0]!];
      if (parts.length >= 3) notes.push(`service "${service}": volume "${entry}": the mode "${parts.slice(2).join(':')}" is not carried over`);
      return [`${parts[0]}:${parts[1]}`];
    }
    const long = asRecord(entry);
    if (typeof long.target !== 'string') return [];
    if (long.read_only) notes.push(`service "${service}": volume ${long.target}: read_only is not carried over`);
    return [typeof long.source === 'string' && long.source ? `${long.source}:${long.target}` : long.target];
  });
}

// ---- from the catalog ----------------------------------------------------------------------------

export interface CatalogEntry {
  code: string;
  name: string;
  category: string;
  description: string;
  image: string;
  tag: string;
  ports: Array<{ host_port: string; container_port: string }>;
  environment: Array<{ key: string; value: string }>;
  volumes: Array<{ host_path: string | null; container_path: string }>;
  /** What makes it a template (functions/services/templates.ts). */
  template?: CatalogTemplateFields | null;
}

/** Host ports already published by the services of a (raw) stacker.yml. */
export function publishedHostPorts(services: Record<string, unknown>): Set<number> {
  const used = new Set<number>();
  for (const service of Object.values(services)) {
    for (const port of (asRecord(service).ports as unknown[] | undefined) ?? []) {
      const match = portPattern.exec(String(port));
      if (match?.[1]) used.add(Number(match[1]));
    }
  }
  return used;
}
