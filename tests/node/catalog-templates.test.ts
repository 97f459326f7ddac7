// The catalog's templates (issue 28): every one, added alone to an empty stack as the builder adds it,
// makes a compose valid against the compose specification whose references all resolve, with no
// literal password; the apps that need a database are wired to it (the host they are told is its
// service, one secret on both sides); a second app links to the database already there. The migration
// that writes them is the generator's output, so what is tested here is what the catalog holds.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { catalogSeeds } from '../../db/catalog-templates.ts';
import { buildCompose, type ComposeDocument } from '../../functions/services/compose.ts';
import { projectFormSchema } from '../../functions/services/inputs/projects.ts';
import { normaliseProjectForm } from '../../functions/services/project-form.ts';
import { addCatalogApp, type RawForm } from '../../functions/services/stack-form.ts';
import { planTemplate, templateFieldsSchema, type TemplateEntry } from '../../functions/services/templates.ts';
import { validateCompose } from '../helpers/compose-schema.ts';

const root = join(import.meta.dirname, '..', '..');
const catalog: TemplateEntry[] = catalogSeeds;
const emptyForm = (): RawForm => ({ custom: { custom_stack_code: 'templates', web: [], service: [], feature: [], networks: [] } });

function composeOf(form: RawForm): { yaml: string; document: ComposeDocument } {
  return buildCompose(normaliseProjectForm(projectFormSchema.parse(form)));
}

function stackWith(...codes: string[]) {
  const form = emptyForm();
  const plans = codes.map((code) => addCatalogApp(form, catalog, code).plan);
  return { form, plans, ...composeOf(form) };
}

const env = (document: ComposeDocument, service: string) => (document.services?.[service]?.environment ?? {}) as Record<string, string>;
const references = (text: string) => [...text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((match) => match[1]!);
const SECRET_LOOKING = /PASSWORD|PASSWD|SECRET|TOKEN|KEY|PASS$/i;

describe('catalog templates', () => {
  it('the newest catalog migration writes exactly db/catalog-templates.ts (a change to it is a new migration: npm run -s catalog:sql)', () => {
    const generated = execFileSync(process.execPath, [join(root, 'scripts', 'catalog-templates-sql.ts')], { encoding: 'utf8' });
    const newest = readdirSync(join(root, 'drizzle')).filter((name) => /^\d{4}_catalog_templates.*\.sql$/.test(name)).sort().at(-1)!;
    expect(newest).toBeDefined();
    expect(readFileSync(join(root, 'drizzle', newest), 'utf8')).toBe(generated);
  });

  it('has at least 25 templates covering the issue list, each pinned to a version, with distinct host ports and a parsing template', () => {
    expect(catalog.length).toBeGreaterThanOrEqual(25);
    const wanted = ['wordpress', 'ghost', 'nextcloud', 'gitea', 'n8n', 'uptime-kuma', 'grafana', 'prometheus', 'plausible', 'matomo', 'directus', 'minio', 'redis', 'postgres', 'mariadb', 'mysql', 'mongo', 'nginx', 'caddy', 'traefik', 'portainer', 'adminer', 'pgadmin', 'mattermost', 'vaultwarden', 'keycloak'];
    expect(catalog.map((entry) => entry.code)).toEqual(expect.arrayContaining(wanted));
    const hostPorts = new Map<string, string>();
    for (const entry of catalog) {
      expect(entry.tag, entry.code).not.toMatch(/^(latest|)$/);
      expect(templateFieldsSchema.safeParse(entry.template).success, entry.code).toBe(true);
      expect(entry.template?.docs, `${entry.code} names the documentation it was checked against`).toMatch(/^https:\/\//);
      for (const port of entry.ports) {
        if (!port.host_port) continue;
        expect(hostPorts.get(port.host_port), `${entry.code} and ${hostPorts.get(port.host_port)} publish ${port.host_port}`).toBeUndefined();
        hostPorts.set(port.host_port, entry.code);
      }
    }
  });

  for (const entry of catalogSeeds) {
    it(`${entry.code}: valid compose, every reference resolves, no literal password`, () => {
      const { document, yaml } = stackWith(entry.code);
      const valid = validateCompose(document);
      expect(validateCompose.errors ?? [], entry.code).toEqual([]);
      expect(valid).toBe(true);
      expect(yaml).not.toMatch(/\{\{|\}\}/);
      expect(yaml).not.toMatch(/change-?me/i);
      expect(yaml).not.toMatch(/^version:/m);
      const services = Object.keys(document.services ?? {});
      expect(services).toContain(entry.code);
      for (const [name, service] of Object.entries(document.services ?? {})) {
        expect(service.image, name).not.toMatch(/:latest$/);
        const dependsOn = (service as { depends_on?: Record<string, unknown> }).depends_on ?? {};
        for (const target of Object.keys(dependsOn)) expect(services, `${name} depends on ${target}`).toContain(target);
        for (const [key, value] of Object.entries(env(document, name))) {
          // A secret is never written into the compose: only a ${NAME} the deploy step fills in.
          if (SECRET_LOOKING.test(key) && !/^(KC_DB_USERNAME)$/.test(key)) expect(value, `${name}.${key}`).toMatch(/^\$\{[A-Z0-9_]+\}$/);
          // A host the app is told is a service of the stack.
          if (/(_HOST|__host|^DB_HOST)$/i.test(key)) expect(services, `${name}.${key}=${value}`).toContain(value.split(':')[0]);
        }
      }
    });
  }

  it('WordPress adds MariaDB and is wired to it: the host is its service, one generated password on both sides', () => {
    const { document, plans } = stackWith('wordpress');
    expect(Object.keys(document.services!)).toEqual(['wordpress', 'mariadb']);
    const wordpress = env(document, 'wordpress');
    const mariadb = env(document, 'mariadb');
    expect(wordpress.WORDPRESS_DB_HOST).toBe('mariadb');
    expect(wordpress.WORDPRESS_DB_PASSWORD).toBe('${MARIADB_PASSWORD}');
    expect(mariadb.MARIADB_PASSWORD).toBe(wordpress.WORDPRESS_DB_PASSWORD);
    expect(wordpress.WORDPRESS_DB_USER).toBe(mariadb.MARIADB_USER);
    expect(wordpress.WORDPRESS_DB_NAME).toBe(mariadb.MARIADB_DATABASE);
    expect(mariadb.MARIADB_ROOT_PASSWORD).toBe('${MARIADB_ROOT_PASSWORD}');
    expect((document.services!.wordpress as { depends_on?: unknown }).depends_on).toEqual({ mariadb: { condition: 'service_healthy' } });
    expect(plans[0]!.links).toEqual([{ service: 'wordpress', as: 'db', kind: 'mysql', provider: 'mariadb', added: true }]);
  });

  it('Ghost adds MySQL 8 (not MariaDB) and is wired to it', () => {
    const { document } = stackWith('ghost');
    const ghost = env(document, 'ghost');
    const mysql = env(document, 'mysql');
    expect(ghost.database__client).toBe('mysql');
    expect(ghost.database__connection__host).toBe('mysql');
    expect(ghost.database__connection__password).toBe('${MYSQL_PASSWORD}');
    expect(mysql.MYSQL_PASSWORD).toBe(ghost.database__connection__password);
    expect(ghost.database__connection__user).toBe(mysql.MYSQL_USER);
    expect(ghost.database__connection__database).toBe(mysql.MYSQL_DATABASE);
    expect(ghost.url).toBe('http://localhost:8085');
  });

  it('Nextcloud adds PostgreSQL and Redis and is wired to both', () => {
    const { document } = stackWith('nextcloud');
    expect(Object.keys(document.services!).sort()).toEqual(['nextcloud', 'postgres', 'redis']);
    const nextcloud = env(document, 'nextcloud');
    const postgres = env(document, 'postgres');
    expect(nextcloud.POSTGRES_HOST).toBe('postgres');
    expect(nextcloud.POSTGRES_PASSWORD).toBe(postgres.POSTGRES_PASSWORD);
    expect(nextcloud.POSTGRES_PASSWORD).toBe('${POSTGRES_PASSWORD}');
    expect(nextcloud.POSTGRES_USER).toBe(postgres.POSTGRES_USER);
    expect(nextcloud.POSTGRES_DB).toBe(postgres.POSTGRES_DB);
    expect(nextcloud.REDIS_HOST).toBe('redis');
    expect(nextcloud.NEXTCLOUD_ADMIN_PASSWORD).toBe('${NEXTCLOUD_ADMIN_PASSWORD}');
  });

  it('Gitea adds PostgreSQL and is wired to it (host:port, PASSWD)', () => {
    const { document } = stackWith('gitea');
    const gitea = env(document, 'gitea');
    const postgres = env(document, 'postgres');
    expect(gitea.GITEA__database__HOST).toBe('postgres:5432');
    expect(gitea.GITEA__database__PASSWD).toBe(postgres.POSTGRES_PASSWORD);
    expect(gitea.GITEA__database__USER).toBe(postgres.POSTGRES_USER);
    expect(gitea.GITEA__database__NAME).toBe(postgres.POSTGRES_DB);
  });

  it('links to the database the stack already has instead of adding another, whatever its service is called', () => {
    const form = emptyForm();
    addCatalogApp(form, catalog, 'mariadb');
    (form.custom.service as Array<Record<string, unknown>>)[0]!.code = 'db';
    const wordpress = addCatalogApp(form, catalog, 'wordpress').plan;
    expect(wordpress.links).toEqual([{ service: 'wordpress', as: 'db', kind: 'mysql', provider: 'db', added: false }]);
    const matomo = addCatalogApp(form, catalog, 'matomo').plan;
    expect(matomo.services.map((service) => service.code)).toEqual(['matomo']);
    const { document } = composeOf(form);
    expect(Object.keys(document.services!).sort()).toEqual(['db', 'matomo', 'wordpress']);
    expect(env(document, 'wordpress').WORDPRESS_DB_HOST).toBe('db');
    expect(env(document, 'matomo').MATOMO_DATABASE_HOST).toBe('db');
    // The secret keeps the name it was generated under: both apps use the database's one.
    expect(env(document, 'wordpress').WORDPRESS_DB_PASSWORD).toBe(env(document, 'db').MARIADB_PASSWORD);
    expect(env(document, 'matomo').MATOMO_DATABASE_PASSWORD).toBe(env(document, 'db').MARIADB_PASSWORD);
  });

  it('a second copy gets its own database, service names and host ports', () => {
    const { document } = stackWith('wordpress', 'postgres', 'n8n');
    expect(env(document, 'n8n').DB_POSTGRESDB_HOST).toBe('postgres');
    const two = stackWith('mariadb', 'mariadb');
    expect(Object.keys(two.document.services!)).toEqual(['mariadb', 'mariadb-2']);
    expect(env(two.document, 'mariadb-2').MARIADB_PASSWORD).toBe('${MARIADB_2_PASSWORD}');
    const ports = stackWith('wordpress', 'wordpress');
    expect(ports.document.services!['wordpress-2']!.ports).toEqual([{ target: 80, published: 8085 }]);
  });

  it('a template whose requirement nothing provides, or that references what it does not have, is refused by name', () => {
    const broken: TemplateEntry[] = [
      { code: 'needs', name: 'Needs', category: 'Web', image: 'nginx', tag: '1.27', ports: [], environment: [], volumes: [], template: { requires: [{ as: 'db', kind: 'oracle', default: 'oracle' }] } },
      { code: 'typo', name: 'Typo', category: 'Web', image: 'nginx', tag: '1.27', ports: [], environment: [{ key: 'HOST', value: '{{db.host}}' }], volumes: [] },
    ];
    expect(() => planTemplate(broken, 'needs', [])).toThrow(/Needs requires oracle and the catalog has no app that provides "oracle"/);
    expect(() => planTemplate(broken, 'typo', [])).toThrow(/typo: HOST: \{\{db.host\}\} does not resolve/);
  });
});
