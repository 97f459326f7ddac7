// The builder with templates and secrets inside workerd (issue 28): adding WordPress adds MariaDB and
// wires it (host, one generated password on both sides), a second app links to it; the secrets page
// shows names masked to the owner, reveals one value on a POST, rotates and sets; nobody else (an admin
// included) reaches it; no page but the reveal shows a value.
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { api } from '../helpers/api.ts';
import { bearerFor, uniqueId } from '../helpers/auth.ts';
import { postForm, signedIn } from '../helpers/dashboard.ts';

type Cookie = { cookie: string };

const signIn = (userId: string, role?: string) => signedIn(userId, role) as Promise<Cookie>;

const post = (session: Cookie, path: string, fields: Array<[string, string]>) => postForm(path, session, fields);

async function page(session: Cookie, path: string): Promise<string> {
  const response = await api(path, { headers: session });
  expect(response.status, path).toBe(200);
  return response.text();
}

async function newProject(session: Cookie): Promise<number> {
  const created = await post(session, '/projects', [['name', uniqueId('tpl')]]);
  expect(created.status).toBe(303);
  return Number(/^\/projects\/(\d+)$/.exec(created.headers.get('location')!)![1]);
}

async function composeOf(owner: string, id: number) {
  const response = await api(`/project/${id}/compose`, { headers: bearerFor('group_user', owner) });
  expect(response.status).toBe(200);
  const yaml = ((await response.json()) as { item: string }).item;
  return { yaml, services: (parse(yaml) as { services: Record<string, { environment?: Record<string, string>; depends_on?: unknown; healthcheck?: unknown }> }).services };
}

/** The notice a redirect carries (a cookie the next page shows). */
const noticeOf = (response: Response) => decodeURIComponent(response.headers.get('set-cookie') ?? '');

const revealed = (html: string) => /<code id="revealed-secret">([^<]*)<\/code>/.exec(html)?.[1];

describe('the builder with templates', () => {
  it('adds WordPress with MariaDB wired to it, and links Matomo to the same MariaDB', async () => {
    const owner = uniqueId('tpl');
    const session = await signIn(owner);
    const id = await newProject(session);
    const added = await post(session, `/projects/${id}/apps`, [['catalog', 'wordpress']]);
    expect(added.status).toBe(303);
    expect(noticeOf(added)).toContain('WordPress added as service “wordpress”; MariaDB (“mariadb”) added for wordpress\'s db.');

    const { services, yaml } = await composeOf(owner, id);
    expect(Object.keys(services).sort()).toEqual(['mariadb', 'wordpress']);
    expect(services.wordpress!.environment!.WORDPRESS_DB_HOST).toBe('mariadb');
    expect(services.wordpress!.environment!.WORDPRESS_DB_PASSWORD).toBe('${MARIADB_PASSWORD}');
    expect(services.mariadb!.environment!.MARIADB_PASSWORD).toBe('${MARIADB_PASSWORD}');
    expect(services.wordpress!.depends_on).toEqual({ mariadb: { condition: 'service_healthy' } });
    expect(services.mariadb!.healthcheck).toMatchObject({ test: ['CMD', 'healthcheck.sh', '--connect', '--innodb_initialized'] });
    expect(yaml).not.toMatch(/change-?me/);

    const matomo = await post(session, `/projects/${id}/apps`, [['catalog', 'matomo']]);
    expect(matomo.status).toBe(303);
    expect(noticeOf(matomo)).toContain('matomo\'s db linked to “mariadb”');
    const linked = await composeOf(owner, id);
    expect(Object.keys(linked.services).sort()).toEqual(['mariadb', 'matomo', 'wordpress']);
    expect(linked.services.matomo!.environment!.MATOMO_DATABASE_PASSWORD).toBe('${MARIADB_PASSWORD}');
  });

  it('an app of no catalog is a 404; the secrets page is its owner’s: masked, reveal on a POST, rotate, set', async () => {
    const owner = uniqueId('tpl');
    const session = await signIn(owner);
    const id = await newProject(session);
    expect((await post(session, `/projects/${id}/apps`, [['catalog', 'no-such-app']])).status).toBe(404);
    await post(session, `/projects/${id}/apps`, [['catalog', 'postgres']]);
    expect(await page(session, `/projects/${id}`)).toContain(`href="/projects/${id}/secrets"`);

    const listing = await page(session, `/projects/${id}/secrets`);
    expect(listing).toContain('<code>POSTGRES_PASSWORD</code>');
    expect(listing).toContain('********');
    expect(revealed(listing)).toBeUndefined();

    const shown = await post(session, `/projects/${id}/secrets/POSTGRES_PASSWORD/reveal`, []);
    expect(shown.status).toBe(200);
    expect(shown.headers.get('cache-control')).toBe('no-store');
    const value = revealed(await shown.text());
    expect(value).toMatch(/^[A-Za-z0-9]{64}$/);
    const api1 = await api(`/project/${id}/secrets/POSTGRES_PASSWORD`, { headers: bearerFor('group_user', owner) });
    expect(((await api1.json()) as { item: { value: string } }).item.value).toBe(value);

    const rotated = await post(session, `/projects/${id}/secrets/POSTGRES_PASSWORD/rotate`, []);
    expect(rotated.status).toBe(303);
    const after = revealed(await (await post(session, `/projects/${id}/secrets/POSTGRES_PASSWORD/reveal`, [])).text());
    expect(after).toMatch(/^[A-Za-z0-9]{64}$/);
    expect(after).not.toBe(value);

    const badSet = await post(session, `/projects/${id}/secrets/set`, [['name', '1bad name'], ['value', '']]);
    expect(badSet.status).toBe(400);
    const badHtml = await badSet.text();
    expect(badHtml).toMatch(/<small id="field-name-help">must be a variable name/);
    expect(badHtml).toMatch(/<small id="field-value-help">must not be empty/);
    const set = await post(session, `/projects/${id}/secrets/set`, [['name', 'SMTP_PASSWORD'], ['value', 'owner-chosen-Vb83']]);
    expect(set.status).toBe(303);
    expect(await page(session, `/projects/${id}/secrets`)).toContain('<code>SMTP_PASSWORD</code>');
    expect(revealed(await (await post(session, `/projects/${id}/secrets/SMTP_PASSWORD/reveal`, [])).text())).toBe('owner-chosen-Vb83');

    // Nobody else: another user, and an admin (who may open the builder of anyone's project).
    for (const other of [await signIn(uniqueId('other')), await signIn(uniqueId('admin'), 'group_admin')]) {
      expect((await api(`/projects/${id}/secrets`, { headers: other })).status).toBe(404);
      expect((await post(other, `/projects/${id}/secrets/POSTGRES_PASSWORD/reveal`, [])).status).toBe(404);
      expect((await post(other, `/projects/${id}/secrets/POSTGRES_PASSWORD/rotate`, [])).status).toBe(404);
      expect((await post(other, `/projects/${id}/secrets/set`, [['name', 'POSTGRES_PASSWORD'], ['value', 'taken-over-1234']])).status).toBe(404);
    }
    const admin = await signIn(uniqueId('admin'), 'group_admin');
    expect(await page(admin, `/projects/${id}`)).not.toContain(`href="/projects/${id}/secrets"`);
    expect(revealed(await (await post(session, `/projects/${id}/secrets/POSTGRES_PASSWORD/reveal`, [])).text())).toBe(after);

    // A value the owner marks secret on the app's page is kept apart too, whatever its key.
    const marked = await post(session, `/projects/${id}/apps/postgres`, [
      ['name', 'PostgreSQL'], ['code', 'postgres'], ['image', 'postgres'], ['tag', '16.6'], ['restart', 'unless-stopped'], ['domain', ''],
      ['port_host', ''], ['port_container', '5432'], ['port_protocol', 'tcp'],
      ['env_key', 'POSTGRES_PASSWORD'], ['env_value', '${POSTGRES_PASSWORD}'], ['env_secret', ''],
      ['env_key', 'PLAIN_LOOKING'], ['env_value', 'marked-by-the-owner-5Zq'], ['env_secret', 'yes'],
      ['env_key', 'POSTGRES_DB'], ['env_value', 'app'], ['env_secret', ''],
      ['volume_host', ''], ['volume_container', '/var/lib/postgresql/data'],
    ]);
    expect(marked.status).toBe(303);
    expect((await composeOf(owner, id)).services.postgres!.environment).toEqual({ POSTGRES_PASSWORD: '${POSTGRES_PASSWORD}', PLAIN_LOOKING: '${POSTGRES_PLAIN_LOOKING}', POSTGRES_DB: 'app' });
    expect(revealed(await (await post(session, `/projects/${id}/secrets/POSTGRES_PLAIN_LOOKING/reveal`, [])).text())).toBe('marked-by-the-owner-5Zq');
    expect(await page(session, `/projects/${id}/apps/postgres`)).toMatch(/<option value="yes" selected="">yes<\/option>/);

    // No other page shows a value: the builder, the app page, the download.
    for (const path of [`/projects/${id}`, `/projects/${id}/apps/postgres`, `/projects/${id}/compose.yml`]) {
      const text = await (await api(path, { headers: session })).text();
      expect(text).not.toContain(after!);
      expect(text).toContain('${POSTGRES_PASSWORD}');
    }
  });

  it('an admin edits a catalog entry’s template as JSON; bad JSON, a latest tag or a change-me value are refused at the field', async () => {
    const admin = await signIn(uniqueId('admin'), 'group_admin');
    const code = uniqueId('tplc').toLowerCase();
    const fields = (overrides: Record<string, string>): Array<[string, string]> => {
      const base: Record<string, string> = { code, name: 'Templated', category: 'Testing', description: 'A template test', image: 'grafana/grafana', tag: '11.2.0', ...overrides };
      return [
        ...Object.entries(base),
        ['port_host', ''],
        ['port_container', '3000'],
        ['env_key', 'GF_SECURITY_ADMIN_PASSWORD'],
        ['env_value', overrides.env_value ?? '{{secret:ADMIN_PASSWORD}}'],
        ['volume_host', ''],
        ['volume_container', '/var/lib/grafana'],
        ['template', overrides.template ?? '{"requires": [{"as": "metrics", "kind": "prometheus", "default": "prometheus"}], "healthcheck": {"test": ["CMD", "true"]}}'],
      ];
    };
    const helpOf = (html: string, id: string) => new RegExp(`<small id="field-${id}-help">([^<]*)</small>`).exec(html)?.[1];

    const notJson = await post(admin, '/admin/catalog', fields({ template: '{requires: ' }));
    expect(notJson.status).toBe(400);
    expect(helpOf(await notJson.text(), 'template')).toMatch(/^must be a JSON object/);
    const badKind = await post(admin, '/admin/catalog', fields({ template: '{"requires": [{"as": "db", "kind": "My SQL", "default": "mariadb"}]}' }));
    expect(badKind.status).toBe(400);
    expect(helpOf(await badKind.text(), 'template')).toMatch(/kind is lowercase/);
    const latest = await post(admin, '/admin/catalog', fields({ tag: 'latest' }));
    expect(latest.status).toBe(400);
    expect(helpOf(await latest.text(), 'tag')).toMatch(/not latest/);
    const changeMe = await post(admin, '/admin/catalog', fields({ env_value: 'change-me' }));
    expect(changeMe.status).toBe(400);
    expect(await changeMe.text()).toContain('must not be a default password');

    const saved = await post(admin, '/admin/catalog', fields({}));
    expect(saved.status).toBe(303);
    try {
      const catalog = await api('/catalog', { headers: bearerFor('group_user', uniqueId('reader')) });
      const entry = ((await catalog.json()) as { list: Array<{ code: string; template: Record<string, unknown> }> }).list.find((app) => app.code === code)!;
      expect(entry.template).toEqual({ requires: [{ as: 'metrics', kind: 'prometheus', default: 'prometheus' }], healthcheck: { test: ['CMD', 'true'] } });
      expect(await page(admin, `/admin/catalog/${code}`)).toContain('&quot;kind&quot;: &quot;prometheus&quot;');
      // The builder adds it with the Prometheus it requires.
      const owner = uniqueId('tpl');
      const session = await signIn(owner);
      const id = await newProject(session);
      expect((await post(session, `/projects/${id}/apps`, [['catalog', code]])).status).toBe(303);
      expect(Object.keys((await composeOf(owner, id)).services).sort()).toEqual([code, 'prometheus'].sort());
    } finally {
      expect((await post(admin, `/admin/catalog/${code}/delete`, [])).status).toBe(303);
    }
  });
});
