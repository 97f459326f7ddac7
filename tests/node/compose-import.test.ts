// A compose file imported without loss (issue 28 point 3): real files from docker/awesome-compose
// (tests/fixtures/compose/README.md) and one with every field Stacker keeps go through the import, the
// project form's schema and the compose generator, and come back with the same services and values;
// what cannot be carried is named. Every compose generated is valid against the compose specification.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { buildCompose } from '../../functions/services/compose.ts';
import { ComposeImportError, importedToForm, readCompose, type ImportNote } from '../../functions/services/compose-import.ts';
import { projectFormSchema } from '../../functions/services/inputs/projects.ts';
import { normaliseProjectForm } from '../../functions/services/project-form.ts';
import { composeDifferences } from '../helpers/compose-compare.ts';
import { validateCompose } from '../helpers/compose-schema.ts';

const fixtureDir = join(import.meta.dirname, '..', 'fixtures', 'compose');
const fixture = (name: string) => readFileSync(join(fixtureDir, name), 'utf8');

/** import → POST /project's schema → stored metadata → compose, as the API does it. */
function roundTrip(source: string) {
  const imported = readCompose(source);
  const parsed = projectFormSchema.safeParse(importedToForm('imported', imported));
  if (!parsed.success) throw new Error(JSON.stringify(parsed.error.issues, null, 1));
  const { yaml } = buildCompose(normaliseProjectForm(parsed.data));
  return { imported, yaml };
}

const fields = (notes: ImportNote[]) => notes.map((note) => `${note.service ?? ''}:${note.field ?? ''}`);

/** What each real file loses, by service and field: nothing else may be lost. */
const expectedNotes: Record<string, string[]> = {
  'wordpress-mysql.yaml': [],
  'gitea-postgres.yaml': [],
  'nextcloud-redis-mariadb.yaml': [],
  'prometheus-grafana.yaml': ['prometheus:container_name', 'grafana:container_name'],
  'pihole-cloudflared-DoH.yaml': ['cloudflared:networks.dns-net', 'cloudflared:container_name', 'pihole:container_name', ':networks.dns-net', ':version'],
  'elasticsearch-logstash-kibana.yaml': ['elasticsearch:container_name', 'logstash:volumes.0', 'logstash:volumes.1', 'logstash:container_name', 'kibana:container_name'],
};

describe('real compose files come back out as they went in', () => {
  const files = readdirSync(fixtureDir).filter((file) => file.endsWith('.yaml') && file in expectedNotes);

  it('covers every fixture but the refused one', () => {
    expect(files.sort()).toEqual(Object.keys(expectedNotes).sort());
  });

  it.each(files)('%s', (file) => {
    const source = fixture(file);
    const { imported, yaml } = roundTrip(source);
    expect(fields(imported.notes)).toEqual(expectedNotes[file]);
    expect(composeDifferences(source, yaml, imported.notes)).toEqual([]);
    const document = parse(yaml);
    expect(validateCompose(document), JSON.stringify(validateCompose.errors)).toBe(true);
    expect(document).not.toHaveProperty('version');
  });

  it('keeps the service named db, and every reference to it resolves', () => {
    const { yaml } = roundTrip(fixture('wordpress-mysql.yaml'));
    const services = parse(yaml).services;
    expect(Object.keys(services)).toEqual(['db', 'wordpress']);
    expect(services.wordpress.environment.WORDPRESS_DB_HOST).toBe('db');
  });

  it('names a local file mounted into a service, and says why it is not carried', () => {
    const { imported } = roundTrip(fixture('elasticsearch-logstash-kibana.yaml'));
    expect(imported.notes.find((note) => note.field === 'volumes.1')?.message).toBe(
      'service "logstash": the bind mount of the local file ./logstash/nginx.log (/home/nginx.log) is not carried over: the server does not have it; put it in the image or a volume',
    );
  });

  it('refuses a service that only has build:, naming it', () => {
    let error: unknown;
    try {
      readCompose(fixture('nginx-golang-postgres.yaml'));
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ComposeImportError);
    expect(error).toMatchObject({ field: 'services.backend.build', message: expect.stringContaining('service "backend" has no image but build:') });
  });
});

const EVERYTHING = `name: shop
services:
  db:
    image: postgres:16.4
    user: postgres
    restart: on-failure:3
    environment:
      POSTGRES_DB: shop
      POSTGRES_PASSWORD: not-a-default
    healthcheck:
      test: ["CMD", "pg_isready", "-U", "postgres"]
      interval: 10s
      timeout: 5s
      retries: 5
      start_period: 30s
    volumes:
      - type: volume
        source: pgdata
        target: /var/lib/postgresql/data
    ulimits:
      nofile:
        soft: 20000
        hard: 40000
      nproc: 65535
    logging:
      driver: json-file
      options:
        max-size: 10m
        max-file: "3"
  web:
    image: ghcr.io/acme/shop:2.1
    build: ./web
    command: ["node", "server.js", "--port", "3000"]
    entrypoint: /usr/local/bin/docker-entrypoint.sh
    working_dir: /srv/app
    ports:
      - "127.0.0.1:8080:3000"
      - "[::1]:8081:3000"
      - target: 9229
        published: 9229
        host_ip: 127.0.0.1
        protocol: tcp
      - "5353:5353/udp"
    expose: ["9100"]
    environment:
      - DATABASE_URL=postgres://postgres@db:5432/shop
      - NODE_ENV=production
    depends_on:
      db:
        condition: service_healthy
    labels:
      traefik.enable: "true"
      com.example.team: shop
    cap_add: [NET_ADMIN]
    cap_drop: [ALL]
    extra_hosts:
      - "host.docker.internal:host-gateway"
    volumes:
      - /var/run/docker.sock:/var/run/docker.sock:ro
      - ./uploads:/srv/app/uploads
      - ./config/app.yml:/srv/app/config.yml:ro
    networks: [front, back]
    restart: unless-stopped
networks:
  front: {}
  back:
    internal: true
volumes:
  pgdata: {}
`;

describe('every field Stacker keeps', () => {
  it('comes back the same; build: and the local file are named', () => {
    const { imported, yaml } = roundTrip(EVERYTHING);
    expect(imported.notes.map((note) => note.message)).toEqual([
      'service "web": build: not carried over (Stacker deploys images): image ghcr.io/acme/shop:2.1 is deployed as it is on its registry',
      'service "web": the bind mount of the local file ./config/app.yml (/srv/app/config.yml) is not carried over: the server does not have it; put it in the image or a volume',
    ]);
    expect(composeDifferences(EVERYTHING, yaml, imported.notes)).toEqual([]);
    const document = parse(yaml);
    expect(validateCompose(document), JSON.stringify(validateCompose.errors)).toBe(true);
    expect(document.services.web.depends_on).toEqual({ db: { condition: 'service_healthy' } });
    expect(document.services.web.ports).toContainEqual({ target: 3000, published: 8081, host_ip: '::1' });
    expect(document.services.db.restart).toBe('on-failure:3');
  });

  it('the comparison itself sees a lost field, a changed value and a renamed service', () => {
    const { yaml } = roundTrip(EVERYTHING);
    const changed = yaml.replace('condition: service_healthy', 'condition: service_started').replace(/^ +user: postgres\n/m, '');
    expect(composeDifferences(EVERYTHING, changed)).toEqual([
      expect.stringContaining('db.user: "postgres" became undefined'),
      // Without the import's notes, the local file it left out counts as lost.
      expect.stringContaining('web.volumes'),
      'web.depends_on: {"db":"service_healthy"} became {"db":"service_started"}',
    ]);
    expect(composeDifferences(EVERYTHING, yaml.replace(/^ {2}db:$/m, '  database:'))[0]).toContain('services: db,web became database,web');
  });

  it('refuses what compose refuses, at the field', () => {
    const bad = (text: string) => {
      try {
        readCompose(text);
      } catch (error) {
        return error instanceof ComposeImportError ? [error.field, error.message] : error;
      }
      return 'accepted';
    };
    expect(bad('services:\n  web:\n    image: nginx\n    restart: sometimes\n')).toEqual(['services.web.restart', expect.stringContaining('restart "sometimes"')]);
    expect(bad('services:\n  web:\n    image: nginx\n    healthcheck:\n      interval: soon\n')).toEqual(['services.web.healthcheck.interval', expect.stringContaining('duration')]);
    expect(bad('services:\n  "my web":\n    image: nginx\n')).toEqual(['services.my web', expect.stringContaining('service name')]);
    expect(bad('services: {}\n')).toEqual(['services', 'the compose file has no services']);
    expect(bad('services:\n  web: [\n')).toEqual(['', expect.stringContaining('not valid YAML')]);
  });
});
