import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { buildCompose, ComposeError, dockerImageString, type ComposeApp, type ComposeInput } from '../../functions/services/compose.ts';
import { projectFormSchema } from '../../functions/services/inputs/projects.ts';
import { normaliseProjectForm } from '../../functions/services/project-form.ts';
import { validateCompose } from '../helpers/compose-schema.ts';

const fixtureDir = join(import.meta.dirname, '..', 'fixtures', 'reference-payloads');
const goldenDir = join(import.meta.dirname, '..', 'golden', 'compose');
const fixture = (name: string): Record<string, any> => JSON.parse(readFileSync(join(fixtureDir, name), 'utf8'));

/** The accepted project forms among the fixtures; deploy.json carries one under `project`. */
const formFixtures: Record<string, () => unknown> = {
  'custom': () => fixture('custom.json'),
  'custom-stack-payload': () => fixture('custom-stack-payload.json'),
  'custom-stack-payload-no-networks': () => fixture('custom-stack-payload-no-networks.json'),
  'deploy': () => ({ custom: fixture('deploy.json').project }),
};

const metadataOf = (body: unknown) => normaliseProjectForm(projectFormSchema.parse(body));

/** The document is valid compose, and the YAML text reads back as it under YAML 1.2 and 1.1 alike. */
function expectValidCompose(result: { yaml: string; document: object }) {
  const valid = validateCompose(result.document);
  expect(validateCompose.errors ?? []).toEqual([]);
  expect(valid).toBe(true);
  expect(parseYaml(result.yaml)).toEqual(result.document);
  expect(parseYaml(result.yaml, { version: '1.1' })).toEqual(result.document);
}

// ---- helpers for synthetic stacks --------------------------------------------------------------------

const app = (fields: Partial<ComposeApp> = {}): ComposeApp => ({
  _id: 'a1',
  code: 'web',
  restart: 'always',
  dockerhub_name: 'nginx',
  ...fields,
});

const stack = (apps: ComposeApp[], extra: Partial<ComposeInput['custom']> = {}): ComposeInput => ({
  custom: { web: apps, ...extra },
});

const composeErrorOf = (input: ComposeInput): ComposeError => {
  try {
    buildCompose(input);
  } catch (error) {
    if (error instanceof ComposeError) return error;
    throw error;
  }
  throw new Error('buildCompose did not throw');
};

// ---- golden files --------------------------------------------------------------------------------------

describe('compose of every accepted fixture', () => {
  it.each(Object.keys(formFixtures))('%s equals tests/golden/compose/%s.yml and is valid compose', (name) => {
    const result = buildCompose(metadataOf(formFixtures[name]!()));
    const goldenPath = join(goldenDir, `${name}.yml`);
    if (process.env.UPDATE_GOLDEN === '1') {
      mkdirSync(goldenDir, { recursive: true });
      writeFileSync(goldenPath, result.yaml);
    }
    expect(result.yaml).toBe(readFileSync(goldenPath, 'utf8'));
    expectValidCompose(result);
  });
});

// The worked examples of the spec, with the fixed bugs marked.
describe('the worked examples of §3.8–§3.11', () => {
  it('A: custom.json (§3.8)', () => {
    // Fixed: postgres's port has no host port, so it is exposed to the stack instead of published at random.
    expect(buildCompose(metadataOf(fixture('custom.json'))).yaml).toBe(`services:
  samplecom:
    image: nginx:latest
    ports:
    - target: 8080
      published: 80
    restart: always
    networks:
    - default_network
    - lkhlkjhlkjh
    - samples
  postgres:
    image: postgres
    expose:
    - '5432'
    restart: always
    networks:
    - lkhlkjhlkjh
    - samples
networks:
  default_network:
    external: true
    name: default_network
  lkhlkjhlkjh:
    external: false
    name: lkhlkjhlkjh
  samples:
    external: false
    name: samples
`);
  });

  it('B: custom-stack-payload.json (§3.9), unchanged', () => {
    expect(buildCompose(metadataOf(fixture('custom-stack-payload.json'))).yaml).toBe(`services:
  postgrest:
    image: mariadb:11.3.2-latest
    ports:
    - target: 3000
      published: 3000
    environment:
      PGRST_OPENAPI_SERVER_PROXY_URI: http://DOMAIN_NAME:3000
      PGRST_DB_ANON_ROLE: anon
      PGRST_DB_SCHEMA: public
      PGHOST: postgresql_host
      PGPORT: '5432'
      PGUSER: user
      PGDATABASE: database
      'PGPASSWORD ': password
    restart: always
    networks:
    - default_network
networks:
  default_network:
    external: true
    name: default_network
`);
  });

  it('C: custom-stack-payload-no-networks.json (§3.10)', () => {
    // Fixed: the empty host port gives `expose`, and `no` is quoted.
    expect(buildCompose(metadataOf(fixture('custom-stack-payload-no-networks.json'))).yaml).toBe(`services:
  myapp:
    image: nginx
    expose:
    - '8080'
    environment:
      SOMEENVVAR1: SOMEENVVAR_VALUE1
      SOMEENVVAR2: SOMEENVVAR_VALUE2
    restart: 'no'
`);
  });

  it('D: volumes, command, custom network (§3.11)', () => {
    const body = {
      custom: {
        custom_stack_code: 'demo',
        networks: [{ id: 'n1', name: 'backend', driver: 'bridge' }],
        web: [
          {
            _id: 'a1', name: 'Flask', code: 'flask', type: 'web', restart: 'unless-stopped',
            dockerhub_user: 'trydirect', dockerhub_name: 'flask:2.0',
            shared_ports: [{ host_port: '5000', container_port: '5000', protocol: 'udp' }],
            volumes: [
              { host_path: 'flask-data', container_path: '/var/www/flaskdata' },
              { host_path: './conf', container_path: '/etc/flask' },
            ],
            environment: [{ key: 'DEBUG', value: 'true' }],
            command: 'python app.py',
            network: ['n1'],
          },
        ],
      },
    };
    const result = buildCompose(metadataOf(body));
    // Fixed: `protocol: udp` is kept.
    expect(result.yaml).toBe(`services:
  flask:
    image: trydirect/flask:2.0
    ports:
    - target: 5000
      published: 5000
      protocol: udp
    environment:
      DEBUG: 'true'
    restart: unless-stopped
    volumes:
    - source: flask-data
      target: /var/www/flaskdata
      type: volume
    - source: ./conf
      target: /etc/flask
      type: bind
    networks:
    - backend
    command: python app.py
volumes:
  flask-data:
    driver: local
    driver_opts:
      type: none
      o: bind
      device: /root/project/flask-data
    name: flask-data
networks:
  backend:
    driver: bridge
    external: false
    name: backend
`);
    expectValidCompose(result);
  });
});

// ---- the reference's bugs, fixed (§3.12, §13.9, §13.10, §13.23) ----------------------------------------

describe('fixed: an unknown network id', () => {
  it('is a ComposeError naming the network id and the app', () => {
    const error = composeErrorOf(
      stack([app({ code: 'shop', _id: 'x9', network: ['n1', 'ghost'] })], { networks: [{ id: 'n1', name: 'backend' }] }),
    );
    expect(error.message).toContain('"ghost"');
    expect(error.message).toContain('"shop"');
    expect(error.path).toBe('custom.web.0.network.1');
  });

  it('is an error when the stack declares no networks at all', () => {
    const error = composeErrorOf({ custom: { web: [], service: [app({ network: ['n1'] })], networks: null } });
    expect(error.path).toBe('custom.service.0.network.0');
  });
});

describe('fixed: a volume without host_path', () => {
  it('becomes a named volume of the app, declared at top level', () => {
    const result = buildCompose(
      stack([app({ code: 'db', volumes: [{ container_path: '/var/lib/postgresql/data' }, { host_path: '', container_path: '/backup' }] })]),
    );
    expect(result.document.services?.db?.volumes).toEqual([
      { source: 'db-var-lib-postgresql-data', target: '/var/lib/postgresql/data', type: 'volume' },
      { source: 'db-backup', target: '/backup', type: 'volume' },
    ]);
    expect(result.document.volumes).toEqual({
      'db-var-lib-postgresql-data': {
        driver: 'local',
        driver_opts: { type: 'none', o: 'bind', device: '/root/project/db-var-lib-postgresql-data' },
        name: 'db-var-lib-postgresql-data',
      },
      'db-backup': {
        driver: 'local',
        driver_opts: { type: 'none', o: 'bind', device: '/root/project/db-backup' },
        name: 'db-backup',
      },
    });
    expectValidCompose(result);
  });

  it('without container_path either is a ComposeError', () => {
    expect(composeErrorOf(stack([app({ volumes: [{ host_path: 'data' }] })])).path).toBe('custom.web.0.volumes.0');
  });
});

describe('named volumes (reference test: flask-data)', () => {
  it('declares each named volume once, bind-mounted under /root/project', () => {
    const result = buildCompose(
      stack([
        app({ code: 'a', volumes: [{ host_path: 'flask-data', container_path: '/data' }, { host_path: '/srv/x', container_path: '/x' }] }),
        app({ code: 'b', volumes: [{ host_path: 'flask-data', container_path: '/other' }, { host_path: 'data.db', container_path: '/db' }] }),
      ]),
    );
    expect(result.document.volumes).toEqual({
      'flask-data': {
        driver: 'local',
        driver_opts: { type: 'none', o: 'bind', device: '/root/project/flask-data' },
        name: 'flask-data',
      },
    });
    expect(result.document.services?.b?.volumes?.[1]).toEqual({ source: 'data.db', target: '/db', type: 'bind' });
    expectValidCompose(result);
  });
});

describe('fixed: ports', () => {
  it('keep their protocol, published or exposed', () => {
    const result = buildCompose(
      stack([
        app({
          shared_ports: [
            { host_port: '8080', container_port: '80', protocol: 'udp' },
            { host_port: '8443', container_port: '443', protocol: 'tcp' },
            { host_port: '', container_port: '53', protocol: 'udp' },
          ],
        }),
      ]),
    );
    expect(result.document.services?.web).toMatchObject({
      ports: [
        { target: 80, published: 8080, protocol: 'udp' },
        { target: 443, published: 8443, protocol: 'tcp' },
      ],
      expose: ['53/udp'],
    });
    expect(result.yaml).toContain(`    ports:
    - target: 80
      published: 8080
      protocol: udp
`);
    expectValidCompose(result);
  });

  it('without a host port (empty, null or absent) are exposed, never published at random', () => {
    const result = buildCompose(
      stack([app({ shared_ports: [{ host_port: '', container_port: '5432' }, { host_port: null, container_port: '6379' }, { container_port: '5432' }] })]),
    );
    const service = result.document.services?.web;
    expect(service).not.toHaveProperty('ports');
    expect(service?.expose).toEqual(['5432', '6379']);
    expect(Object.keys(service ?? {})).toEqual(['image', 'expose', 'restart']);
    expectValidCompose(result);
  });

  it('with a container port that is not a port number are a ComposeError', () => {
    expect(composeErrorOf(stack([app({ shared_ports: [{ container_port: '70000' }] })])).path).toBe('custom.web.0.shared_ports.0.container_port');
    expect(composeErrorOf(stack([app({ shared_ports: [{ container_port: 'http' }] })])).message).toContain('"http"');
  });

  it('with a host port that is not a port number are a ComposeError, not silently dropped', () => {
    expect(composeErrorOf(stack([app({ shared_ports: [{ host_port: '99999', container_port: '80' }] })])).path).toBe(
      'custom.web.0.shared_ports.0.host_port',
    );
  });
});

describe('fixed: restart "no"', () => {
  it('is quoted, so YAML 1.1 readers see a string', () => {
    const result = buildCompose(stack([app({ restart: 'no' })]));
    expect(result.yaml).toContain("    restart: 'no'\n");
    expect(parseYaml(result.yaml, { version: '1.1' }).services.web.restart).toBe('no');
  });
});

describe('service mapping (§3.4)', () => {
  it('emits the keys in the reference order', () => {
    const result = buildCompose(
      stack(
        [
          app({
            shared_ports: [{ host_port: '80', container_port: '80' }, { container_port: '9000' }],
            environment: [{ key: 'A', value: '1' }],
            volumes: [{ host_path: 'data', container_path: '/data' }],
            network: ['n1'],
            command: 'run',
            entrypoint: '/entry.sh',
          }),
        ],
        { networks: [{ id: 'n1', name: 'backend' }] },
      ),
    );
    expect(Object.keys(result.document.services?.web ?? {})).toEqual([
      'image', 'ports', 'expose', 'environment', 'restart', 'volumes', 'networks', 'command', 'entrypoint',
    ]);
    expectValidCompose(result);
  });

  it('omits empty lists, empty command and empty entrypoint', () => {
    const result = buildCompose(stack([app({ shared_ports: [], environment: [], volumes: [], network: [], command: '', entrypoint: null })]));
    expect(result.document.services).toEqual({ web: { image: 'nginx:latest', restart: 'always' } });
  });

  it('orders services web, service, feature; a later duplicate code replaces the earlier one in place', () => {
    const result = buildCompose({
      custom: {
        web: [app({ code: 'one' }), app({ code: 'two' })],
        service: [app({ code: 'three' })],
        feature: [app({ code: 'one', dockerhub_name: 'redis' })],
      },
    });
    expect(Object.keys(result.document.services ?? {})).toEqual(['one', 'two', 'three']);
    expect(result.document.services?.one?.image).toBe('redis:latest');
  });

  it('keeps environment order; a duplicate key keeps its first place and takes the later value', () => {
    const result = buildCompose(
      stack([app({ environment: [{ key: 'B', value: '1' }, { key: 'A', value: '2' }, { key: 'B', value: '3' }, { key: '10', value: 'x' }] })]),
    );
    expect(result.yaml).toContain(`    environment:
      B: '3'
      A: '2'
      '10': x
`);
    expectValidCompose(result);
  });

  it('keeps the order of integer-like service names in the YAML', () => {
    const result = buildCompose(stack([app({ code: 'zeta' }), app({ code: '123' })]));
    expect(result.yaml.indexOf('zeta:')).toBeLessThan(result.yaml.indexOf("'123':"));
    expectValidCompose(result);
  });

  it('lists each network of a service once', () => {
    const result = buildCompose(
      stack([app({ network: ['n1', 'n2', 'n1'] })], { networks: [{ id: 'n1', name: 'shared' }, { id: 'n2', name: 'shared' }] }),
    );
    expect(result.document.services?.web?.networks).toEqual(['shared']);
    expectValidCompose(result);
  });

  it('an app without any image is a ComposeError', () => {
    expect(composeErrorOf(stack([app({ dockerhub_name: '', dockerhub_image: null })])).path).toBe('custom.web.0.dockerhub_name');
  });

  it('quotes values that would read as other types and keeps long values on one line', () => {
    const long = 'x'.repeat(200);
    const result = buildCompose(
      stack([app({ environment: ['yes', 'on', 'null', '~', '0123', '1e3', '', 'a: b', '#c', long].map((value, i) => ({ key: `K${i}`, value })) })]),
    );
    expect(result.yaml).toContain(`      K0: 'yes'\n      K1: 'on'\n      K2: 'null'\n      K3: '~'\n      K4: '0123'\n      K5: '1e3'\n      K6: ''\n      K7: 'a: b'\n      K8: '#c'\n      K9: ${long}\n`);
    expectValidCompose(result);
  });
});

describe('top level (§3.2, §3.5, §3.6)', () => {
  it('zero apps give an empty document (and the networks); never a version key', () => {
    expect(buildCompose(stack([])).yaml).toBe('{}\n');
    const result = buildCompose(stack([], { networks: [{ id: 'n1', name: 'backend' }] }));
    expect(result.yaml).toBe(`networks:
  backend:
    external: false
    name: backend
`);
    expectValidCompose(result);
  });

  it('network entries: flags only when true, driver when given, duplicates by name collapse', () => {
    const result = buildCompose(
      stack([], {
        networks: [
          { id: 'n1', name: 'front', attachable: true, driver: 'overlay', enable_ipv6: true, internal: true, external: false },
          { id: 'n2', name: 'back', attachable: false, driver: null, enable_ipv6: false, internal: false },
          { id: 'n3', name: 'front', driver: 'bridge' },
        ],
      }),
    );
    expect(result.document.networks).toEqual({
      front: { driver: 'bridge', external: false, name: 'front' },
      back: { external: false, name: 'back' },
    });
    expect(Object.keys(result.document.networks ?? {})).toEqual(['front', 'back']);
  });

  it('an external network (or default_network) carries only external and name: compose refuses a driver beside external', () => {
    const result = buildCompose(
      stack([], {
        networks: [
          { id: 'n1', name: 'default_network', driver: 'bridge', external: false },
          { id: 'n2', name: 'proxy', external: true, attachable: true, internal: true },
        ],
      }),
    );
    expect(result.yaml).toBe(`networks:
  default_network:
    external: true
    name: default_network
  proxy:
    external: true
    name: proxy
`);
    expectValidCompose(result);
  });
});

// ---- image strings (§3.3) ---------------------------------------------------------------------------------

describe('dockerImageString', () => {
  // The seven model_project tests of the reference (reference-api.md §11).
  it.each([
    ['only name, others empty', { dockerhub_user: '', dockerhub_name: 'mysql', dockerhub_image: '' }, 'mysql:latest'],
    ['only name, others absent', { dockerhub_name: 'mysql' }, 'mysql:latest'],
    ['namespace and repo', { dockerhub_user: 'trydirect', dockerhub_name: 'mysql', dockerhub_image: '' }, 'trydirect/mysql:latest'],
    ['namespace, repo and tag', { dockerhub_user: 'trydirect', dockerhub_name: 'mysql:8.1' }, 'trydirect/mysql:8.1'],
    ['only image', { dockerhub_image: 'trydirect/mysql:stable' }, 'trydirect/mysql:stable'],
    ['only image, others empty', { dockerhub_user: '', dockerhub_name: '', dockerhub_image: 'trydirect/mysql:stable' }, 'trydirect/mysql:stable'],
    ['repo name with tag', { dockerhub_name: 'mysql:stable' }, 'mysql:stable'],
  ])('reference: %s', (_, fields, expected) => {
    expect(dockerImageString(fields)).toBe(expected);
  });

  it.each([
    ['image without a tag gets none', { dockerhub_image: 'postgres' }, 'postgres'],
    ['user, name and image: name wins, no tag added', { dockerhub_user: 'openresty', dockerhub_name: 'openresty', dockerhub_image: 'openresty' }, 'openresty/openresty'],
    ['a literal "None" image only suppresses the tag', { dockerhub_user: '', dockerhub_name: 'nginx', dockerhub_image: 'None' }, 'nginx'],
    ['nulls are absent values', { dockerhub_user: null, dockerhub_name: 'redis:7', dockerhub_image: null }, 'redis:7'],
    ['user in front of an image without namespace', { dockerhub_user: 'trydirect', dockerhub_image: 'mysql' }, 'trydirect/mysql'],
  ])('table of §3.3: %s', (_, fields, expected) => {
    expect(dockerImageString(fields)).toBe(expected);
  });

  it('fixed: the user is not put in front of an image that names its namespace', () => {
    expect(dockerImageString({ dockerhub_user: 'trydirect', dockerhub_image: 'trydirect/mysql' })).toBe('trydirect/mysql');
  });

  it('fixed: no image at all is an empty string, not ":latest"', () => {
    expect(dockerImageString({})).toBe('');
    expect(dockerImageString({ dockerhub_user: 'me', dockerhub_name: '', dockerhub_image: '' })).toBe('');
  });
});
