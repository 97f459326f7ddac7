// POST /project/import (issue 28 points 3 and 4): real compose files (tests/fixtures/compose, from
// docker/awesome-compose) imported, pushed with POST /project, and read back with GET .../compose come
// back with the same services and values; what cannot be carried is named; and the checks before deploy
// (a depends_on on no service, one host port twice, an environment value naming no service, an image tag
// Docker Hub does not have) are refused or warned about at the field, naming the service.
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { api, bearerFor, createApiClientFor, hmacHeaders, jsonRequest, uniqueId } from '../helpers/auth.ts';
import { composeDifferences } from '../helpers/compose-compare.ts';
import elk from '../fixtures/compose/elasticsearch-logstash-kibana.yaml?raw';
import gitea from '../fixtures/compose/gitea-postgres.yaml?raw';
import nginxGolang from '../fixtures/compose/nginx-golang-postgres.yaml?raw';
import pihole from '../fixtures/compose/pihole-cloudflared-DoH.yaml?raw';
import prometheus from '../fixtures/compose/prometheus-grafana.yaml?raw';

interface Imported {
  form: { custom: { web: Array<Record<string, unknown>> } };
  notes: Array<{ service?: string; field?: string; message: string }>;
  warnings: Array<{ path: string; message: string }>;
  project?: { id: number; name: string; warnings: Array<{ path: string; message: string }> };
}

interface ErrorBody {
  message: string;
  errors?: Array<{ path: string; message: string }>;
}

const importCompose = (userId: string, body: Record<string, unknown>, headers: Record<string, string> = {}) =>
  api('/project/import', jsonRequest('POST', body, { ...bearerFor('group_user', userId), ...headers }));

async function imported(userId: string, compose: string, name = 'imported'): Promise<Imported> {
  const response = await importCompose(userId, { compose, name });
  expect(response.status, await response.clone().text()).toBe(200);
  return ((await response.json()) as { item: Imported }).item;
}

async function composeOf(userId: string, projectId: number): Promise<string> {
  const response = await api(`/project/${projectId}/compose`, { headers: bearerFor('group_user', userId) });
  expect(response.status).toBe(200);
  return ((await response.json()) as { item: string }).item;
}

// wordpress-mysql and nextcloud-redis-mariadb go round in tests/node/compose-import.test.ts only: their
// passwords equal their database names (MYSQL_PASSWORD=wordpress, MYSQL_DATABASE=wordpress), and the leak
// check over every response of this project would see the kept-apart password in the compose as the name.
const files: Record<string, string> = {
  'gitea-postgres': gitea,
  'prometheus-grafana': prometheus,
  'pihole-cloudflared-DoH': pihole,
  'elasticsearch-logstash-kibana': elk,
};

describe('a compose file from the wild: import, POST /project, GET .../compose', () => {
  for (const [name, source] of Object.entries(files)) {
    it(`${name} comes back with the same services and values`, async () => {
      const userId = uniqueId('imp');
      const item = await imported(userId, source, name);
      const created = await api('/project', jsonRequest('POST', item.form, bearerFor('group_user', userId)));
      expect(created.status, await created.clone().text()).toBe(201);
      const { id } = ((await created.json()) as { item: { id: number } }).item;
      const output = await composeOf(userId, id);
      expect(composeDifferences(source, output, item.notes)).toEqual([]);
      expect(parse(output)).not.toHaveProperty('version');
    });
  }

  it('keeps db as db, and depends_on with its condition; create: true makes the project (its form not echoed), once per Idempotency-Key', async () => {
    const userId = uniqueId('imp');
    const compose = 'services:\n  db:\n    image: postgres:16.4\n    healthcheck:\n      test: ["CMD", "pg_isready"]\n  web:\n    image: nginx:1.27\n    environment:\n      DB_HOST: db\n    depends_on:\n      db:\n        condition: service_healthy\n';
    const key = crypto.randomUUID();
    const first = await importCompose(userId, { compose, name: 'shop', create: true }, { 'idempotency-key': key });
    expect(first.status, await first.clone().text()).toBe(201);
    const item = ((await first.json()) as { item: Imported }).item;
    expect(item.project).toMatchObject({ name: 'shop', warnings: [] });
    expect(item).not.toHaveProperty('form');
    expect((item.project as unknown as { metadata: Imported['form'] }).metadata.custom.web.map((app) => app.code)).toEqual(['db', 'web']);
    const output = parse(await composeOf(userId, item.project!.id));
    expect(output.services.web.depends_on).toEqual({ db: { condition: 'service_healthy' } });
    expect(output.services.db.healthcheck).toEqual({ test: ['CMD', 'pg_isready'] });
    const again = await importCompose(userId, { compose, name: 'shop', create: true }, { 'idempotency-key': key });
    expect(again.status).toBe(200);
    expect(((await again.json()) as { item: Imported }).item.project!.id).toBe(item.project!.id);
  });

  it('names what it cannot carry; refuses a build-only service and what compose refuses, at the field', async () => {
    const userId = uniqueId('imp');
    const elkImport = await imported(userId, elk);
    expect(elkImport.notes).toContainEqual({ service: 'logstash', field: 'volumes.1', message: expect.stringContaining('the bind mount of the local file ./logstash/nginx.log') });
    const build = await importCompose(userId, { compose: nginxGolang, name: 'golang' });
    expect(build.status).toBe(400);
    expect(((await build.json()) as ErrorBody).errors).toEqual([{ path: 'compose', message: expect.stringMatching(/^services\.backend\.build: service "backend" has no image but build:/) }]);
    const restart = await importCompose(userId, { compose: 'services:\n  web:\n    image: nginx:1.27\n    restart: sometimes\n', name: 'bad' });
    expect(((await restart.json()) as ErrorBody).errors?.[0]?.message).toContain('restart "sometimes"');
    const badName = await importCompose(userId, { compose: 'services:\n  web:\n    image: nginx\n', name: 'a b' });
    expect(badName.status).toBe(400);
    expect(((await badName.json()) as ErrorBody).errors?.map((error) => error.path)).toEqual(['body.name']);
    const huge = await importCompose(userId, { compose: 'x'.repeat(256 * 1024 + 1), name: 'big' });
    expect(((await huge.json()) as ErrorBody).errors?.map((error) => error.path)).toEqual(['body.compose']);
  });

  it('is its owner’s: no token 401, an API client 403, nothing created', async () => {
    const body = JSON.stringify({ compose: gitea, name: 'nobody', create: true });
    expect((await api('/project/import', { method: 'POST', body, headers: { 'content-type': 'application/json' } })).status).toBe(401);
    const userId = uniqueId('imp');
    const apiClient = await createApiClientFor(userId);
    const asClient = await api('/project/import', { method: 'POST', body, headers: { 'content-type': 'application/json', ...(await hmacHeaders(apiClient, 'POST', '/project/import', body)) } });
    expect(asClient.status).toBe(403);
    const list = await api('/project', { headers: bearerFor('group_user', userId) });
    expect(((await list.json()) as { list: unknown[] }).list).toEqual([]);
  });
});

describe('checks before deploy, at the field, naming the service', () => {
  const twoServices = (web: Record<string, unknown>, db: Record<string, unknown> = {}) => ({
    custom: {
      custom_stack_code: 'checked',
      web: [
        { _id: 'db', name: 'db', code: 'db', type: 'web', dockerhub_name: 'postgres:16.4', restart: 'always', ...db },
        { _id: 'web', name: 'web', code: 'web', type: 'web', dockerhub_name: 'nginx:1.27', restart: 'always', ...web },
      ],
    },
  });
  const post = (userId: string, body: unknown) => api('/project', jsonRequest('POST', body, bearerFor('group_user', userId)));

  it('a depends_on on a service the stack does not have is refused', async () => {
    const response = await post(uniqueId('chk'), twoServices({ depends_on: ['db', 'cache'] }));
    expect(response.status).toBe(400);
    expect(((await response.json()) as ErrorBody).errors).toEqual([{ path: 'body.custom.web.1.depends_on.1', message: 'service "web" depends on "cache", which is no service of this stack' }]);
  });

  it('two services publishing one host port are refused, naming both', async () => {
    const ports = [{ host_port: '8080', container_port: '80' }];
    const response = await post(uniqueId('chk'), twoServices({ shared_ports: ports }, { shared_ports: [{ host_port: '8080', container_port: '5432' }] }));
    expect(response.status).toBe(400);
    expect(((await response.json()) as ErrorBody).errors).toEqual([{ path: 'body.custom.web.1.shared_ports.0.host_port', message: 'service "web": host port 8080/tcp is already published by service "db"' }]);
    // On two addresses of the host, one port is two ports.
    const apart = await post(uniqueId('chk'), twoServices({ shared_ports: [{ ...ports[0], host_ip: '127.0.0.1' }] }, { shared_ports: [{ host_port: '8080', container_port: '5432', host_ip: '10.0.0.2' }] }));
    expect(apart.status, await apart.clone().text()).toBe(201);
  });

  it('an environment value naming a host that is no service is a warning at its field, kept on the project', async () => {
    const userId = uniqueId('chk');
    const response = await post(userId, twoServices({ environment: [{ key: 'APP_ENV', value: 'prod' }, { key: 'WORDPRESS_DB_HOST', value: 'mysql:3306' }, { key: 'CACHE_URL', value: 'redis://cache:6379/0' }, { key: 'DATABASE_URL', value: 'postgres://app:pw@db:5432/app' }] }));
    expect(response.status, await response.clone().text()).toBe(201);
    const project = ((await response.json()) as { item: { id: number; warnings: unknown } }).item;
    const expected = [
      { path: 'custom.web.1.environment.1.value', message: 'service "web": WORDPRESS_DB_HOST names host "mysql", which is no service of this stack (db, web)' },
      { path: 'custom.web.1.environment.2.value', message: 'service "web": CACHE_URL names host "cache", which is no service of this stack (db, web)' },
    ];
    expect(project.warnings).toEqual(expected);
    const read = await api(`/project/${project.id}`, { headers: bearerFor('group_user', userId) });
    expect(((await read.json()) as { item: { warnings: unknown } }).item.warnings).toEqual(expected);
    const importWarnings = await imported(userId, 'services:\n  wordpress:\n    image: wordpress:6.6\n    environment:\n      WORDPRESS_DB_HOST: mysql\n  mariadb:\n    image: mariadb:11.4\n');
    expect(importWarnings.warnings).toEqual([{ path: 'custom.web.0.environment.0.value', message: 'service "wordpress": WORDPRESS_DB_HOST names host "mysql", which is no service of this stack (wordpress, mariadb)' }]);
  });

  it('an image tag Docker Hub does not have is refused at the app, naming the service', async () => {
    const response = await post(uniqueId('chk'), twoServices({ dockerhub_name: 'acme/missing-web:9.9' }));
    expect(response.status).toBe(400);
    expect(((await response.json()) as ErrorBody).errors).toEqual([{ path: 'custom.web.1', message: 'service "web": image acme/missing-web:9.9 was not found on Docker Hub' }]);
  });
});
