// The project form (POST /project, PUT /project/{id}): its schema, the normalised `metadata` the project
// row keeps, and the helpers that read apps and redact secrets from it.
import { z } from '@hono/zod-openapi';

const codePoints = (value: string) => [...value].length;

const lengthMessage = (min: number, max: number) => {
  if (max === Number.POSITIVE_INFINITY) return min <= 1 ? 'must not be empty' : `must be at least ${min} characters`;
  return min === 0 ? `must be at most ${max} characters` : `must be ${min} to ${max} characters`;
};

/** A string of `min` to `max` characters (code points, as JSON Schema counts them) without NUL. */
const text = (min = 0, max = Number.POSITIVE_INFINITY) =>
  z
    .string()
    .refine((value) => !value.includes('\u0000'), 'must not contain NUL characters')
    .refine((value) => {
      const length = codePoints(value);
      return length >= min && length <= max;
    }, lengthMessage(min, max))
    .openapi({ ...(min > 0 && { minLength: min }), ...(max !== Number.POSITIVE_INFINITY && { maxLength: max }) });

const unsignedInt = (min = 0) =>
  z.number().int('must be an integer').min(min, `must be at least ${min}`).max(4_294_967_295, 'is out of range');

const portPattern = /^\d{2,6}$/;
const isPort = (value: string) => portPattern.test(value) && Number(value) >= 1 && Number(value) <= 65_535;
const portMessage = 'Port is not valid.';

/** Compose's own rule for service, network and volume keys. */
const composeNamePattern = /^[a-zA-Z0-9._-]+$/;

const PortSchema = z
  .object({
    host_port: z
      .string()
      .refine((value) => value === '' || isPort(value), portMessage)
      .nullish()
      .openapi({ description: 'Host port; empty or absent = not published, reachable inside the stack only', example: '8080' }),
    container_port: z.string().refine(isPort, portMessage).openapi({ pattern: '^\\d{2,6}$', example: '80' }),
    protocol: z.enum(['tcp', 'udp']).nullish(),
  })
  .openapi('ProjectPort', { description: 'Ports are strings of 2 to 6 digits, 1 to 65535' });

const VolumeSchema = z
  .object({
    host_path: text()
      .nullish()
      .openapi({ description: 'Bind source (a path) or a named volume ([A-Za-z0-9_-]+); absent = a named volume for the app' }),
    container_path: text(1),
  })
  .openapi('ProjectVolume');

const EnvVarSchema = z.object({ key: text(1), value: text() }).openapi('ProjectEnvVar');

const VersionSchema = z
  .object({
    _id: unsignedInt(),
    name: text(),
    // Declared 3..20 in the reference but never run; its own fixtures carry `"version": "15"`.
    version: text(),
    tag: text(),
    _etag: text().nullish(),
    _created: text().nullish(),
    _updated: text().nullish(),
    update_status: text().nullish(),
    app_id: unsignedInt().nullish(),
  })
  .openapi('ProjectAppVersion');

const IconVariantSchema = z.object({
  width: z.number().int('must be an integer').nullish(),
  height: z.number().int('must be an integer').nullish(),
  image: text().nullish(),
});

const IconSchema = z.object({ light: IconVariantSchema, dark: IconVariantSchema }).openapi('ProjectIcon');

const PriceSchema = z.object({ value: z.number() });

const cpuPattern = /^[0-9]*\.?[0-9]+$/;
const sizePattern = /^[0-9]*\.?[0-9]+Gb?$/;
const resource = (pattern: RegExp, example: string) =>
  text(1, 10)
    .refine((value) => pattern.test(value), `must match ${pattern.source}`)
    .nullish()
    .openapi({ pattern: pattern.source, example });

export const AppSchema = z
  .object({
    _etag: text(3, 255).nullish(),
    _id: text().openapi({ description: 'App id from the UI' }),
    _created: text().nullish(),
    _updated: text().nullish(),
    name: text(3, 50),
    code: text(3, 50)
      .refine((value) => composeNamePattern.test(value), 'must contain only letters, digits, ".", "_" and "-"')
      .openapi({ description: 'Compose service name', pattern: composeNamePattern.source }),
    type: text(3, 50),
    role: z.array(text()).nullish(),
    default: z.boolean().nullish(),
    versions: z.array(VersionSchema).nullish(),
    dockerhub_user: text(0, 50).nullish(),
    dockerhub_name: text(0, 50).nullish().openapi({ description: 'Repository, may end with :tag' }),
    dockerhub_image: text(0, 100).nullish(),
    dockerhub_password: text().nullish().openapi({ description: 'Never returned in responses' }),
    cpu: resource(cpuPattern, '0.5'),
    disk_size: resource(sizePattern, '10Gb'),
    ram_size: resource(sizePattern, '1Gb'),
    popularity: unsignedInt(1).nullish(),
    commercial: z.boolean().nullish(),
    subscription: z.unknown().optional(),
    autodeploy: z.boolean().nullish(),
    suggested: z.boolean().nullish(),
    dependency: z.unknown().optional(),
    avoid_render: z.boolean().nullish(),
    price: PriceSchema.nullish(),
    icon: IconSchema.nullish(),
    domain: text().nullish(),
    category_id: unsignedInt().nullish(),
    parent_app_id: unsignedInt().nullish(),
    descr: text().nullish(),
    full_description: text().nullish(),
    description: text().nullish(),
    plan_type: text().nullish(),
    ansible_var: text().nullish(),
    repo_dir: text().nullish(),
    url_app: text().nullish(),
    url_git: text().nullish(),
    restart: z.enum(['always', 'no', 'unless-stopped', 'on-failure']),
    command: text().nullish(),
    entrypoint: text().nullish(),
    volumes: z.array(VolumeSchema).nullish(),
    environment: z.array(EnvVarSchema).nullish(),
    network: z.array(text()).nullish().openapi({ description: 'Ids of entries of custom.networks' }),
    shared_ports: z.array(PortSchema).nullish(),
    custom: z.boolean().nullish().openapi({ description: 'True for user-defined (non-catalogue) apps' }),
  })
  .superRefine((app, ctx) => {
    if (!app.dockerhub_name && !app.dockerhub_image) {
      ctx.addIssue({ code: 'custom', path: ['dockerhub_name'], message: 'an app needs dockerhub_name or dockerhub_image' });
    }
    const mountPoints = new Set<string>();
    app.volumes?.forEach((volume, index) => {
      if (mountPoints.has(volume.container_path)) {
        ctx.addIssue({ code: 'custom', path: ['volumes', index, 'container_path'], message: 'is mounted twice in this app' });
      }
      mountPoints.add(volume.container_path);
    });
  })
  .openapi('ProjectApp', { description: 'Other keys (ports, links, group, version, ...) are ignored' });

export const NetworkSchema = z
  .object({
    id: text(1),
    name: text(1).refine((value) => composeNamePattern.test(value), 'must contain only letters, digits, ".", "_" and "-"'),
    attachable: z.boolean().nullish(),
    driver: text().nullish(),
    driver_opts: z.record(z.string(), z.unknown()).nullish().openapi({ description: 'Stored; not used in compose' }),
    enable_ipv6: z.boolean().nullish(),
    internal: z.boolean().nullish(),
    external: z.boolean().nullish().openapi({ description: 'Forced true for "default_network"' }),
    ipam: text().nullish(),
    labels: text().nullish(),
  })
  .openapi('ProjectNetwork');

const appLists = ['web', 'service', 'feature'] as const;
type AppListName = (typeof appLists)[number];

const CustomSchema = z
  .object({
    web: z.array(AppSchema),
    feature: z.array(AppSchema).nullish(),
    service: z.array(AppSchema).nullish(),
    custom_stack_code: text(3, 50).openapi({ description: 'Project code; becomes the project name' }),
    project_git_url: text(3, 255).nullish(),
    custom_stack_category: z.array(text()).nullish(),
    custom_stack_short_description: text().nullish(),
    custom_stack_description: text().nullish(),
    project_name: text().nullish(),
    project_overview: text().nullish(),
    project_description: text().nullish(),
    networks: z.array(NetworkSchema).nullish(),
  })
  .superRefine((custom, ctx) => {
    // Rules across fields, so that every accepted form yields a compose file Docker accepts.
    const networkIds = new Set<string>();
    custom.networks?.forEach((network, index) => {
      if (networkIds.has(network.id)) {
        ctx.addIssue({ code: 'custom', path: ['networks', index, 'id'], message: `duplicate network id "${network.id}"` });
      }
      networkIds.add(network.id);
    });
    const codes = new Set<string>();
    const publishedPorts = new Set<string>();
    for (const list of appLists) {
      custom[list]?.forEach((app, appIndex) => {
        if (codes.has(app.code)) {
          ctx.addIssue({ code: 'custom', path: [list, appIndex, 'code'], message: `duplicate app code "${app.code}"` });
        }
        codes.add(app.code);
        app.network?.forEach((id, index) => {
          if (!networkIds.has(id)) {
            ctx.addIssue({ code: 'custom', path: [list, appIndex, 'network', index], message: `unknown network id "${id}"` });
          }
        });
        app.shared_ports?.forEach((port, index) => {
          if (!port.host_port) return;
          const published = `${Number(port.host_port)}/${port.protocol ?? 'tcp'}`;
          if (publishedPorts.has(published)) {
            ctx.addIssue({
              code: 'custom',
              path: [list, appIndex, 'shared_ports', index, 'host_port'],
              message: `host port ${published} is already published by another port of the stack`,
            });
          }
          publishedPorts.add(published);
        });
      });
    }
  })
  .openapi('ProjectCustom');

export const projectFormSchema = z
  .object({ custom: CustomSchema })
  .openapi('ProjectForm', {
    description: 'Only `custom` is read; other keys (deploy settings of UI payloads) are accepted and ignored',
  });

export type ProjectForm = z.output<typeof projectFormSchema>;
export type ProjectApp = z.output<typeof AppSchema>;
export type ProjectNetwork = z.output<typeof NetworkSchema>;

// ---- normalised metadata ------------------------------------------------------------------------

/** Every known key present, absent optionals as null (as the reference stores the parsed form). */
type Normalised<T> = { [K in keyof T]-?: undefined extends T[K] ? Exclude<T[K], undefined> | null : T[K] };

export type NormalisedPort = Normalised<z.output<typeof PortSchema>>;
export type NormalisedVolume = Normalised<z.output<typeof VolumeSchema>>;
export type NormalisedEnvVar = z.output<typeof EnvVarSchema>;
export type NormalisedVersion = Normalised<z.output<typeof VersionSchema>>;
export type NormalisedIcon = { light: NormalisedIconVariant; dark: NormalisedIconVariant };
type NormalisedIconVariant = Normalised<z.output<typeof IconVariantSchema>>;
export type NormalisedNetwork = Normalised<ProjectNetwork>;

export type NormalisedApp = Omit<Normalised<ProjectApp>, 'descr' | 'versions' | 'icon' | 'volumes' | 'shared_ports'> & {
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

const orNull = <T>(value: T | null | undefined): T | null => (value === undefined ? null : value);
const mapOrNull = <T, U>(items: T[] | null | undefined, map: (item: T) => U): U[] | null => (items ? items.map(map) : null);

const normaliseIconVariant = (variant: z.output<typeof IconVariantSchema>): NormalisedIconVariant => ({
  width: orNull(variant.width),
  height: orNull(variant.height),
  image: orNull(variant.image),
});

const normaliseVersion = (version: z.output<typeof VersionSchema>): NormalisedVersion => ({
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
    })),
    environment: mapOrNull(app.environment, (variable) => ({ key: variable.key, value: variable.value })),
    network: orNull(app.network),
    shared_ports: mapOrNull(app.shared_ports, (port) => ({
      host_port: orNull(port.host_port),
      container_port: port.container_port,
      protocol: orNull(port.protocol),
    })),
    custom: orNull(app.custom),
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
