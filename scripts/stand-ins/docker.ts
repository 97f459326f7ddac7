// The docker CLI stand-in (run through the `docker` sh wrapper beside it) for scripts/try-server.ts: the
// subset of the docker CLI an install script uses, on a machine without Docker. It runs no container:
// `docker run` of trydirect/status:<any tag> starts the agent stand-in (agent.ts) as a background Node
// process; any other image is only recorded. Everything lives under $STACKER_INSTALL_ROOT (default /):
//   var/lib/stacker-stand-in/docker-runs.jsonl   every `docker run`, secrets masked
//   var/lib/stacker-stand-in/containers.json     the containers (name, id, image, agent pid)
//   var/lib/stacker-stand-in/<name>.log          an agent stand-in's output
// Supported: --version, version, info, ps [-a] [-q] [--filter k=v] [--format F] [--no-trunc], rm [-f] NAME...,
// pull IMAGE, run -d [--name N] [--restart P] [-e N=v|N]... [--env-file F]... [-v A:B[:ro]]... IMAGE [args].
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, posix, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// ---------------------------------------------------------------------------------------------------
// The stand-in host, which the agent stand-in and try-server read too: every path under the install
// root; the containers `docker run` started (containers.json) and compose projects' containers (a
// state file in each project folder, written by the agent stand-in).

export const AGENT_IMAGE = /^(docker\.io\/)?trydirect\/status(:[^/]*)?$/;

/** Where a host path lives under the install root (the path is normalised first, so it cannot leave it). */
export function hostPath(root: string, path: string): string {
  return join(resolve(root), posix.resolve('/', path));
}

export const standInFolder = (root: string) => hostPath(root, '/var/lib/stacker-stand-in');

export interface Mount {
  source: string;
  target: string;
  readOnly: boolean;
}

/** A container the docker stand-in started (`docker run`); `pid` is the agent stand-in's process, if any. */
export interface ContainerRecord {
  id: string;
  name: string;
  image: string;
  restart: string;
  created: string;
  pid: number | null;
  log: string | null;
  /** The run's environment with secret values masked. */
  env: Record<string, string>;
  mounts: Mount[];
  args: string[];
  stoppedAt?: string;
}

const registryFile = (root: string) => join(standInFolder(root), 'containers.json');

export function readRegistry(root: string): ContainerRecord[] {
  try {
    return JSON.parse(readFileSync(registryFile(root), 'utf8')) as ContainerRecord[];
  } catch {
    return [];
  }
}

export function writeRegistry(root: string, records: ContainerRecord[]): void {
  writeFileAtomic(registryFile(root), `${JSON.stringify(records, null, 2)}\n`);
}

export function writeFileAtomic(file: string, content: string, mode?: number): void {
  mkdirSync(resolve(file, '..'), { recursive: true });
  const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(temporary, content, mode === undefined ? undefined : { mode });
  renameSync(temporary, file);
}

/** Whether a process runs (a zombie nobody reaped yet counts as ended). */
export function processAlive(pid: number | null | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    return !/^\d+ \(.*\) Z/s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

export function recordState(record: ContainerRecord): 'running' | 'exited' {
  if (record.pid !== null) return processAlive(record.pid) ? 'running' : 'exited';
  return record.stoppedAt ? 'exited' : 'running';
}

export interface ServiceContainer {
  id: string;
  container_name: string;
  image: string;
  state: 'running' | 'exited';
  exit_code: number;
  created: string;
}

/** What the stand-in keeps where docker keeps a compose project's containers. */
export interface ProjectState {
  project: string;
  config_file: string;
  services: Record<string, ServiceContainer>;
}

export const STATE_FILE = '.stand-in-state.json';

export function readState(root: string, dir: string): ProjectState | undefined {
  try {
    return JSON.parse(readFileSync(join(hostPath(root, dir), STATE_FILE), 'utf8')) as ProjectState;
  } catch {
    return undefined;
  }
}

export function writeState(root: string, dir: string, state: ProjectState): void {
  const file = join(hostPath(root, dir), STATE_FILE);
  if (Object.keys(state.services).length === 0) rmSync(file, { force: true });
  else writeFileAtomic(file, `${JSON.stringify(state, null, 2)}\n`);
}

/** A container as `docker ps -a` (and the agent's Docker client) sees it; `state` is Docker's State. */
export interface HostContainer {
  id: string;
  name: string;
  image: string;
  state: string;
  exitCode: number;
  created: string;
  labels: Record<string, string>;
}

/** The compose project folders the host knows: those under /home/trydirect with a state file, and `extra`. */
export function projectDirs(root: string, extra: (string | undefined)[] = []): string[] {
  const dirs = new Set<string>();
  for (const dir of extra) if (dir) dirs.add(posix.resolve('/', dir));
  try {
    for (const entry of readdirSync(hostPath(root, '/home/trydirect'))) {
      if (existsSync(join(hostPath(root, '/home/trydirect'), entry, STATE_FILE))) dirs.add(`/home/trydirect/${entry}`);
    }
  } catch {
    // No /home/trydirect yet.
  }
  return [...dirs];
}

/** Every container on the stand-in host, newest first (as Docker lists them). */
export function hostContainers(root: string, extraProjectDirs: (string | undefined)[] = []): HostContainer[] {
  const list: HostContainer[] = readRegistry(root).map((record) => ({
    id: record.id,
    name: record.name,
    image: record.image,
    state: recordState(record),
    exitCode: 0,
    created: record.created,
    labels: {},
  }));
  for (const dir of projectDirs(root, extraProjectDirs)) {
    const state = readState(root, dir);
    for (const [service, container] of Object.entries(state?.services ?? {})) {
      list.push({
        id: container.id,
        name: container.container_name,
        image: container.image,
        state: container.state,
        exitCode: container.exit_code,
        created: container.created,
        labels: {
          'com.docker.compose.service': service,
          'com.docker.compose.project': state!.project,
          'com.docker.compose.project.working_dir': dir,
          'com.docker.compose.project.config_files': state!.config_file,
        },
      });
    }
  }
  return list.sort((a, b) => b.created.localeCompare(a.created));
}

export const containerId = () => randomBytes(32).toString('hex');

class DockerError extends Error {
  readonly code: number;
  constructor(message: string, code = 1) {
    super(message);
    this.code = code;
  }
}

const root = () => resolve(process.env.STACKER_INSTALL_ROOT || '/');

/** Variables whose values are never written to a record, a log or the screen. */
const SECRET_NAME = /TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|PRIVATE|API_?KEY|ACCESS_?KEY/i;

/** docker's env-file format: NAME=value lines taken literally, # comments, a bare NAME from the environment. */
export function parseEnvFile(text: string, file: string): [string, string][] {
  const entries: [string, string][] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/^\s+/, '');
    if (!line || line.startsWith('#')) continue;
    const equals = line.indexOf('=');
    const name = equals < 0 ? line : line.slice(0, equals);
    if (!name) throw new DockerError(`docker: invalid env file (${file}): no variable name on line '${raw}'.`, 125);
    if (/\s/.test(name)) throw new DockerError(`docker: poorly formatted environment: variable '${name}' contains whitespaces.`, 125);
    if (equals >= 0) entries.push([name, line.slice(equals + 1)]);
    else if (process.env[name] !== undefined) entries.push([name, process.env[name]!]);
  }
  return entries;
}

interface RunOptions {
  detach: boolean;
  name?: string;
  restart: string;
  env: Map<string, string>;
  mounts: Mount[];
  image: string;
  args: string[];
  ignored: string[];
}

const BOOLEAN_FLAGS = new Set(['-d', '--detach', '--rm', '-i', '--interactive', '-t', '--tty', '--init', '--privileged', '-P', '--publish-all', '--read-only']);
// Flags with a value that an install script may pass and that change nothing here.
const IGNORED_VALUE_FLAGS = new Set([
  '-p', '--publish', '--network', '--net', '-h', '--hostname', '-l', '--label', '--log-driver', '--log-opt', '--pull', '-w', '--workdir',
  '-u', '--user', '--entrypoint', '--add-host', '--cap-add', '--cap-drop', '--pid', '-m', '--memory', '--cpus', '--security-opt', '--platform',
]);
const VALUE_FLAGS = new Set(['--name', '--restart', '-e', '--env', '--env-file', '-v', '--volume', ...IGNORED_VALUE_FLAGS]);

export function parseRun(argv: string[]): RunOptions {
  const options: RunOptions = { detach: false, restart: 'no', env: new Map(), mounts: [], image: '', args: [], ignored: [] };
  let index = 0;
  for (; index < argv.length; index++) {
    let flag = argv[index]!;
    if (!flag.startsWith('-') || flag === '-') break;
    let value: string | undefined;
    if (flag.startsWith('--') && flag.includes('=')) [flag, value] = [flag.slice(0, flag.indexOf('=')), flag.slice(flag.indexOf('=') + 1)];
    // -dit: boolean short flags run together.
    if (/^-[a-zA-Z]{2,}$/.test(flag) && [...flag.slice(1)].every((c) => BOOLEAN_FLAGS.has(`-${c}`))) {
      if (flag.includes('d')) options.detach = true;
      continue;
    }
    if (BOOLEAN_FLAGS.has(flag)) {
      if (flag === '-d' || flag === '--detach') options.detach = value !== 'false';
      continue;
    }
    if (!VALUE_FLAGS.has(flag)) throw new DockerError(`docker stand-in: run option ${flag} is not supported`, 125);
    if (value === undefined) {
      value = argv[++index];
      if (value === undefined) throw new DockerError(`docker: flag needs an argument: ${flag}`, 125);
    }
    switch (flag) {
      case '--name':
        options.name = value;
        break;
      case '--restart':
        options.restart = value;
        break;
      case '-e':
      case '--env': {
        const equals = value.indexOf('=');
        if (equals >= 0) options.env.set(value.slice(0, equals), value.slice(equals + 1));
        else if (process.env[value] !== undefined) options.env.set(value, process.env[value]!);
        break;
      }
      case '--env-file':
        for (const [name, entry] of parseEnvFile(readEnvFile(value), value)) options.env.set(name, entry);
        break;
      case '-v':
      case '--volume': {
        const [source = '', target = '', mode = ''] = value.split(':');
        if (!source || !target) throw new DockerError(`docker: invalid volume specification: '${value}'`, 125);
        options.mounts.push({ source, target, readOnly: mode.split(',').includes('ro') });
        break;
      }
      default:
        options.ignored.push(flag, value);
    }
  }
  options.image = argv[index] ?? '';
  options.args = argv.slice(index + 1);
  if (!options.image) throw new DockerError('"docker run" requires at least 1 argument.', 125);
  return options;
}

function readEnvFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    throw new DockerError(`docker: open ${file}: no such file or directory`, 125);
  }
}

/** Masks secret variables' values, and those values wherever else they appear. */
function masker(env: Map<string, string>): { env: Record<string, string>; text: (value: string) => string } {
  const secrets = [...env].filter(([name, value]) => SECRET_NAME.test(name) && value).map(([, value]) => value);
  const text = (value: string) => secrets.reduce((masked, secret) => masked.split(secret).join('***'), value);
  return { env: Object.fromEntries([...env].map(([name, value]) => [name, SECRET_NAME.test(name) ? '***' : text(value)])), text };
}

const AGENT_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'agent.ts');

function run(argv: string[]): void {
  const options = parseRun(argv);
  if (!options.detach) throw new DockerError('docker stand-in: run without -d is not supported (the stand-in only starts containers in the background)', 125);
  const records = readRegistry(root());
  const name = options.name ?? `stand_in_${containerId().slice(0, 8)}`;
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) throw new DockerError(`docker: Error response from daemon: Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed.`, 125);
  const taken = records.find((record) => record.name === name);
  if (taken) {
    throw new DockerError(
      `docker: Error response from daemon: Conflict. The container name "/${name}" is already in use by container "${taken.id}". You have to remove (or rename) that container to be able to reuse that name.\nSee 'docker run --help'.`,
      125,
    );
  }
  const id = containerId();
  const mask = masker(options.env);
  const folder = standInFolder(root());
  mkdirSync(folder, { recursive: true });
  const record: ContainerRecord = {
    id,
    name,
    image: options.image,
    restart: options.restart,
    created: new Date().toISOString(),
    pid: null,
    log: null,
    env: mask.env,
    mounts: options.mounts,
    args: options.args.map(mask.text),
  };
  if (AGENT_IMAGE.test(options.image)) {
    record.log = join(folder, `${name}.log`);
    const log = openSync(record.log, 'a');
    // A container sees only its own environment: the run's variables, and where the stand-in host is.
    const child = spawn(process.execPath, [AGENT_SCRIPT], {
      detached: true,
      stdio: ['ignore', log, log],
      env: { ...Object.fromEntries(options.env), STACKER_INSTALL_ROOT: root() },
    });
    child.unref();
    record.pid = child.pid ?? null;
  }
  appendFileSync(
    join(folder, 'docker-runs.jsonl'),
    `${JSON.stringify({
      time: record.created,
      argv: ['docker', 'run', ...argv].map(mask.text),
      id,
      name,
      image: options.image,
      restart: options.restart,
      env: mask.env,
      mounts: options.mounts,
      args: record.args,
      ignored_options: options.ignored.map(mask.text),
      agent_pid: record.pid,
    })}\n`,
  );
  writeRegistry(root(), [...records, record]);
  console.log(id);
}

/** Waits (polling, as nothing signals a foreign process's end) until the process has ended. */
export async function waitForExit(pid: number, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (processAlive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((done) => setTimeout(done, 20));
  }
  return true;
}

async function rm(argv: string[]): Promise<void> {
  const force = argv.some((arg) => ['-f', '--force'].includes(arg) || /^-[a-z]*f[a-z]*$/.test(arg));
  const names = argv.filter((arg) => !arg.startsWith('-'));
  if (names.length === 0) throw new DockerError('"docker rm" requires at least 1 argument.');
  const failures: string[] = [];
  for (const name of names) {
    const records = readRegistry(root());
    const record = records.find((r) => r.name === name || (name.length >= 12 && r.id.startsWith(name)));
    if (!record) {
      failures.push(`Error response from daemon: No such container: ${name}`);
      continue;
    }
    if (recordState(record) === 'running' && !force) {
      failures.push(`Error response from daemon: cannot remove container "/${record.name}": container is running: stop the container before removing or force remove`);
      continue;
    }
    // rm -f kills (SIGKILL), as docker does.
    if (record.pid !== null && processAlive(record.pid)) {
      process.kill(record.pid, 'SIGKILL');
      if (!(await waitForExit(record.pid))) throw new DockerError(`docker stand-in: process ${record.pid} of ${name} did not end`);
    }
    writeRegistry(
      root(),
      readRegistry(root()).filter((r) => r.id !== record.id),
    );
    console.log(name);
  }
  if (failures.length) {
    console.error(failures.join('\n'));
    // Like docker: with -f a container that is not there is no failure.
    if (!force || failures.some((failure) => !failure.includes('No such container'))) throw new DockerError('', 1);
  }
}

function ago(iso: string): string {
  const seconds = Math.max(1, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds} second${seconds === 1 ? '' : 's'}`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} minutes`;
  return `${Math.round(seconds / 3600)} hours`;
}

function ps(argv: string[]): void {
  let all = false;
  let quiet = false;
  let noTrunc = false;
  let format: string | undefined;
  const filters: [string, string][] = [];
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index]!;
    const valueOf = (flag: string) => (arg.startsWith(`${flag}=`) ? arg.slice(flag.length + 1) : arg === flag ? argv[++index] : undefined);
    const filter = valueOf('--filter') ?? valueOf('-f');
    const template = valueOf('--format');
    if (arg === '-a' || arg === '--all') all = true;
    else if (arg === '-q' || arg === '--quiet') quiet = true;
    else if (arg === '--no-trunc') noTrunc = true;
    else if (/^-[aq]{2}$/.test(arg)) [all, quiet] = [true, true];
    else if (filter !== undefined) {
      const equals = filter.indexOf('=');
      filters.push(equals < 0 ? [filter, ''] : [filter.slice(0, equals), filter.slice(equals + 1)]);
    } else if (template !== undefined) format = template;
    else throw new DockerError(`docker stand-in: ps option ${arg} is not supported`);
  }
  const extraDirs = readRegistry(root()).map((record) => record.env.COMPOSE_PROJECT_DIR);
  const containers = hostContainers(root(), extraDirs).filter((c) => {
    if (!all && c.state !== 'running' && !filters.some(([key]) => key === 'status')) return false;
    return filters.every(([key, value]) => {
      // Docker's names start with a slash: `name=^/x$` and `name=x` both match x.
      if (key === 'name') return new RegExp(value).test(`/${c.name}`) || new RegExp(value).test(c.name);
      if (key === 'id') return c.id.startsWith(value);
      if (key === 'status') return c.state === value;
      if (key === 'ancestor') return c.image === value || c.image.startsWith(`${value}:`);
      if (key === 'label') {
        const [labelKey = '', labelValue] = value.split('=');
        return labelKey in c.labels && (labelValue === undefined || c.labels[labelKey] === labelValue);
      }
      throw new DockerError(`Error response from daemon: invalid filter '${key}'`);
    });
  });
  const id = (c: HostContainer) => (noTrunc ? c.id : c.id.slice(0, 12));
  const status = (c: HostContainer) => (c.state === 'running' ? `Up ${ago(c.created)}` : `Exited (${c.exitCode}) ${ago(c.created)} ago`);
  const fields = (c: HostContainer): Record<string, string> => ({
    ID: id(c),
    Names: c.name,
    Image: c.image,
    Command: '"stand-in"',
    CreatedAt: c.created,
    RunningFor: `${ago(c.created)} ago`,
    Status: status(c),
    State: c.state,
    Ports: '',
    Labels: Object.entries(c.labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(','),
  });
  if (quiet) {
    for (const c of containers) console.log(id(c));
    return;
  }
  if (format === undefined || format === 'table') {
    const rows = [['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'PORTS', 'NAMES'], ...containers.map((c) => [id(c), c.image, '"stand-in"', `${ago(c.created)} ago`, status(c), '', c.name])];
    const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
    for (const row of rows) console.log(row.map((cell, column) => cell.padEnd(widths[column]!)).join('   ').trimEnd());
    return;
  }
  const table = format.startsWith('table ');
  const template = (table ? format.slice(6) : format).replace(/\\t/g, '\t').replace(/\\n/g, '\n');
  const render = (values: (field: string, label?: string) => string) =>
    template.replace(/\{\{\s*\.(\w+)(?:\s+"([^"]*)")?\s*\}\}|\{\{\s*json\s+\.\s*\}\}/g, (whole, field: string | undefined, label: string | undefined) =>
      field ? values(field, label) : whole,
    );
  if (table) console.log(render((field) => field.replace(/([a-z])([A-Z])/g, '$1 $2').toUpperCase()));
  for (const c of containers) {
    const values = fields(c);
    console.log(render((field, label) => (field === 'Label' ? (c.labels[label ?? ''] ?? '') : (values[field] ?? ''))));
  }
}

const STAND_IN = 'docker stand-in (scripts/stand-ins/docker.ts): it runs no container and has no daemon';

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case '--version':
    case '-v':
      console.log('Docker version 0.0.0-stand-in, build stand-in (no Docker: scripts/stand-ins/docker)');
      return;
    case 'version':
      if (rest.includes('--format') || rest.some((arg) => arg.startsWith('--format='))) console.log('0.0.0-stand-in');
      else console.log(`Client:\n Version:    0.0.0-stand-in\n Context:    stand-in\n\nServer: ${STAND_IN}\n Version:    0.0.0-stand-in`);
      return;
    case 'info':
      console.log(`${STAND_IN}.\n Containers: ${hostContainers(root()).length}\n Install root: ${root()}\n trydirect/status images start the agent stand-in (scripts/stand-ins/agent.ts)`);
      return;
    case 'ps':
      return ps(rest);
    case 'rm':
      return rm(rest);
    case 'pull': {
      const image = rest.find((arg) => !arg.startsWith('-'));
      if (!image) throw new DockerError('"docker pull" requires exactly 1 argument.');
      console.log(`${image}: not pulled (docker stand-in: no registry is contacted)`);
      return;
    }
    case 'run':
      return run(rest);
    case undefined:
      throw new DockerError(`${STAND_IN}. Commands: version, info, ps, rm, pull, run`);
    default:
      throw new DockerError(`docker stand-in: ${command} is not supported`);
  }
}

if (import.meta.main) {
  try {
    await main(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof DockerError)) throw error;
    if (error.message) console.error(error.message);
    process.exitCode = error.code;
  }
}
