// docker-compose generation from a project's normalised metadata (spec §3), with the reference's bugs fixed.
import { stringify } from 'yaml';
import type { ComposeExtras } from './compose-fields.ts';
import { trimDashes } from './inputs/text.ts';

/** The metadata cannot become a valid compose file; the message names the app and the field. */
export class ComposeError extends Error {
  /** Where in the metadata, e.g. `custom.web.0.network.1`. */
  readonly path: string;
  constructor(message: string, path: string) {
    super(message);
    this.name = 'ComposeError';
    this.path = path;
  }
}

// What the builder reads. Normalised metadata fits, and so does a parsed form or an older row with keys missing.
type Optional<T> = T | null | undefined;

export interface ImageFields {
  dockerhub_user?: Optional<string>;
  dockerhub_name?: Optional<string>;
  dockerhub_image?: Optional<string>;
}

/** The compose-vocabulary fields (compose-fields.ts), each also null in stored metadata. */
type Extras = { [K in keyof ComposeExtras]?: Optional<ComposeExtras[K]> };

export interface ComposeApp extends ImageFields, Extras {
  _id: string;
  code: string;
  restart: string;
  shared_ports?: Optional<ReadonlyArray<{ host_port?: Optional<string>; container_port: string; protocol?: Optional<string>; host_ip?: Optional<string> }>>;
  environment?: Optional<ReadonlyArray<{ key: string; value: string }>>;
  volumes?: Optional<ReadonlyArray<{ host_path?: Optional<string>; container_path?: Optional<string>; read_only?: Optional<boolean> }>>;
  network?: Optional<readonly string[]>;
}

export interface ComposeNetworkInput {
  id: string;
  name: string;
  attachable?: Optional<boolean>;
  driver?: Optional<string>;
  enable_ipv6?: Optional<boolean>;
  internal?: Optional<boolean>;
  external?: Optional<boolean>;
}

export interface ComposeInput {
  custom: {
    web: readonly ComposeApp[];
    service?: Optional<readonly ComposeApp[]>;
    feature?: Optional<readonly ComposeApp[]>;
    networks?: Optional<readonly ComposeNetworkInput[]>;
  };
}

export interface ComposePort {
  target: number;
  published?: number;
  protocol?: string;
  host_ip?: string;
}

export interface ComposeServiceVolume {
  source: string;
  target: string;
  type: 'volume' | 'bind';
  read_only?: true;
}

export interface ComposeService extends ComposeExtras {
  image: string;
  ports?: ComposePort[];
  expose?: string[];
  environment?: Record<string, string>;
  restart: string;
  volumes?: ComposeServiceVolume[];
  networks?: string[];
}

export interface ComposeVolume {
  driver: 'local';
  driver_opts: { type: 'none'; o: 'bind'; device: string };
  name: string;
}

export interface ComposeNetwork {
  attachable?: true;
  driver?: string;
  enable_ipv6?: true;
  internal?: true;
  external: boolean;
  name: string;
}

export interface ComposeDocument {
  services?: Record<string, ComposeService>;
  volumes?: Record<string, ComposeVolume>;
  networks?: Record<string, ComposeNetwork>;
}

/** Host directory under which named volumes live (the reference hard-codes it; the install service creates it). */
const NAMED_VOLUME_ROOT = '/root/project';

/**
 * The `image:` of an app (§3.3): `[user/]name[:latest]`, falling back to `dockerhub_image`.
 * `:latest` is added only when the name has no tag and there is no `dockerhub_image` (the reference's rule:
 * harmless, Docker pulls `latest` anyway). Fixed: the user is not put in front of a `dockerhub_image` that
 * already names its namespace (the reference made `trydirect/trydirect/mysql`). No image at all gives ''.
 */
export function dockerImageString(app: ImageFields): string {
  const user = app.dockerhub_user ?? '';
  const name = app.dockerhub_name ?? '';
  const image = app.dockerhub_image ?? '';
  if (name === '' && image === '') return '';
  const body = name !== '' ? name : image;
  const prefix = user !== '' && (name !== '' || !image.includes('/')) ? `${user}/` : '';
  const suffix = !name.includes(':') && image === '' ? ':latest' : '';
  return prefix + body + suffix;
}

const portPattern = /^\d{1,6}$/;
const toPort = (value: string): number | undefined => {
  const port = portPattern.test(value) ? Number(value) : Number.NaN;
  return port >= 1 && port <= 65_535 ? port : undefined;
};

/** A host path that names a Docker volume rather than a directory (ASCII: compose keys allow no more). */
const namedVolumePattern = /^[A-Za-z0-9_-]+$/;

const slug = (value: string) => trimDashes(value.replace(/[^A-Za-z0-9_-]+/g, '-'));

/** The volume of a mount without `host_path`: named after the app and the mount point, so it is stable. */
const volumeNameFor = (code: string, containerPath: string) =>
  [slug(code), slug(containerPath) || 'volume'].filter(Boolean).join('-');

const namedVolume = (name: string): ComposeVolume => ({
  driver: 'local',
  driver_opts: { type: 'none', o: 'bind', device: `${NAMED_VOLUME_ROOT}/${name}` },
  name,
});

function composeNetwork(network: ComposeNetworkInput): ComposeNetwork {
  // default_network is created on the host outside compose.
  const external = network.external === true || network.name === 'default_network';
  // Compose refuses an external network that also sets driver or options, so an external one carries its name only.
  if (external) return { external: true, name: network.name };
  return {
    ...(network.attachable === true && { attachable: true }),
    ...(network.driver && { driver: network.driver }),
    ...(network.enable_ipv6 === true && { enable_ipv6: true }),
    ...(network.internal === true && { internal: true }),
    external: false,
    name: network.name,
  };
}

interface Context {
  networkNames: Map<string, string>;
  volumes: Map<string, ComposeVolume>;
}

/** A service while building: the environment stays a Map until the document is made. */
type BuiltService = Omit<ComposeService, 'environment'> & { environment?: Map<string, string> };

function composeService(app: ComposeApp, where: string, context: Context): BuiltService {
  const image = dockerImageString(app);
  if (image === '') throw new ComposeError(`App "${app.code}" has no docker image`, `${where}.dockerhub_name`);

  // Fixed: a port without a host port is not published (Docker would pick a random host port); the
  // container port is listed under `expose`, reachable by the other services of the stack only.
  const ports: ComposePort[] = [];
  const expose: string[] = [];
  (app.shared_ports ?? []).forEach((port, index) => {
    const target = toPort(port.container_port);
    if (target === undefined) {
      throw new ComposeError(
        `Container port "${port.container_port}" of app "${app.code}" is not a port number`,
        `${where}.shared_ports.${index}.container_port`,
      );
    }
    const protocol = port.protocol || undefined;
    const hostIp = port.host_ip || undefined;
    const hostPort = port.host_port ?? '';
    if (hostPort === '') {
      const exposed = protocol ? `${target}/${protocol}` : String(target);
      if (!expose.includes(exposed)) expose.push(exposed);
      return;
    }
    const published = toPort(hostPort);
    if (published === undefined) {
      throw new ComposeError(
        `Host port "${hostPort}" of app "${app.code}" is not a port number`,
        `${where}.shared_ports.${index}.host_port`,
      );
    }
    if (!ports.some((p) => p.target === target && p.published === published && p.protocol === protocol && p.host_ip === hostIp)) {
      ports.push({ target, published, ...(protocol && { protocol }), ...(hostIp && { host_ip: hostIp }) });
    }
  });

  // A later duplicate key keeps the first position and takes the later value, as in the reference.
  const environment = new Map<string, string>();
  for (const variable of app.environment ?? []) environment.set(variable.key, String(variable.value));

  const volumes: ComposeServiceVolume[] = [];
  (app.volumes ?? []).forEach((volume, index) => {
    const target = volume.container_path ?? '';
    if (target === '') {
      throw new ComposeError(`Volume ${index} of app "${app.code}" has no container_path`, `${where}.volumes.${index}`);
    }
    const hostPath = volume.host_path ?? '';
    const source = hostPath === '' ? volumeNameFor(app.code, target) : hostPath;
    const named = namedVolumePattern.test(source);
    if (named) context.volumes.set(source, namedVolume(source));
    if (!volumes.some((v) => v.source === source && v.target === target)) {
      volumes.push({ source, target, type: named ? 'volume' : 'bind', ...(volume.read_only === true && { read_only: true as const }) });
    }
  });

  const networks: string[] = [];
  (app.network ?? []).forEach((id, index) => {
    const name = context.networkNames.get(id);
    if (name === undefined) {
      throw new ComposeError(
        `Unknown network id "${id}" in app "${app.code}" (${app._id}): it is not in custom.networks`,
        `${where}.network.${index}`,
      );
    }
    if (!networks.includes(name)) networks.push(name);
  });

  return {
    image,
    ...(ports.length > 0 && { ports }),
    ...(expose.length > 0 && { expose }),
    ...(environment.size > 0 && { environment }),
    restart: app.restart,
    ...(volumes.length > 0 && { volumes }),
    ...(networks.length > 0 && { networks }),
    ...extrasOf(app),
  };
}

const isEmpty = (value: unknown) =>
  value === null || value === undefined || value === '' || (Array.isArray(value) && value.length === 0) || (typeof value === 'object' && Object.keys(value).length === 0);

/**
 * The compose-vocabulary fields, as the form has them (compose-fields.ts validated them): what a
 * compose file said comes back the same. Empty ones are left out, as an empty command always was.
 */
function extrasOf(app: ComposeApp): ComposeExtras {
  const extras: Record<string, unknown> = {};
  for (const key of EXTRA_KEYS) {
    const value = app[key];
    if (!isEmpty(value)) extras[key] = value;
  }
  return extras as ComposeExtras;
}

const EXTRA_KEYS = ['command', 'entrypoint', 'depends_on', 'healthcheck', 'user', 'working_dir', 'labels', 'cap_add', 'cap_drop', 'ulimits', 'logging', 'extra_hosts'] as const;

// Mappings keyed by user input are Maps while building: a plain object would move integer-like keys first.
const toRecord = <T>(map: Map<string, T>): Record<string, T> => Object.fromEntries(map);

function serviceRecord(service: BuiltService): ComposeService {
  const { environment, ...rest } = service;
  // Spreading the whole service keeps `environment` at its place in the key order.
  return environment ? { ...service, environment: toRecord(environment) } : rest;
}

const yamlOptions = {
  indentSeq: false,
  lineWidth: 0,
  singleQuote: true,
  // Quote what a YAML 1.1 reader would take for a boolean or a number too (`restart: 'no'`).
  compat: 'yaml-1.1',
} as const;

/**
 * The compose file of a project (§3.2): services from web, then service, then feature apps (keyed by
 * `code`); named volumes; the stack's networks. Pure: no file is written.
 */
export function buildCompose(metadata: ComposeInput): { yaml: string; document: ComposeDocument } {
  const { custom } = metadata;
  const declaredNetworks = custom.networks ?? [];
  const context: Context = { networkNames: new Map(), volumes: new Map() };
  // The first entry of an id wins, as the reference's lookup.
  for (const network of declaredNetworks) {
    if (!context.networkNames.has(network.id)) context.networkNames.set(network.id, network.name);
  }

  const services = new Map<string, BuiltService>();
  const lists = [
    ['web', custom.web],
    ['service', custom.service],
    ['feature', custom.feature],
  ] as const;
  for (const [list, apps] of lists) {
    (apps ?? []).forEach((app, index) => {
      services.set(app.code, composeService(app, `custom.${list}.${index}`, context));
    });
  }

  const networks = new Map<string, ComposeNetwork>();
  for (const network of declaredNetworks) networks.set(network.name, composeNetwork(network));

  // No `version`: the compose specification calls it obsolete, and Docker warns about it.
  const tree = new Map<string, unknown>();
  if (services.size > 0) tree.set('services', services);
  if (context.volumes.size > 0) tree.set('volumes', context.volumes);
  if (networks.size > 0) tree.set('networks', networks);
  const yaml = stringify(tree, yamlOptions);

  const document: ComposeDocument = {
    ...(services.size > 0 && {
      services: Object.fromEntries([...services].map(([code, service]) => [code, serviceRecord(service)])),
    }),
    ...(context.volumes.size > 0 && { volumes: toRecord(context.volumes) }),
    ...(networks.size > 0 && { networks: toRecord(networks) }),
  };
  return { yaml, document };
}
