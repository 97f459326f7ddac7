// stacker.yml: a stack as a file. Its zod schema (the source of schema/stacker.schema.json), parsing
// with the line and field of every error, and the commented example. The conversions (to the project
// form, from a docker-compose.yml, from the catalog) are in conversions.ts.
import { existsSync, readFileSync } from 'node:fs';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node as YamlNode } from 'yaml';
import { z } from 'zod';
import { referenceWarnings } from '../../functions/services/compose-check.ts';
import { composeExtraFields, dependencyNames, restartPattern, SERVICE_NAME_MAX } from '../../functions/services/compose-fields.ts';
import { portSyntax, volumeSyntax } from '../../functions/services/compose-import.ts';

/** Compose's rule for service names (db is one), at most 63 characters: a service name is a host name. */
const serviceKey = z
  .string()
  .regex(/^[a-zA-Z0-9._-]+$/, 'a service name may contain only letters, digits, ".", "_" and "-"')
  .min(1, 'a service name must not be empty')
  .max(SERVICE_NAME_MAX, `a service name must be at most ${SERVICE_NAME_MAX} characters`);
const networkKey = z.string().regex(/^[a-zA-Z0-9._-]+$/, 'a network name may contain only letters, digits, ".", "_" and "-"').max(100);
const envKey = z.string().regex(/^[A-Za-z_][A-Za-z0-9_.]*$/, 'an environment variable name is letters, digits and "_", not starting with a digit');

const isPort = (value: string) => /^\d{2,5}$/.test(value) && Number(value) >= 10 && Number(value) <= 65_535;
/** `[HOST_IP:]HOST:CONTAINER[/PROTOCOL]` or `CONTAINER[/PROTOCOL]`: groups host address, host port, container port, protocol. */
export const portPattern = portSyntax;
const portSpec = z
  .union([z.number().int(), z.string()])
  .refine((value) => {
    const match = portPattern.exec(String(value));
    return Boolean(match && (match[2] === undefined || isPort(match[2])) && isPort(match[3]!));
  }, 'a port is "HOST:CONTAINER", "127.0.0.1:HOST:CONTAINER", "HOST:CONTAINER/udp" or "CONTAINER" (not published), each 10 to 65535')
  .meta({ description: '"8080:80" publishes container port 80 on host port 8080 ("127.0.0.1:8080:80" on that address only); "80" keeps it inside the stack; "/udp" for UDP', examples: ['8080:80', '127.0.0.1:8443:443', '5432', '53:53/udp'] });

export const volumePattern = volumeSyntax;
const volumeSpec = z
  .string()
  .refine((value) => {
    const match = volumePattern.exec(value);
    if (!match) return false;
    const source = match[1];
    return source === undefined || /^(\/|\.\.?\/)/.test(source) || /^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(source);
  }, 'a volume is "SOURCE:/container/path[:ro]" (SOURCE a ./path, an /absolute/path or a volume name) or "/container/path" (a named volume)')
  .meta({ description: 'Bind mount or named volume, compose short syntax (":ro" read-only)', examples: ['./html:/usr/share/nginx/html:ro', 'pgdata:/var/lib/postgresql/data', '/data'] });

const text = (max: number) => z.string().max(max, `must be at most ${max} characters`);

export const RESTART_POLICIES = ['unless-stopped', 'always', 'on-failure', 'no'] as const;
export const SERVICE_KINDS = ['web', 'service', 'feature'] as const;

const serviceSchema = z
  .strictObject({
    image: z
      .string()
      .min(1, 'is required')
      .max(100, 'must be at most 100 characters')
      .regex(/^[^\s:@]+(:[\w][\w.-]{0,127})?$/, 'must be an image like nginx, nginx:1.27 or ghcr.io/org/app:2 (no digest)')
      .meta({ description: 'Docker image, repository[:tag]', examples: ['nginx:1.27', 'postgres:16'] }),
    name: z.string().min(1, 'must be 1 to 50 characters').max(50, 'must be 1 to 50 characters').optional().meta({ description: 'Display name (default: the service name)' }),
    kind: z.enum(SERVICE_KINDS).default('web').meta({ description: 'web (default): an app with a front; service: a database, cache or queue; feature: an add-on' }),
    catalog: z.string().max(50).optional().meta({ description: 'The catalog app it was added from (stacker service add), if any' }),
    ports: z.array(portSpec).max(100).optional(),
    environment: z
      .union([
        z.record(envKey, z.union([z.string(), z.number(), z.boolean(), z.null()])),
        z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_.]*(=.*)?$/s, 'an entry is KEY=value')),
      ])
      .optional()
      .meta({ description: 'KEY: value map, or a list of KEY=value' }),
    volumes: z.array(volumeSpec).max(100).optional(),
    networks: z.array(networkKey).max(20).optional().meta({ description: 'Names of networks declared under the top-level networks' }),
    restart: z
      .string()
      .regex(restartPattern, 'must be no, always, unless-stopped or on-failure[:retries]')
      .default('unless-stopped')
      .meta({ description: 'unless-stopped (default), always, on-failure[:retries] or no', examples: ['always', 'on-failure:3'] }),
    // depends_on, healthcheck, command, entrypoint, user, working_dir, labels, cap_add, cap_drop, ulimits,
    // logging, extra_hosts: as in a compose file (functions/services/compose-fields.ts).
    ...composeExtraFields,
    domain: text(255).optional().meta({ description: 'The domain the app is served on' }),
  })
  .meta({ description: 'One container of the stack' });

const networkSchema = z
  .strictObject({
    driver: text(50).optional(),
    internal: z.boolean().optional(),
    external: z.boolean().optional(),
    attachable: z.boolean().optional(),
    enable_ipv6: z.boolean().optional(),
  })
  .nullable();

const serverSchema = z
  .strictObject({
    region: z.string().min(2).max(50).optional(),
    zone: z.string().min(1).max(50).optional(),
    server: z.string().min(2).max(50).optional().meta({ description: 'Server type of the cloud (e.g. cx22); locally, "local-fail" makes the install-service stand-in fail' }),
    os: z.string().min(2).max(50).optional(),
    disk_type: z.string().min(3).max(50).optional(),
    srv_ip: z.union([z.ipv4(), z.ipv6()]).optional().meta({ description: 'The server\'s public address: with cloud: own, the server to deploy to (or `stacker deploy --address`); the addresses of the apps are made from it' }),
    ssh_port: z.number().int().min(20).max(65_535).optional(),
    ssh_user: z.string().min(3).max(50).optional(),
  })
  .meta({ description: 'The server to deploy to (as POST /project/{id}/deploy takes it)' });

export const stackerFileSchema = z
  .strictObject({
    name: z
      .string()
      .min(3, 'must be 3 to 50 characters')
      .max(50, 'must be 3 to 50 characters')
      .regex(/^[a-zA-Z0-9._-]+$/, 'may contain only letters, digits, ".", "_" and "-"')
      .meta({ description: 'The project: `stacker push` creates it, or updates the project of this name' }),
    description: text(2000).optional(),
    services: z.record(serviceKey, serviceSchema).refine((services) => Object.keys(services).length > 0, 'a stack needs at least one service'),
    networks: z.record(networkKey, networkSchema).optional(),
    deploy: z
      .strictObject({
        cloud: z
          .union([z.string().min(1), z.number().int().positive()])
          .optional()
          .meta({
            description: '"own": a server you already have (its address in server.srv_ip; the built-in engine installs the agent with the command `stacker deploy` prints). Otherwise a saved cloud (id or provider). Used when `stacker deploy` has no --cloud or --server own',
            examples: ['own', 'htz', 3],
          }),
        server: serverSchema.optional(),
      })
      .optional(),
  })
  .superRefine((file, ctx) => {
    const declared = new Set(Object.keys(file.networks ?? {}));
    // Host address (* for all), port and protocol: one address's port clashes with the same port on all.
    const published: Array<{ ip: string; port: string; by: string }> = [];
    for (const [key, service] of Object.entries(file.services)) {
      service.networks?.forEach((network, index) => {
        if (!declared.has(network)) ctx.addIssue({ code: 'custom', path: ['services', key, 'networks', index], message: `network "${network}" is not declared under networks` });
      });
      service.ports?.forEach((port, index) => {
        const match = portPattern.exec(String(port));
        if (!match?.[2]) return;
        const where = { ip: match[1] && !['0.0.0.0', '[::]'].includes(match[1]) ? match[1] : '*', port: `${Number(match[2])}/${match[4] ?? 'tcp'}`, by: key };
        const other = published.find((seen) => seen.port === where.port && (seen.ip === where.ip || seen.ip === '*' || where.ip === '*'));
        if (other) ctx.addIssue({ code: 'custom', path: ['services', key, 'ports', index], message: `host port ${where.port} is already published by ${other.by}` });
        else published.push(where);
      });
      const dependsOn = service.depends_on;
      dependencyNames(dependsOn).forEach((name, index) => {
        if (name in file.services && name !== key) return;
        const message = name === key ? `service "${key}" depends on itself` : `service "${key}" depends on "${name}", which is no service of this file`;
        ctx.addIssue({ code: 'custom', path: ['services', key, 'depends_on', Array.isArray(dependsOn) ? index : name], message });
      });
    }
  })
  .meta({
    title: 'stacker.yml',
    description: 'A Stacker stack: its services (containers), networks and where to deploy it. See the README, "Command line (stacker)".',
  });

export type StackerFile = z.output<typeof stackerFileSchema>;
export type StackerService = StackerFile['services'][string];

export const SCHEMA_ID = 'https://stacker.try.direct/schema/stacker.schema.json';

/** The JSON Schema of stacker.yml (committed as schema/stacker.schema.json). */
export function stackerJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(stackerFileSchema, { io: 'input', target: 'draft-2020-12', unrepresentable: 'any' }) as Record<string, unknown>;
  return { $schema: schema.$schema, $id: SCHEMA_ID, ...schema };
}

// ---- parsing with lines -------------------------------------------------------------------------

export interface FileProblem {
  line: number;
  column: number;
  /** The field, as a dotted path (services.web.ports.0), or "" for the document. */
  field: string;
  message: string;
}

export type Parsed = { ok: true; file: StackerFile; document: Document; raw: unknown; warnings: FileProblem[] } | { ok: false; problems: FileProblem[] };

/** Parses stacker.yml text: YAML errors and schema errors, each with its line, column and field. */
export function parseStackerFile(source: string): Parsed {
  const lineCounter = new LineCounter();
  const document = parseDocument(source, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (document.errors.length > 0) {
    return {
      ok: false,
      problems: document.errors.map((error) => {
        const at = lineCounter.linePos(error.pos[0]);
        return { line: at.line, column: at.col, field: '', message: error.message.split('\n')[0]! };
      }),
    };
  }
  const raw = document.toJS() as unknown;
  const result = stackerFileSchema.safeParse(raw ?? {});
  if (result.success) return { ok: true, file: result.data, document, raw, warnings: fileWarnings(result.data, document, lineCounter) };
  const problems: FileProblem[] = [];
  for (const issue of result.error.issues) {
    const path = issue.path.map((segment) => (typeof segment === 'symbol' ? String(segment) : segment));
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) problems.push(locate(document, lineCounter, [...path, key], `unknown field "${key}"`, true));
    } else if (issue.code === 'invalid_key') {
      problems.push(locate(document, lineCounter, path, issue.issues[0]?.message ?? issue.message, true));
    } else if (issue.code === 'invalid_type' && issue.input === undefined) {
      problems.push(locate(document, lineCounter, path, 'is required'));
    } else {
      problems.push(locate(document, lineCounter, path, issue.message));
    }
  }
  problems.sort((a, b) => a.line - b.line || a.column - b.column);
  return { ok: false, problems };
}

/** What may not work as meant (services/compose-check.ts): an environment value naming a host that is no service. */
function fileWarnings(file: StackerFile, document: Document, lineCounter: LineCounter): FileProblem[] {
  const apps = Object.entries(file.services).map(([code, service]) => {
    const environment = service.environment ?? {};
    const entries = Array.isArray(environment)
      ? environment.map((entry, index) => ({ key: entry.split('=')[0]!, value: entry.includes('=') ? entry.slice(entry.indexOf('=') + 1) : '', at: index as string | number }))
      : Object.entries(environment).map(([key, value]) => ({ key, value: value === null ? '' : String(value), at: key as string | number }));
    return { code, environment: entries };
  });
  return referenceWarnings(apps).map((warning) => {
    const at = apps.find((app) => app.code === warning.service)!.environment[warning.index]!.at;
    return locate(document, lineCounter, ['services', warning.service, 'environment', at], `warning: ${warning.message}`);
  });
}

/** The line of a path in the document: the node itself, or (a missing field) its nearest parent. */
function locate(document: Document, lineCounter: LineCounter, path: Array<string | number>, message: string, atKey = false): FileProblem {
  const field = path.join('.');
  for (let depth = path.length; depth >= 0; depth--) {
    const node = nodeAt(document, path.slice(0, depth), atKey && depth === path.length);
    if (node?.range) {
      const at = lineCounter.linePos(node.range[0]);
      return { line: at.line, column: at.col, field, message };
    }
  }
  return { line: 1, column: 1, field, message };
}

function nodeAt(document: Document, path: Array<string | number>, keyNode: boolean): YamlNode | undefined {
  let node: unknown = document.contents;
  for (const [index, segment] of path.entries()) {
    if (isMap(node)) {
      const pair = node.items.find((item) => isPair(item) && isScalar(item.key) && String(item.key.value) === String(segment));
      if (!pair) return undefined;
      node = keyNode && index === path.length - 1 ? pair.key : pair.value;
    } else if (isSeq(node)) {
      node = node.items[Number(segment)];
    } else {
      return undefined;
    }
  }
  return (node ?? undefined) as YamlNode | undefined;
}

export function formatProblems(fileName: string, problems: FileProblem[]): string[] {
  return problems.map((problem) => `${fileName}:${problem.line}:${problem.column}: ${problem.field ? `${problem.field}: ` : ''}${problem.message}`);
}

export function readStackerFile(path: string): { source: string } | undefined {
  if (!existsSync(path)) return undefined;
  return { source: readFileSync(path, 'utf8') };
}

// ---- the example --------------------------------------------------------------------------------

export const EXAMPLE = `# stacker.yml: a stack for \`stacker push\` and \`stacker deploy\`.
# Schema: schema/stacker.schema.json in the Stacker repository (\`stacker config schema\` prints it).
name: my-stack
description: A web server in front of a database
services:
  web:
    image: nginx:1.27
    ports:
      - "8080:80"          # HOST:CONTAINER; "80" alone keeps it inside the stack
    volumes:
      - ./html:/usr/share/nginx/html
    networks: [front]
    domain: example.com
  database:
    image: postgres:16
    kind: service          # web (default), service (databases, caches) or feature
    environment:
      POSTGRES_PASSWORD: \${POSTGRES_PASSWORD}   # generated on the server at push; stacker secrets show/set/rotate
    volumes:
      - pgdata:/var/lib/postgresql/data
    networks: [front]
    restart: always        # unless-stopped (default), always, on-failure, no
networks:
  front:
    driver: bridge
deploy:
  cloud: htz               # a saved cloud, by id or provider (or stacker deploy --cloud)
  server:
    region: fsn1
    server: cx22
    os: ubuntu-22.04
# A server you already have instead (stacker deploy --server own --address 203.0.113.10):
# deploy:
#   cloud: own
#   server:
#     srv_ip: 203.0.113.10
`;
