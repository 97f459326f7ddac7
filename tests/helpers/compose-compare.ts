// Two compose files' services compared by what they mean, not how they are written: `8080:80` and
// `{target: 80, published: 8080}` are one port, `expose: [3306]` a port inside the stack, a list
// environment a map, `image: redis` is `redis:latest`, a depends_on list is conditions service_started.
// What the import named as not carried (its notes' service and field) is left out of the original.
// Secrets: a value the output names as `${NAME}` stands for the original's value (issue 28 point 2 moves
// secret values out of the compose); anything else must be equal.
import { parse } from 'yaml';

type Service = Record<string, unknown>;
export interface Note {
  service?: string;
  field?: string;
}

const CARRIED = ['image', 'ports', 'environment', 'volumes', 'networks', 'restart', 'command', 'entrypoint', 'depends_on', 'healthcheck', 'user', 'working_dir', 'labels', 'cap_add', 'cap_drop', 'ulimits', 'logging', 'extra_hosts'];

const record = (value: unknown): Record<string, unknown> => (value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {});
const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);

function port(entry: unknown): string {
  if (typeof entry === 'object' && entry !== null) {
    const long = record(entry);
    return [long.host_ip ?? '', long.published ?? '', long.target, long.protocol ?? 'tcp'].map(String).join('|');
  }
  const match = /^(?:(\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-fA-F:.]+\]):)?(?:(\d{1,5}):)?(\d{1,5})(?:\/(tcp|udp))?$/.exec(String(entry));
  if (!match) return `unparsed ${String(entry)}`;
  return [match[1]?.replace(/^\[|\]$/g, '') ?? '', match[2] ?? '', match[3], match[4] ?? 'tcp'].join('|');
}

function volume(entry: unknown): string {
  if (typeof entry === 'object' && entry !== null) {
    const long = record(entry);
    return [long.source ?? '', long.target, long.read_only === true ? 'ro' : 'rw'].map(String).join('|');
  }
  const match = /^(?:([^:\s]+):)?(\/[^:\s]*)(?::(ro|rw))?$/.exec(String(entry));
  return match ? [match[1] ?? '', match[2], match[3] ?? 'rw'].join('|') : `unparsed ${String(entry)}`;
}

function environment(value: unknown): Record<string, string> {
  if (Array.isArray(value)) {
    return Object.fromEntries(value.map((entry) => {
      const text = String(entry);
      const at = text.indexOf('=');
      return at === -1 ? [text, ''] : [text.slice(0, at), text.slice(at + 1)];
    }));
  }
  return Object.fromEntries(Object.entries(record(value)).map(([key, inner]) => [key, inner === null || inner === undefined ? '' : String(inner)]));
}

function dependsOn(value: unknown): Record<string, string> {
  if (Array.isArray(value)) return Object.fromEntries(value.map((name) => [String(name), 'service_started']));
  return Object.fromEntries(Object.entries(record(value)).map(([name, inner]) => [name, String(record(inner).condition ?? 'service_started')]));
}

/** JSON with object keys sorted: the order of a mapping's keys means nothing. */
const canonical = (value: unknown): string =>
  JSON.stringify(value, (_, inner: unknown) => (inner && typeof inner === 'object' && !Array.isArray(inner) ? Object.fromEntries(Object.entries(inner).sort(([a], [b]) => a.localeCompare(b))) : inner));

/** One service as meaning: what the comparison looks at. */
export function meaningOf(service: Service, name: string, notes: Note[] = []): Record<string, unknown> {
  const dropped = new Set(notes.filter((note) => note.service === name).map((note) => note.field));
  const keep = (field: string) => (_: unknown, index: number) => !dropped.has(`${field}.${index}`);
  const image = String(service.image ?? '');
  const meaning: Record<string, unknown> = {
    image: /:[\w][\w.-]*$/.test(image.split('/').pop() ?? '') || image.includes('@') ? image : `${image}:latest`,
    ports: [...list(service.ports).filter(keep('ports')).map(port), ...list(service.expose).filter(keep('expose')).map((entry) => port(String(entry)))].sort(),
    environment: environment(service.environment),
    volumes: list(service.volumes).filter(keep('volumes')).map(volume).sort(),
    networks: (Array.isArray(service.networks) ? service.networks.map(String) : Object.keys(record(service.networks))).sort(),
    restart: service.restart ?? 'no',
    depends_on: dependsOn(service.depends_on),
  };
  for (const key of CARRIED) if (!(key in meaning) && service[key] !== undefined && !dropped.has(key)) meaning[key] = service[key];
  return meaning;
}

/**
 * The differences between the services of `original` and of `output` (YAML texts): [] when the same
 * services have the same values (a service without restart: compose's default, no).
 */
export function composeDifferences(original: string, output: string, notes: Note[] = []): string[] {
  const before = record(parse(original)?.services);
  const after = record(parse(output)?.services);
  const differences: string[] = [];
  if (JSON.stringify(Object.keys(before)) !== JSON.stringify(Object.keys(after))) differences.push(`services: ${Object.keys(before).join(',')} became ${Object.keys(after).join(',')}`);
  for (const [name, service] of Object.entries(before)) {
    if (!(name in after)) continue;
    const want = meaningOf(record(service), name, notes);
    const got = meaningOf(record(after[name]), name);
    for (const key of new Set([...Object.keys(want), ...Object.keys(got)])) {
      if (key === 'environment') {
        const wantEnv = want.environment as Record<string, string>;
        const gotEnv = got.environment as Record<string, string>;
        for (const variable of new Set([...Object.keys(wantEnv), ...Object.keys(gotEnv)])) {
          const secretReference = /^\$\{[A-Za-z_][A-Za-z0-9_]*\}$/.test(gotEnv[variable] ?? '') && gotEnv[variable] !== wantEnv[variable];
          if (gotEnv[variable] !== wantEnv[variable] && !(secretReference && variable in wantEnv)) {
            differences.push(`${name}.environment.${variable}: ${JSON.stringify(wantEnv[variable])} became ${JSON.stringify(gotEnv[variable])}`);
          }
        }
        continue;
      }
      if (canonical(want[key]) !== canonical(got[key])) differences.push(`${name}.${key}: ${JSON.stringify(want[key])} became ${JSON.stringify(got[key])}`);
    }
  }
  return differences;
}
