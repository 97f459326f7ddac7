// The project form as POST /project, PUT /project/{id} and the dashboard's Stack Builder take it
// (functions/services/project-form.ts normalises it).
import { z } from '@hono/zod-openapi';
import { composeExtraFields, composeNamePattern, dependencyNames, restartPattern, SERVICE_NAME_MAX } from '../compose-fields.ts';
import { noNul } from './text.ts';

const codePoints = (value: string) => [...value].length;

const lengthMessage = (min: number, max: number) => {
  if (max === Number.POSITIVE_INFINITY) return min <= 1 ? 'must not be empty' : `must be at least ${min} characters`;
  return min === 0 ? `must be at most ${max} characters` : `must be ${min} to ${max} characters`;
};

/**
 * The length caps of the form's free text, in characters (docs/security.md lists them): no field takes
 * an unbounded string, so no request can make the services work on megabytes of one value.
 */
export const TEXT_CAPS = {
  /** Names, codes, tags, ids, dates, domains, list items: everything not named below. */
  short: 255,
  /** Paths (host_path, container_path, repo_dir), Ansible variables, a network's ipam and labels. */
  path: 4096,
  /** URLs (url_app, url_git, an icon's image). */
  url: 2048,
  /** Descriptions and overviews. */
  description: 10_000,
  /** An environment variable's value (a certificate or a key fits). */
  envValue: 32_768,
} as const;

/**
 * A string of `min` to `max` characters (code points, as JSON Schema counts them) without NUL. Without
 * `max`, the short cap applies, said apart from the minimum's message.
 */
const text = (min = 0, max?: number) => {
  const cap = max ?? TEXT_CAPS.short;
  // A code point is one or two UTF-16 units: a value longer than twice the cap is refused uncounted.
  const length = (value: string) => (value.length > cap * 2 ? Number.POSITIVE_INFINITY : codePoints(value));
  const schema =
    max === undefined
      ? noNul(z.string())
          .refine((value) => length(value) >= min, lengthMessage(min, Number.POSITIVE_INFINITY))
          .refine((value) => length(value) <= cap, `must be at most ${cap} characters`)
      : noNul(z.string()).refine((value) => {
          const count = length(value);
          return count >= min && count <= cap;
        }, lengthMessage(min, cap));
  return schema.openapi({ ...(min > 0 && { minLength: min }), maxLength: cap });
};

const unsignedInt = (min = 0) =>
  z.number().int('must be an integer').min(min, `must be at least ${min}`).max(4_294_967_295, 'is out of range');

const portPattern = /^\d{2,6}$/;
const isPort = (value: string) => portPattern.test(value) && Number(value) >= 1 && Number(value) <= 65_535;
const portMessage = 'Port is not valid.';

const PortSchema = z
  .object({
    host_port: z
      .string()
      .refine((value) => value === '' || isPort(value), portMessage)
      .nullish()
      .openapi({ description: 'Host port; empty or absent = not published, reachable inside the stack only', example: '8080' }),
    container_port: z.string().refine(isPort, portMessage).openapi({ pattern: '^\\d{2,6}$', example: '80' }),
    protocol: z.enum(['tcp', 'udp']).nullish(),
    host_ip: z
      .union([z.ipv4(), z.ipv6()])
      .nullish()
      .openapi({ description: 'The host address the port is published on (absent: all addresses)', example: '127.0.0.1' }),
  })
  .openapi('ProjectPort', { description: 'Ports are strings of 2 to 6 digits, 1 to 65535' });

const VolumeSchema = z
  .object({
    host_path: text(0, TEXT_CAPS.path)
      .nullish()
      .openapi({ description: 'Bind source (a path) or a named volume ([A-Za-z0-9_-]+); absent = a named volume for the app' }),
    container_path: text(1, TEXT_CAPS.path),
    read_only: z.boolean().nullish().openapi({ description: 'Mounted read-only (compose `:ro`)' }),
  })
  .openapi('ProjectVolume');

const EnvVarSchema = z.object({ key: text(1), value: text(0, TEXT_CAPS.envValue) }).openapi('ProjectEnvVar');

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
  image: text(0, TEXT_CAPS.url).nullish(),
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

/** The compose-vocabulary fields, each also taking null (as the reference's optional fields do). */
const nullish = <T extends Record<string, z.ZodType>>(fields: T) =>
  Object.fromEntries(Object.entries(fields).map(([key, schema]) => [key, schema.nullable()])) as { [K in keyof T]: z.ZodNullable<T[K]> };

export const AppSchema = z
  .object({
    _etag: text(3, 255).nullish(),
    _id: text().openapi({ description: 'App id from the UI' }),
    _created: text().nullish(),
    _updated: text().nullish(),
    name: text(1, 50),
    code: text(1, SERVICE_NAME_MAX)
      .refine((value) => composeNamePattern.test(value), 'must contain only letters, digits, ".", "_" and "-"')
      .openapi({ description: 'Compose service name (any name compose allows, e.g. db)', pattern: composeNamePattern.source }),
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
    descr: text(0, TEXT_CAPS.description).nullish(),
    full_description: text(0, TEXT_CAPS.description).nullish(),
    description: text(0, TEXT_CAPS.description).nullish(),
    plan_type: text().nullish(),
    ansible_var: text(0, TEXT_CAPS.path).nullish(),
    repo_dir: text(0, TEXT_CAPS.path).nullish(),
    url_app: text(0, TEXT_CAPS.url).nullish(),
    url_git: text(0, TEXT_CAPS.url).nullish(),
    restart: text(1, 30)
      .refine((value) => restartPattern.test(value), 'must be no, always, unless-stopped or on-failure[:retries]')
      .openapi({ example: 'unless-stopped', pattern: restartPattern.source }),
    ...nullish(composeExtraFields),
    volumes: z.array(VolumeSchema).max(100, 'must have at most 100 volumes').nullish(),
    environment: z.array(EnvVarSchema).max(500, 'must have at most 500 variables').nullish(),
    network: z.array(text()).max(20, 'must have at most 20 networks').nullish().openapi({ description: 'Ids of entries of custom.networks' }),
    shared_ports: z.array(PortSchema).max(100, 'must have at most 100 ports').nullish(),
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
    ipam: text(0, TEXT_CAPS.path).nullish(),
    labels: text(0, TEXT_CAPS.path).nullish(),
  })
  .openapi('ProjectNetwork');

export const appLists = ['web', 'service', 'feature'] as const;
export type AppListName = (typeof appLists)[number];

const CustomSchema = z
  .object({
    web: z.array(AppSchema),
    feature: z.array(AppSchema).nullish(),
    service: z.array(AppSchema).nullish(),
    custom_stack_code: text(3, 50).openapi({ description: 'Project code; becomes the project name' }),
    project_git_url: text(3, 255).nullish(),
    custom_stack_category: z.array(text()).nullish(),
    custom_stack_short_description: text(0, TEXT_CAPS.description).nullish(),
    custom_stack_description: text(0, TEXT_CAPS.description).nullish(),
    project_name: text().nullish(),
    project_overview: text(0, TEXT_CAPS.description).nullish(),
    project_description: text(0, TEXT_CAPS.description).nullish(),
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
    // A published port is host address + port + protocol; an address of 0.0.0.0 (or none) takes the port on every address.
    const published: Array<{ ip: string; port: string; by: string }> = [];
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
          const where = { ip: port.host_ip && !['0.0.0.0', '::'].includes(port.host_ip) ? port.host_ip : '*', port: `${Number(port.host_port)}/${port.protocol ?? 'tcp'}`, by: app.code };
          const clash = published.find((other) => other.port === where.port && (other.ip === where.ip || other.ip === '*' || where.ip === '*'));
          if (clash) {
            ctx.addIssue({
              code: 'custom',
              path: [list, appIndex, 'shared_ports', index, 'host_port'],
              message: `service "${app.code}": host port ${where.port} is already published by ${clash.by === app.code ? 'another port of this service' : `service "${clash.by}"`}`,
            });
          }
          published.push(where);
        });
      });
    }
    // A dependency on a service the stack does not have: compose refuses the file.
    for (const list of appLists) {
      custom[list]?.forEach((app, appIndex) => {
        dependencyNames(app.depends_on).forEach((name, index) => {
          if (codes.has(name) && name !== app.code) return;
          const message = name === app.code ? `service "${app.code}" depends on itself` : `service "${app.code}" depends on "${name}", which is no service of this stack`;
          ctx.addIssue({ code: 'custom', path: [list, appIndex, 'depends_on', Array.isArray(app.depends_on) ? index : name], message });
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
export type ProjectPort = z.output<typeof PortSchema>;
export type ProjectVolume = z.output<typeof VolumeSchema>;
export type ProjectEnvVar = z.output<typeof EnvVarSchema>;
export type ProjectVersion = z.output<typeof VersionSchema>;
export type ProjectIconVariant = z.output<typeof IconVariantSchema>;
