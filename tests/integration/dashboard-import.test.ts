// The builder's "Import docker-compose.yml" box (issue 28 points 3 and 4), inside workerd: a compose file
// from the wild pasted into a project comes back out of the API's compose the same; what cannot be
// carried is said; a service name the stack has, a build-only service, a host port another service
// publishes and an image Docker Hub does not have are refused at the box, naming the service; an
// environment value naming a host that is no service is a warning on its app.
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { api } from '../helpers/api.ts';
import { bearerFor, uniqueId } from '../helpers/auth.ts';
import { composeDifferences } from '../helpers/compose-compare.ts';
import { postForm, signedIn } from '../helpers/dashboard.ts';
import elk from '../fixtures/compose/elasticsearch-logstash-kibana.yaml?raw';
import gitea from '../fixtures/compose/gitea-postgres.yaml?raw';
import nginxGolang from '../fixtures/compose/nginx-golang-postgres.yaml?raw';

type Cookie = { cookie: string };

const signIn = (userId: string, role?: string) => signedIn(userId, role) as Promise<Cookie>;

const post = (session: Cookie, path: string, fields: Array<[string, string]>) => postForm(path, session, fields);

async function newProject(session: Cookie): Promise<number> {
  const created = await post(session, '/projects', [['name', uniqueId('imported')]]);
  expect(created.status).toBe(303);
  return Number(/^\/projects\/(\d+)$/.exec(created.headers.get('location')!)![1]);
}

/** The box's helper text when the textarea is marked invalid. */
function composeFieldMessage(html: string): string | undefined {
  const input = /<textarea[^>]*id="field-compose"[^>]*>/.exec(html)?.[0];
  if (!input?.includes('aria-invalid="true"')) return undefined;
  return /<small id="field-compose-help">([^<]*)<\/small>/.exec(html)?.[1]?.replaceAll('&quot;', '"');
}

async function apiCompose(owner: string, id: number): Promise<string> {
  const response = await api(`/project/${id}/compose`, { headers: bearerFor('group_user', owner) });
  expect(response.status).toBe(200);
  return ((await response.json()) as { item: string }).item;
}

describe('the builder’s Import docker-compose.yml box', () => {
  it('adds a real compose file’s services as they are: the API’s compose gives them back the same', async () => {
    const owner = uniqueId('importer');
    const session = await signIn(owner);
    const id = await newProject(session);
    const builder = await (await api(`/projects/${id}`, { headers: session })).text();
    expect(builder).toContain('<h2 id="import-title">Import docker-compose.yml</h2>');
    expect(builder).toContain(`action="/projects/${id}/import"`);

    const imported = await post(session, `/projects/${id}/import`, [['compose', gitea]]);
    expect(imported.status, await imported.clone().text()).toBe(303);
    expect(imported.headers.get('location')).toBe(`/projects/${id}`);
    const notice = decodeURIComponent(/stacker_notice=([^;]*)/.exec(imported.headers.get('set-cookie') ?? '')?.[1] ?? '');
    expect(notice).toBe('Imported 2 services (gitea, db).');
    const output = await apiCompose(owner, id);
    expect(composeDifferences(gitea, output)).toEqual([]);
    const page = await (await api(`/projects/${id}`, { headers: session })).text();
    expect(page).toContain('service <code>db</code>');

    // What cannot be carried is said in the notice, naming the service.
    const other = await newProject(session);
    const elkImport = await post(session, `/projects/${other}/import`, [['compose', elk]]);
    expect(elkImport.status).toBe(303);
    const elkNotice = decodeURIComponent(/stacker_notice=([^;]*)/.exec(elkImport.headers.get('set-cookie') ?? '')?.[1] ?? '');
    expect(elkNotice).toContain('Imported 3 services (elasticsearch, logstash, kibana). Not carried over: service "elasticsearch": not carried over: container_name');
    expect(parse(await apiCompose(owner, other)).services.logstash.depends_on).toEqual(['elasticsearch']);
  });

  it('refuses at the box, naming the service: a name the stack has, build: only, a host port taken, an image Docker Hub lacks; nothing changes', async () => {
    const owner = uniqueId('importer');
    const session = await signIn(owner);
    const id = await newProject(session);
    expect((await post(session, `/projects/${id}/import`, [['compose', gitea]])).status).toBe(303);
    const before = await apiCompose(owner, id);

    const cases: Array<[string, string]> = [
      [gitea, 'service "gitea" is already in this stack: rename it in the compose file, or remove the app first; service "db" is already in this stack: rename it in the compose file, or remove the app first'],
      [nginxGolang, 'services.backend.build: service "backend" has no image but build: (Stacker deploys images: build and push the image, then set image:)'],
      ['services:\n  grafana:\n    image: grafana/grafana:11.2.0\n    ports: ["3000:3000"]\n', 'service "grafana": host port 3000/tcp is already published by service "gitea"'],
      ['services:\n  api:\n    image: acme/missing-api:1.0\n', 'service "api": image acme/missing-api:1.0 was not found on Docker Hub'],
      ['  ', 'must not be empty'],
    ];
    for (const [compose, message] of cases) {
      const response = await post(session, `/projects/${id}/import`, [['compose', compose]]);
      expect(response.status, message).toBe(400);
      const html = await response.text();
      expect(composeFieldMessage(html), message).toBe(message);
    }
    expect(await apiCompose(owner, id)).toBe(before);

    const stranger = await signIn(uniqueId('stranger'));
    expect((await post(stranger, `/projects/${id}/import`, [['compose', 'services:\n  x1:\n    image: nginx:1.27\n']])).status).toBe(404);
    expect(await apiCompose(owner, id)).toBe(before);
  });

  it('an imported app edited on its page keeps what the page has no field for: a port’s host address, a read-only mount, on-failure:3', async () => {
    const owner = uniqueId('importer');
    const session = await signIn(owner);
    const id = await newProject(session);
    const compose = 'services:\n  web:\n    image: nginx:1.27\n    ports: ["127.0.0.1:8081:80"]\n    volumes: ["/srv/html:/usr/share/nginx/html:ro"]\n    restart: on-failure:3\n    depends_on: [db]\n  db:\n    image: postgres:16.4\n';
    expect((await post(session, `/projects/${id}/import`, [['compose', compose]])).status).toBe(303);
    const appPage = await (await api(`/projects/${id}/apps/web`, { headers: session })).text();
    expect(appPage).toMatch(/<option value="on-failure:3" selected/);
    const saved = await post(session, `/projects/${id}/apps/web`, [
      ['name', 'web'], ['code', 'web'], ['image', 'nginx'], ['tag', '1.27'], ['restart', 'on-failure:3'], ['domain', ''],
      ['port_host', '8081'], ['port_container', '80'], ['port_protocol', 'tcp'],
      ['env_key', 'NGINX_HOST'], ['env_value', 'shop.example.com'],
      ['volume_host', '/srv/html'], ['volume_container', '/usr/share/nginx/html'],
    ]);
    expect(saved.status, await saved.clone().text()).toBe(303);
    const web = parse(await apiCompose(owner, id)).services.web;
    expect(web).toMatchObject({
      ports: [{ target: 80, published: 8081, protocol: 'tcp', host_ip: '127.0.0.1' }],
      volumes: [{ type: 'bind', source: '/srv/html', target: '/usr/share/nginx/html', read_only: true }],
      restart: 'on-failure:3',
      depends_on: ['db'],
      environment: { NGINX_HOST: 'shop.example.com' },
    });
  });

  it('warns on the app whose environment names a host that is no service', async () => {
    const owner = uniqueId('importer');
    const session = await signIn(owner);
    const id = await newProject(session);
    const compose = 'services:\n  wordpress:\n    image: wordpress:6.6\n    environment:\n      WORDPRESS_DB_HOST: mysql\n  mariadb:\n    image: mariadb:11.4\n';
    expect((await post(session, `/projects/${id}/import`, [['compose', compose]])).status).toBe(303);
    const page = await (await api(`/projects/${id}`, { headers: session })).text();
    const card = /<article class="app-card" id="app-wordpress"[\s\S]*?<\/article>/.exec(page)?.[0] ?? '';
    expect(card.replaceAll('&quot;', '"')).toContain('Warning: service "wordpress": WORDPRESS_DB_HOST names host "mysql", which is no service of this stack (wordpress, mariadb)');
    expect(page).not.toMatch(/<article class="app-card" id="app-mariadb"[\s\S]*?Warning:[\s\S]*?<\/article>/);
  });
});
