import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRoute, OpenAPIHono } from '@hono/zod-openapi';
import { Validator } from '@seriousme/openapi-schema-validator';
import { describe, expect, it } from 'vitest';
import { projectFormSchema, type ProjectForm } from '../../functions/services/inputs/projects.ts';
import { listApps, normaliseProjectForm, redactProjectSecrets } from '../../functions/services/project-form.ts';

const fixtureDir = join(import.meta.dirname, '..', 'fixtures', 'reference-payloads');
const fixture = (name: string): Record<string, any> => JSON.parse(readFileSync(join(fixtureDir, name), 'utf8'));

const acceptedFixtures = ['custom.json', 'custom-stack-payload.json', 'custom-stack-payload-no-networks.json'];
const refusedFixtures = ['app.json', 'web-item.json', 'project.json', 'project-update.json'];

const issuePaths = (body: unknown) => {
  const result = projectFormSchema.safeParse(body);
  return result.success ? [] : result.error.issues.map((issue) => issue.path.join('.'));
};

const parse = (body: unknown): ProjectForm => projectFormSchema.parse(body);

/** §1.5: the minimal valid body. */
const minimalBody = () => ({
  custom: {
    custom_stack_code: 'demo',
    web: [{ _id: 'a1', name: 'Nginx', code: 'nginx', type: 'web', restart: 'always', dockerhub_name: 'nginx' } as Record<string, any>],
  } as Record<string, any>,
});

describe('the project form accepts', () => {
  it.each(acceptedFixtures)('the fixture %s, unchanged', (name) => {
    const body = fixture(name);
    const copy = structuredClone(body);
    expect(issuePaths(body)).toEqual([]);
    expect(body).toEqual(copy);
  });

  it('the project of deploy.json as a form', () => {
    expect(issuePaths({ custom: fixture('deploy.json').project })).toEqual([]);
  });

  it('the minimal body of §1.5', () => {
    expect(issuePaths(minimalBody())).toEqual([]);
  });

  it('nulls for every optional key, and empty host ports', () => {
    const body = minimalBody();
    Object.assign(body.custom, { feature: null, service: null, networks: null, project_git_url: null });
    Object.assign(body.custom.web[0], {
      _etag: null,
      versions: null,
      dockerhub_user: null,
      cpu: null,
      icon: null,
      price: null,
      volumes: null,
      environment: null,
      network: null,
      shared_ports: [{ host_port: '', container_port: '80', protocol: null }, { host_port: null, container_port: '81' }],
    });
    expect(issuePaths(body)).toEqual([]);
  });

  it('version strings shorter than the declared 3..20 (custom.json has "15")', () => {
    const body = minimalBody();
    body.custom.web[0].versions = [{ _id: 1, name: '15', version: '15', tag: '1' }];
    expect(issuePaths(body)).toEqual([]);
  });

  it('unknown keys, and drops them from the parsed form', () => {
    const body = minimalBody();
    Object.assign(body, { region: 'fsn1', vars: [{ a: 1 }] });
    Object.assign(body.custom, { servers_count: 3 });
    Object.assign(body.custom.web[0], { ports: { public: ['80'] }, links: [], timestamp: 'x' });
    const form = parse(body) as Record<string, any>;
    expect(form).not.toHaveProperty('region');
    expect(form.custom).not.toHaveProperty('servers_count');
    expect(form.custom.web[0]).not.toHaveProperty('ports');
  });
});

describe('the project form refuses', () => {
  it.each(refusedFixtures)('the old-shape fixture %s (no custom)', (name) => {
    expect(issuePaths(fixture(name))).toContain('custom');
  });

  it.each(['app.json', 'web-item.json'])('the old catalogue app %s as an app of a form', (name) => {
    const paths = issuePaths({ custom: { custom_stack_code: 'demo', web: [fixture(name)] } });
    expect(paths).toEqual(
      expect.arrayContaining(['custom.web.0._id', 'custom.web.0.environment.0.key', 'custom.web.0.network']),
    );
  });

  const app = (changes: Record<string, unknown>) => {
    const body = minimalBody();
    Object.assign(body.custom.web[0], changes);
    return body;
  };
  const custom = (changes: Record<string, unknown>) => {
    const body = minimalBody();
    Object.assign(body.custom, changes);
    return body;
  };
  const withoutApp = (key: string) => {
    const body = minimalBody();
    delete body.custom.web[0][key];
    return body;
  };
  const port = (host_port: unknown, container_port: unknown, protocol?: unknown) =>
    app({ shared_ports: [{ host_port: '8080', container_port: '80' }, { host_port, container_port, protocol }] });
  const twoApps = (second: Record<string, unknown>, list = 'web') => {
    const body = minimalBody();
    const other = { _id: 'a2', name: 'Other', code: 'other', type: 'web', restart: 'always', dockerhub_name: 'redis', ...second };
    if (list === 'web') body.custom.web.push(other);
    else body.custom[list] = [other];
    return body;
  };
  const networks = [{ id: 'n1', name: 'backend' }];

  const cases: Array<[string, unknown, string]> = [
    ['a body that is not an object', [], ''],
    ['custom not an object', { custom: 'x' }, 'custom'],
    ['no web list', { custom: { custom_stack_code: 'demo' } }, 'custom.web'],
    ['no custom_stack_code', { custom: { web: [] } }, 'custom.custom_stack_code'],
    ['a custom_stack_code of 2 characters', custom({ custom_stack_code: 'ab' }), 'custom.custom_stack_code'],
    ['a custom_stack_code of 51 characters', custom({ custom_stack_code: 'a'.repeat(51) }), 'custom.custom_stack_code'],
    ['a custom_stack_code with a NUL', custom({ custom_stack_code: 'ab\u0000c' }), 'custom.custom_stack_code'],
    ['a project_git_url of 2 characters', custom({ project_git_url: 'ab' }), 'custom.project_git_url'],
    ['a project_git_url of 256 characters', custom({ project_git_url: 'a'.repeat(256) }), 'custom.project_git_url'],
    ['a service list that is an object', custom({ service: {} }), 'custom.service'],
    ['a category that is not a string list', custom({ custom_stack_category: [1] }), 'custom.custom_stack_category.0'],
    ['an app without _id', withoutApp('_id'), 'custom.web.0._id'],
    ['a numeric _id', app({ _id: 180 }), 'custom.web.0._id'],
    ['an app without name', withoutApp('name'), 'custom.web.0.name'],
    ['an empty name', app({ name: '' }), 'custom.web.0.name'],
    ['a name of 51 characters', app({ name: 'n'.repeat(51) }), 'custom.web.0.name'],
    ['an app without code', withoutApp('code'), 'custom.web.0.code'],
    ['a code of 64 characters (a service name is a host name: 63 at most)', app({ code: 'c'.repeat(64) }), 'custom.web.0.code'],
    ['a code compose does not allow', app({ code: 'my db' }), 'custom.web.0.code'],
    ['a code that is not a compose service name', app({ code: 'my app' }), 'custom.web.0.code'],
    ['an app without type', withoutApp('type'), 'custom.web.0.type'],
    ['a type of 2 characters', app({ type: 'wb' }), 'custom.web.0.type'],
    ['an app without restart', withoutApp('restart'), 'custom.web.0.restart'],
    ['an unknown restart policy', app({ restart: 'sometimes' }), 'custom.web.0.restart'],
    ['a restart policy of another case', app({ restart: 'Always' }), 'custom.web.0.restart'],
    ['an _etag of 2 characters', app({ _etag: 'ab' }), 'custom.web.0._etag'],
    ['an _etag of 256 characters', app({ _etag: 'e'.repeat(256) }), 'custom.web.0._etag'],
    ['a dockerhub_user of 51 characters', app({ dockerhub_user: 'u'.repeat(51) }), 'custom.web.0.dockerhub_user'],
    ['a dockerhub_name of 51 characters', app({ dockerhub_name: 'n'.repeat(51) }), 'custom.web.0.dockerhub_name'],
    ['a dockerhub_image of 101 characters', app({ dockerhub_image: 'i'.repeat(101) }), 'custom.web.0.dockerhub_image'],
    ['an app without any image', app({ dockerhub_name: '', dockerhub_image: null }), 'custom.web.0.dockerhub_name'],
    ['a cpu that is not a number', app({ cpu: 'two' }), 'custom.web.0.cpu'],
    ['a cpu of 11 characters', app({ cpu: '1'.repeat(11) }), 'custom.web.0.cpu'],
    ['an empty cpu', app({ cpu: '' }), 'custom.web.0.cpu'],
    ['a cpu given as a number', app({ cpu: 1 }), 'custom.web.0.cpu'],
    ['a ram_size in MB', app({ ram_size: '512Mb' }), 'custom.web.0.ram_size'],
    ['a disk_size without unit letter G', app({ disk_size: '10b' }), 'custom.web.0.disk_size'],
    ['a popularity of 0', app({ popularity: 0 }), 'custom.web.0.popularity'],
    ['a fractional popularity', app({ popularity: 1.5 }), 'custom.web.0.popularity'],
    ['a negative category_id', app({ category_id: -1 }), 'custom.web.0.category_id'],
    ['a default that is a string', app({ default: 'yes' }), 'custom.web.0.default'],
    ['a price without value', app({ price: {} }), 'custom.web.0.price.value'],
    ['an icon without dark', app({ icon: { light: {} } }), 'custom.web.0.icon.dark'],
    ['an icon with a fractional width', app({ icon: { light: { width: 1.5 }, dark: {} } }), 'custom.web.0.icon.light.width'],
    ['a role that is a string', app({ role: 'web' }), 'custom.web.0.role'],
    ['a version without tag', app({ versions: [{ _id: 1, name: 'n', version: '1' }] }), 'custom.web.0.versions.0.tag'],
    ['a version with a string _id', app({ versions: [{ _id: '1', name: 'n', version: '1', tag: '1' }] }), 'custom.web.0.versions.0._id'],
    ['an environment in the old {"NAME": "value"} shape', app({ environment: [{ A: 'b' }] }), 'custom.web.0.environment.0.key'],
    ['an environment value that is a number', app({ environment: [{ key: 'A', value: 1 }] }), 'custom.web.0.environment.0.value'],
    ['an empty environment key', app({ environment: [{ key: '', value: 'v' }] }), 'custom.web.0.environment.0.key'],
    ['a network given as one name', app({ network: 'backend' }), 'custom.web.0.network'],
    ['a network id that is not in custom.networks', { custom: { ...minimalBody().custom, networks, web: [{ ...minimalBody().custom.web[0], network: ['n1', 'n2'] }] } }, 'custom.web.0.network.1'],
    ['a network id when there are no networks', app({ network: ['n1'] }), 'custom.web.0.network.0'],
    ['a network without name', custom({ networks: [{ id: 'n1' }] }), 'custom.networks.0.name'],
    ['a network without id', custom({ networks: [{ name: 'backend' }] }), 'custom.networks.0.id'],
    ['a network name compose cannot use', custom({ networks: [{ id: 'n1', name: 'my network' }] }), 'custom.networks.0.name'],
    ['two networks with one id', custom({ networks: [...networks, { id: 'n1', name: 'front' }] }), 'custom.networks.1.id'],
    ['a network external flag that is a string', custom({ networks: [{ id: 'n1', name: 'b', external: 'yes' }] }), 'custom.networks.0.external'],
    ['a volume without container_path', app({ volumes: [{ host_path: 'data' }] }), 'custom.web.0.volumes.0.container_path'],
    ['a volume with an empty container_path', app({ volumes: [{ host_path: 'data', container_path: '' }] }), 'custom.web.0.volumes.0.container_path'],
    ['a mount point used twice', app({ volumes: [{ host_path: 'a', container_path: '/d' }, { host_path: 'b', container_path: '/d' }] }), 'custom.web.0.volumes.1.container_path'],
    ['a numeric container port', port('8081', 8080), 'custom.web.0.shared_ports.1.container_port'],
    ['a numeric host port', port(8081, '80'), 'custom.web.0.shared_ports.1.host_port'],
    ['a one-digit host port', port('8', '80'), 'custom.web.0.shared_ports.1.host_port'],
    ['a host port above 65535', port('65536', '80'), 'custom.web.0.shared_ports.1.host_port'],
    ['a six-digit host port', port('999999', '80'), 'custom.web.0.shared_ports.1.host_port'],
    ['a host port of 0', port('00', '80'), 'custom.web.0.shared_ports.1.host_port'],
    ['a host port with letters', port('80a', '80'), 'custom.web.0.shared_ports.1.host_port'],
    ['a container port above 65535', port('8081', '70000'), 'custom.web.0.shared_ports.1.container_port'],
    ['an empty container port', port('8081', ''), 'custom.web.0.shared_ports.1.container_port'],
    ['a port range', port('8081', '80-81'), 'custom.web.0.shared_ports.1.container_port'],
    ['a port without container_port', app({ shared_ports: [{ host_port: '80' }] }), 'custom.web.0.shared_ports.0.container_port'],
    ['an unknown protocol', port('8081', '80', 'sctp'), 'custom.web.0.shared_ports.1.protocol'],
    ['a host port published twice', port('8080', '81'), 'custom.web.0.shared_ports.1.host_port'],
    ['a host port published by two apps', (() => {
      const body = twoApps({ shared_ports: [{ host_port: '0080', container_port: '80' }] }, 'service');
      body.custom.web[0].shared_ports = [{ host_port: '80', container_port: '8080' }];
      return body;
    })(), 'custom.service.0.shared_ports.0.host_port'],
    ['two apps with one code', twoApps({ code: 'nginx' }, 'feature'), 'custom.feature.0.code'],
    ['an app in the service list with a bad restart', twoApps({ restart: 'never' }, 'service'), 'custom.service.0.restart'],
  ];

  it.each(cases)('%s', (_, body, path) => {
    expect(issuePaths(body)).toContain(path);
  });

  it('the same host port under another protocol is allowed', () => {
    expect(issuePaths(port('8080', '81', 'udp'))).toEqual([]);
  });

  it('counts lengths in characters, not UTF-16 units', () => {
    const body = minimalBody();
    body.custom.web[0].name = '🐳'.repeat(50);
    expect(issuePaths(body)).toEqual([]);
    body.custom.web[0].name = '🐳'.repeat(51);
    expect(issuePaths(body)).toEqual(['custom.web.0.name']);
  });

  it('says what is wrong', () => {
    const body = minimalBody();
    Object.assign(body.custom.web[0], { name: '', shared_ports: [{ host_port: '1', container_port: '80' }] });
    const result = projectFormSchema.safeParse(body);
    expect(result.error?.issues.map((issue) => [issue.path.join('.'), issue.message])).toEqual([
      ['custom.web.0.name', 'must be 1 to 50 characters'],
      ['custom.web.0.shared_ports.0.host_port', 'Port is not valid.'],
    ]);
  });

  it('error paths point at the exact element', () => {
    const body = minimalBody();
    body.custom.web[0].shared_ports = [
      { host_port: '80', container_port: '80' },
      { host_port: 'x', container_port: '81' },
    ];
    expect(issuePaths(body)).toEqual(['custom.web.0.shared_ports.1.host_port']);
  });
});

describe('normaliseProjectForm', () => {
  const appKeyOrder = [
    '_etag', '_id', '_created', '_updated', 'name', 'code', 'type', 'role', 'default', 'versions', 'dockerhub_user',
    'dockerhub_name', 'dockerhub_image', 'dockerhub_password', 'cpu', 'disk_size', 'ram_size', 'popularity',
    'commercial', 'subscription', 'autodeploy', 'suggested', 'dependency', 'avoid_render', 'price', 'icon', 'domain',
    'category_id', 'parent_app_id', 'full_description', 'description', 'plan_type', 'ansible_var', 'repo_dir',
    'url_app', 'url_git', 'restart', 'command', 'entrypoint', 'volumes', 'environment', 'network', 'shared_ports',
    'custom',
  ];

  it('keeps every known key, absent optionals as null, in the reference order (§1.1, §1.3)', () => {
    const metadata = normaliseProjectForm(parse(minimalBody()));
    expect(Object.keys(metadata)).toEqual(['custom']);
    expect(metadata.custom).toEqual({
      web: [expect.any(Object)],
      feature: null,
      service: null,
      custom_stack_code: 'demo',
      project_git_url: null,
      custom_stack_category: null,
      custom_stack_short_description: null,
      custom_stack_description: null,
      project_name: null,
      project_overview: null,
      project_description: null,
      networks: null,
    });
    const app = metadata.custom.web[0]!;
    expect(Object.keys(app)).toEqual(appKeyOrder);
    expect(app).toMatchObject({ _id: 'a1', name: 'Nginx', code: 'nginx', dockerhub_name: 'nginx', restart: 'always' });
    for (const key of appKeyOrder.filter((k) => !['_id', 'name', 'code', 'type', 'dockerhub_name', 'restart'].includes(k))) {
      expect(app[key as keyof typeof app], key).toBeNull();
    }
  });

  it('writes descr only when it is given', () => {
    const body = minimalBody();
    body.custom.web[0].descr = 'short';
    const app = normaliseProjectForm(parse(body)).custom.web[0]!;
    expect(Object.keys(app).indexOf('descr')).toBe(appKeyOrder.indexOf('parent_app_id') + 1);
    expect(app.descr).toBe('short');
  });

  it('keeps what custom.json carries and drops the catalogue keys the reference ignores', () => {
    const metadata = normaliseProjectForm(parse(fixture('custom.json')));
    expect(metadata.custom.networks).toEqual([
      { id: 'ls005v9r2xn6l3d2s', attachable: null, driver: null, driver_opts: null, enable_ipv6: null, internal: null, external: null, ipam: null, labels: null, name: 'default_network' },
      expect.objectContaining({ id: 'ls025c5f1ld1u2tnn', name: 'lkhlkjhlkjh' }),
      expect.objectContaining({ id: 'ls007dio3aq1uh6ad', name: 'samples' }),
    ]);
    expect(metadata.custom.feature).toEqual([]);
    expect(metadata.custom.project_name).toBe('sampletest');
    const postgres = metadata.custom.service![0]!;
    expect(Object.keys(postgres)).toEqual(appKeyOrder);
    expect(postgres).toMatchObject({
      _id: 'ls086eg8szwxxcph',
      _created: '2020-06-19T13:07:24.228389',
      role: ['postgres'],
      dockerhub_image: 'postgres',
      cpu: '0.0',
      icon: {
        light: { width: 576, height: 594, image: 'fd23f54c-e250-4228-8d56-7e5d93ffb925.svg' },
        dark: { width: null, height: null, image: null },
      },
      shared_ports: [{ host_port: '', container_port: '5432', protocol: null }],
      network: ['ls025c5f1ld1u2tnn', 'ls007dio3aq1uh6ad'],
    });
    expect(postgres.versions).toHaveLength(7);
    expect(postgres.versions![0]).toEqual({
      _id: 458, name: '15', version: '15', tag: '15', _etag: null, _created: null, _updated: null, update_status: 'published', app_id: null,
    });
    for (const dropped of ['ports', 'group', 'category', 'links', 'version', 'timestamp', 'form', 'requirements', 'docker_image_is_internal']) {
      expect(postgres).not.toHaveProperty(dropped);
    }
    expect(metadata.custom.web[0]).toMatchObject({ custom: true, domain: 'sample.com', versions: [] });
  });

  it('keeps environment entries as given, trailing spaces included', () => {
    const metadata = normaliseProjectForm(parse(fixture('custom-stack-payload.json')));
    const environment = metadata.custom.web[0]!.environment!;
    expect(environment).toHaveLength(8);
    expect(environment.at(-1)).toEqual({ key: 'PGPASSWORD ', value: 'password' });
  });

  it('is plain JSON that parses again as the same form', () => {
    for (const name of acceptedFixtures) {
      const metadata = normaliseProjectForm(parse(fixture(name)));
      const stored = JSON.parse(JSON.stringify(metadata));
      expect(stored).toEqual(metadata);
      expect(normaliseProjectForm(parse(stored))).toEqual(metadata);
    }
  });
});

describe('redactProjectSecrets', () => {
  const withPasswords = () => {
    const body = fixture('custom.json');
    body.custom.web[0].dockerhub_password = 'hunter2';
    body.custom.service[0].dockerhub_password = 'hunter3';
    body.custom.feature = [{ _id: 'f1', name: 'Feat', code: 'feat', type: 'feature', restart: 'always', dockerhub_name: 'x', dockerhub_password: 'hunter4' }];
    return body;
  };
  const serialised = (value: unknown) => JSON.stringify(value);

  it('removes dockerhub_password from every app of the metadata', () => {
    const metadata = normaliseProjectForm(parse(withPasswords()));
    expect(serialised(metadata)).toContain('hunter2');
    const redacted = redactProjectSecrets(metadata);
    expect(serialised(redacted)).not.toMatch(/hunter|dockerhub_password/);
    expect(redacted.custom.web[0]).toMatchObject({ dockerhub_name: 'nginx', _id: 'ls0063cx3h9cks1ue' });
    expect(redacted.custom.service![0]).not.toHaveProperty('dockerhub_password');
    expect(redacted.custom.feature![0]).not.toHaveProperty('dockerhub_password');
  });

  it('removes secrets from a raw request body wherever they are, and does not touch the input', () => {
    const body = withPasswords();
    body.custom.web[0].api_token = 'tok';
    body.custom.web[0].icon = { light: { secret: 's' }, dark: {} };
    body.custom.web[0].environment = [{ key: 'PGPASSWORD', value: 'kept' }];
    const before = structuredClone(body);
    const redacted = redactProjectSecrets(body);
    expect(body).toEqual(before);
    const text = serialised(redacted);
    expect(text).not.toMatch(/hunter|dockerhub_password|api_token|"secret"/);
    // The UI's deploy settings at top level: the cloud credentials go, the flag stays.
    expect(redacted).not.toHaveProperty('cloud_token');
    expect(redacted).toHaveProperty('save_token', true);
    expect(redacted).toHaveProperty('provider', 'htz');
    // Environment entries are configuration the user edits; they stay.
    expect(redacted.custom.web[0].environment).toEqual([{ key: 'PGPASSWORD', value: 'kept' }]);
    expect(redacted.custom.service[0].versions).toEqual(before.custom.service[0].versions);
  });

  it('keeps a "__proto__" key a plain key', () => {
    const body = JSON.parse('{"custom":{"__proto__":{"dockerhub_password":"x","a":1}}}');
    const redacted = redactProjectSecrets(body);
    expect(Object.getPrototypeOf(redacted.custom)).toBe(Object.prototype);
    expect(JSON.stringify(redacted)).toBe('{"custom":{"__proto__":{"a":1}}}');
  });

  it('leaves values that are not objects alone', () => {
    expect(redactProjectSecrets(null)).toBeNull();
    expect(redactProjectSecrets('password')).toBe('password');
    expect(redactProjectSecrets([{ token: 't', n: 1 }])).toEqual([{ n: 1 }]);
  });
});

describe('listApps', () => {
  it('lists web, then service, then feature apps with their image fields (§2.1, §2.2)', () => {
    const body = fixture('custom.json');
    body.custom.feature = [{ _id: 'f1', name: 'Feat', code: 'feat', type: 'feature', restart: 'always', dockerhub_user: 'me', dockerhub_name: 'feat:1', dockerhub_password: 'pw' }];
    const form = parse(body);
    const expected = [
      { list: 'web', index: 0, id: 'ls0063cx3h9cks1ue', code: 'samplecom', name: 'samplecom', dockerhubName: 'nginx' },
      { list: 'service', index: 0, id: 'ls086eg8szwxxcph', code: 'postgres', name: 'PostgreSQL', dockerhubImage: 'postgres' },
      { list: 'feature', index: 0, id: 'f1', code: 'feat', name: 'Feat', dockerhubUser: 'me', dockerhubName: 'feat:1', dockerhubPassword: 'pw' },
    ];
    expect(listApps(form)).toEqual(expected);
    // Metadata (nulls instead of absent keys) gives the same list.
    expect(listApps(normaliseProjectForm(form))).toEqual(expected);
  });

  it('gives an empty list for a stack without apps', () => {
    expect(listApps(parse({ custom: { custom_stack_code: 'demo', web: [] } }))).toEqual([]);
  });
});

describe('the schema in the OpenAPI document', () => {
  it('renders as a valid OpenAPI 3.1 request body', async () => {
    const app = new OpenAPIHono();
    const route = createRoute({
      method: 'post',
      path: '/project',
      request: { body: { required: true, content: { 'application/json': { schema: projectFormSchema } } } },
      responses: { 200: { description: 'OK' } },
    });
    app.openapi(route, (c) => c.json({}, 200));
    const document = app.getOpenAPI31Document({ openapi: '3.1.0', info: { title: 't', version: '1' } });
    const schemas = document.components?.schemas ?? {};
    expect(Object.keys(schemas)).toEqual(expect.arrayContaining(['ProjectForm', 'ProjectApp', 'ProjectNetwork', 'ProjectPort']));
    expect(schemas.ProjectApp).toMatchObject({ required: expect.arrayContaining(['_id', 'name', 'code', 'type', 'restart']) });
    const result = await new Validator().validate(document as never);
    expect(result.errors ?? []).toEqual([]);
  });
});
