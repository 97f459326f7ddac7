// The project form's normalised `metadata` (what the project row keeps; the form itself is in
// inputs/projects.ts), and the helpers that read apps and redact secrets from it.
import {
  appLists,
  type AppListName,
  type ProjectApp,
  type ProjectEnvVar,
  type ProjectForm,
  type ProjectIconVariant,
  type ProjectNetwork,
  type ProjectPort,
  type ProjectVersion,
  type ProjectVolume,
} from './inputs/projects.ts';

// ---- normalised metadata ------------------------------------------------------------------------

/** Every known key present, absent optionals as null (as the reference stores the parsed form). */
type Normalised<T> = { [K in keyof T]-?: undefined extends T[K] ? Exclude<T[K], undefined> | null : T[K] };

/** Keys a form of the reference does not have: kept only when given. */
type Added = 'host_ip' | 'read_only' | 'depends_on' | 'healthcheck' | 'user' | 'working_dir' | 'labels' | 'cap_add' | 'cap_drop' | 'ulimits' | 'logging' | 'extra_hosts';
type WithAdded<T> = Omit<Normalised<T>, Added & keyof T> & { [K in Added & keyof T]?: Exclude<T[K], null | undefined> };

export type NormalisedPort = WithAdded<ProjectPort>;
export type NormalisedVolume = WithAdded<ProjectVolume>;
export type NormalisedEnvVar = ProjectEnvVar;
export type NormalisedVersion = Normalised<ProjectVersion>;
export type NormalisedIcon = { light: NormalisedIconVariant; dark: NormalisedIconVariant };
type NormalisedIconVariant = Normalised<ProjectIconVariant>;
export type NormalisedNetwork = Normalised<ProjectNetwork>;

export type NormalisedApp = Omit<WithAdded<ProjectApp>, 'descr' | 'versions' | 'icon' | 'volumes' | 'shared_ports'> & {
  /** Omitted when null, as the reference does. */
  descr?: string;
  versions: NormalisedVersion[] | null;
  icon: NormalisedIcon | null;
  volumes: NormalisedVolume[] | null;
  shared_ports: NormalisedPort[] | null;
};

export interface ProjectMetadata {
  custom: {
    web: NormalisedApp[];
    feature: NormalisedApp[] | null;
    service: NormalisedApp[] | null;
    custom_stack_code: string;
    project_git_url: string | null;
    custom_stack_category: string[] | null;
    custom_stack_short_description: string | null;
    custom_stack_description: string | null;
    project_name: string | null;
    project_overview: string | null;
    project_description: string | null;
    networks: NormalisedNetwork[] | null;
  };
}

/** The entries that are neither null nor undefined. */
const given = <T extends Record<string, unknown>>(fields: T): { [K in keyof T]?: Exclude<T[K], null | undefined> } =>
  Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== null && value !== undefined)) as never;

const orNull = <T>(value: T | null | undefined): T | null => (value === undefined ? null : value);
const mapOrNull = <T, U>(items: T[] | null | undefined, map: (item: T) => U): U[] | null => (items ? items.map(map) : null);

const normaliseIconVariant = (variant: ProjectIconVariant): NormalisedIconVariant => ({
  width: orNull(variant.width),
  height: orNull(variant.height),
  image: orNull(variant.image),
});

const normaliseVersion = (version: ProjectVersion): NormalisedVersion => ({
  _id: version._id,
  name: version.name,
  version: version.version,
  tag: version.tag,
  _etag: orNull(version._etag),
  _created: orNull(version._created),
  _updated: orNull(version._updated),
  update_status: orNull(version.update_status),
  app_id: orNull(version.app_id),
});

/** One app with the reference's key order (§1.3). */
function normaliseApp(app: ProjectApp): NormalisedApp {
  const head = {
    _etag: orNull(app._etag),
    _id: app._id,
    _created: orNull(app._created),
    _updated: orNull(app._updated),
    name: app.name,
    code: app.code,
    type: app.type,
    role: orNull(app.role),
    default: orNull(app.default),
    versions: mapOrNull(app.versions, normaliseVersion),
    dockerhub_user: orNull(app.dockerhub_user),
    dockerhub_name: orNull(app.dockerhub_name),
    dockerhub_image: orNull(app.dockerhub_image),
    dockerhub_password: orNull(app.dockerhub_password),
    cpu: orNull(app.cpu),
    disk_size: orNull(app.disk_size),
    ram_size: orNull(app.ram_size),
    popularity: orNull(app.popularity),
    commercial: orNull(app.commercial),
    subscription: app.subscription ?? null,
    autodeploy: orNull(app.autodeploy),
    suggested: orNull(app.suggested),
    dependency: app.dependency ?? null,
    avoid_render: orNull(app.avoid_render),
    price: app.price ? { value: app.price.value } : null,
    icon: app.icon ? { light: normaliseIconVariant(app.icon.light), dark: normaliseIconVariant(app.icon.dark) } : null,
    domain: orNull(app.domain),
    category_id: orNull(app.category_id),
    parent_app_id: orNull(app.parent_app_id),
  };
  const descr = app.descr == null ? {} : { descr: app.descr };
  const tail = {
    full_description: orNull(app.full_description),
    description: orNull(app.description),
    plan_type: orNull(app.plan_type),
    ansible_var: orNull(app.ansible_var),
    repo_dir: orNull(app.repo_dir),
    url_app: orNull(app.url_app),
    url_git: orNull(app.url_git),
    restart: app.restart,
    command: orNull(app.command),
    entrypoint: orNull(app.entrypoint),
    volumes: mapOrNull(app.volumes, (volume) => ({
      host_path: orNull(volume.host_path),
      container_path: volume.container_path,
      ...given({ read_only: volume.read_only }),
    })),
    environment: mapOrNull(app.environment, (variable) => ({ key: variable.key, value: variable.value })),
    network: orNull(app.network),
    shared_ports: mapOrNull(app.shared_ports, (port) => ({
      host_port: orNull(port.host_port),
      container_port: port.container_port,
      protocol: orNull(port.protocol),
      ...given({ host_ip: port.host_ip }),
    })),
    custom: orNull(app.custom),
    // The compose-vocabulary fields (compose-fields.ts), after the reference's keys and only when given,
    // so that a form of the reference is stored as the reference stores it.
    ...given({
      depends_on: app.depends_on,
      healthcheck: app.healthcheck,
      user: app.user,
      working_dir: app.working_dir,
      labels: app.labels,
      cap_add: app.cap_add,
      cap_drop: app.cap_drop,
      ulimits: app.ulimits,
      logging: app.logging,
      extra_hosts: app.extra_hosts,
    }),
  };
  return { ...head, ...descr, ...tail };
}

/** Network keys in the reference's order. */
const normaliseNetwork = (network: ProjectNetwork): NormalisedNetwork => ({
  id: network.id,
  attachable: orNull(network.attachable),
  driver: orNull(network.driver),
  driver_opts: orNull(network.driver_opts),
  enable_ipv6: orNull(network.enable_ipv6),
  internal: orNull(network.internal),
  external: orNull(network.external),
  ipam: orNull(network.ipam),
  labels: orNull(network.labels),
  name: network.name,
});

/** The `metadata` a project row keeps: the parsed form, unknown keys dropped, every known key present. */
export function normaliseProjectForm(form: ProjectForm): ProjectMetadata {
  const { custom } = form;
  return {
    custom: {
      web: custom.web.map(normaliseApp),
      feature: mapOrNull(custom.feature, normaliseApp),
      service: mapOrNull(custom.service, normaliseApp),
      custom_stack_code: custom.custom_stack_code,
      project_git_url: orNull(custom.project_git_url),
      custom_stack_category: orNull(custom.custom_stack_category),
      custom_stack_short_description: orNull(custom.custom_stack_short_description),
      custom_stack_description: orNull(custom.custom_stack_description),
      project_name: orNull(custom.project_name),
      project_overview: orNull(custom.project_overview),
      project_description: orNull(custom.project_description),
      networks: mapOrNull(custom.networks, normaliseNetwork),
    },
  };
}

// ---- apps and their images ----------------------------------------------------------------------

/** The image fields of an app, as Docker Hub checks read them (§2.2). */
export interface AppImage {
  /** Which list of `custom` the app is in, and where. */
  list: AppListName;
  index: number;
  /** The app's `_id` (what the readability error echoes). */
  id: string;
  code: string;
  name?: string;
  dockerhubUser?: string;
  dockerhubName?: string;
  dockerhubImage?: string;
  dockerhubPassword?: string;
}

interface AppImageFields {
  _id: string;
  code: string;
  name?: string | null;
  dockerhub_user?: string | null;
  dockerhub_name?: string | null;
  dockerhub_image?: string | null;
  dockerhub_password?: string | null;
}

type AppsOf = { custom: { [list in AppListName]?: AppImageFields[] | null } };

const present = (value: string | null | undefined) => (value == null ? undefined : value);

/** Every app of a form or of metadata, in the order the reference checks them: web, service, feature. */
export function listApps(form: AppsOf): AppImage[] {
  return appLists.flatMap((list) =>
    (form.custom[list] ?? []).map((app, index) => ({
      list,
      index,
      id: app._id,
      code: app.code,
      name: present(app.name),
      dockerhubUser: present(app.dockerhub_user),
      dockerhubName: present(app.dockerhub_name),
      dockerhubImage: present(app.dockerhub_image),
      dockerhubPassword: present(app.dockerhub_password),
    })),
  );
}

// ---- secrets ------------------------------------------------------------------------------------

/** Keys whose values are credentials: Docker Hub passwords, and the cloud tokens UI payloads carry at top level. */
const secretKeyPattern = /passw(or)?d|secret|token|credential|api_?key|private_?key|access_?key|^cloud_key$/i;

/**
 * A deep copy of metadata or a raw request body with every credential removed, for responses.
 * Booleans are kept (`save_token` is a flag, not a secret). Environment entries are `{key, value}`
 * objects and are kept: they are the service configuration the user edits, and the compose file
 * shows them anyway.
 */
export function redactProjectSecrets<T>(value: T): T {
  return redact(value) as T;
}

function redact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redact);
  if (value === null || typeof value !== 'object') return value;
  // fromEntries defines keys as own data properties, so a "__proto__" key of a parsed body stays a key.
  return Object.fromEntries(
    Object.entries(value)
      .filter(([key, inner]) => !(secretKeyPattern.test(key) && typeof inner !== 'boolean'))
      .map(([key, inner]) => [key, redact(inner)]),
  );
}
