// The catalog of apps the Stack Builder offers (seeded by drizzle/0015_seed_catalog.sql; admins add more).
import { asc, eq, ne, sql } from 'drizzle-orm';
import { z } from 'zod';
import { databaseErrorCode, type AnyDatabase } from '../../db/client.ts';
import { catalogApp, type CatalogApp } from '../../db/schema.ts';
import { ApiError, notFound } from '../errors.ts';
import { parseImageReference } from './dockerhub.ts';
import { containsNul, noNul } from './inputs/text.ts';
import { templateFieldsSchema, type TemplateEntry, type TemplatePlan } from './templates.ts';

export async function listCatalog(db: AnyDatabase): Promise<CatalogApp[]> {
  return db.select().from(catalogApp).orderBy(asc(catalogApp.category), asc(catalogApp.name));
}

/** The catalog as the template planner takes it (an entry whose template does not parse is a lone app). */
export async function templateCatalog(db: AnyDatabase): Promise<TemplateEntry[]> {
  const rows = await listCatalog(db);
  return rows.map((row) => {
    const template = templateFieldsSchema.safeParse(row.template);
    return { ...row, template: template.success ? template.data : {} };
  });
}

/** What adding a template did, in a sentence: `WordPress added as “wordpress”, with MariaDB (“mariadb”) for db.` */
export function describePlan(plan: TemplatePlan): string {
  const main = plan.services.at(-1)!;
  const names = new Map(plan.services.map((service) => [service.code, service.entry.name]));
  const parts = plan.links.map((link) =>
    link.added ? `${names.get(link.provider) ?? link.provider} (“${link.provider}”) added for ${link.service}'s ${link.as}` : `${link.service}'s ${link.as} linked to “${link.provider}”`,
  );
  return `${main.entry.name} added as service “${main.code}”${parts.length > 0 ? `; ${parts.join('; ')}` : ''}.`;
}

export async function getCatalogApp(db: AnyDatabase, code: string): Promise<CatalogApp> {
  const [row] = await db.select().from(catalogApp).where(eq(catalogApp.code, code)).limit(1);
  if (!row) throw notFound(`No app "${code}" in the catalog`);
  return row;
}

// ---- the entry an admin writes ------------------------------------------------------------------

/** Compose's rule for service names, as the project form's app code has it. */
export const catalogCodePattern = /^[a-zA-Z0-9._-]+$/;
const envKeyPattern = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** A bind source (absolute or ./relative path) or a named volume. */
const hostPathPattern = /^(\/|\.\.?\/)[^\u0000]*$|^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const tagPattern = /^[\w][\w.-]{0,127}$/;

const text = (min: number, max: number) =>
  noNul(z.string().trim())
    .refine((value) => value.length >= min, min === 1 ? 'must not be empty' : `must be at least ${min} characters`)
    .refine((value) => value.length <= max, `must be at most ${max} characters`);

const isPort = (value: string) => /^\d{1,5}$/.test(value) && Number(value) >= 1 && Number(value) <= 65_535;
const portMessage = 'must be a port number from 1 to 65535';

const catalogPortSchema = z.object({
  host_port: z
    .string()
    .trim()
    .refine((value) => value === '' || isPort(value), `${portMessage}, or empty to publish none`),
  container_port: z.string().trim().refine(isPort, portMessage),
});

const catalogEnvSchema = z.object({
  key: z.string().trim().max(100, 'must be at most 100 characters').regex(envKeyPattern, 'must be letters, digits and "_", not starting with a digit'),
  value: text(0, 1000),
});

const catalogVolumeSchema = z.object({
  host_path: z
    .string()
    .trim()
    .max(255, 'must be at most 255 characters')
    .refine((value) => value === '' || hostPathPattern.test(value), 'must be a path (/… or ./…) or a volume name, or empty for a named volume')
    .transform((value) => (value === '' ? null : value)),
  container_path: z
    .string()
    .trim()
    .max(255, 'must be at most 255 characters')
    .refine((value) => value.startsWith('/') && !containsNul(value), 'must be an absolute path (starting with /)'),
});

/** A catalog app as an admin adds or edits it. */
export const catalogEntrySchema = z
  .object({
    code: text(3, 50).refine((value) => catalogCodePattern.test(value), 'may contain only letters, digits, ".", "_" and "-"'),
    name: text(1, 50),
    category: text(1, 50),
    description: text(0, 500),
    image: z
      .string()
      .trim()
      .max(100, 'must be at most 100 characters')
      .superRefine((value, ctx) => {
        if (value === '') return void ctx.addIssue({ code: 'custom', message: 'must not be empty' });
        if (/[:@]/.test(value)) return void ctx.addIssue({ code: 'custom', message: 'is the repository only (e.g. nginx or grafana/grafana); put the tag in the tag field' });
        const parsed = parseImageReference(value);
        if (parsed === 'invalid') ctx.addIssue({ code: 'custom', message: 'is not a valid image name: lowercase letters, digits and . _ -, as nginx or grafana/grafana' });
        else if (parsed === undefined) ctx.addIssue({ code: 'custom', message: 'must be a Docker Hub repository (images of another registry cannot be checked)' });
      }),
    tag: z.string().trim().regex(tagPattern, 'must be a Docker tag: letters, digits, "_", "." and "-", up to 128 characters'),
    ports: z.array(catalogPortSchema).max(20, 'at most 20 ports'),
    environment: z.array(catalogEnvSchema).max(50, 'at most 50 variables'),
    volumes: z.array(catalogVolumeSchema).max(20, 'at most 20 volumes'),
    /** What makes it a template (services/templates.ts); none: a lone app. */
    template: templateFieldsSchema.default({}),
  })
  .superRefine((entry, ctx) => {
    const seen = <T>(list: T[], key: (item: T) => string, path: (index: number) => (string | number)[], message: (value: string) => string) => {
      const values = new Set<string>();
      list.forEach((item, index) => {
        const value = key(item);
        if (value === '') return;
        if (values.has(value)) ctx.addIssue({ code: 'custom', path: path(index), message: message(value) });
        values.add(value);
      });
    };
    seen(entry.ports, (p) => p.host_port, (i) => ['ports', i, 'host_port'], (v) => `host port ${v} is published twice`);
    seen(entry.environment, (e) => e.key, (i) => ['environment', i, 'key'], (v) => `${v} is set twice`);
    seen(entry.volumes, (v) => v.container_path, (i) => ['volumes', i, 'container_path'], (v) => `${v} is mounted twice`);
    if (entry.tag === 'latest') ctx.addIssue({ code: 'custom', path: ['tag'], message: 'must name a version (a template runs the same image every time), not latest' });
    entry.environment.forEach((variable, index) => {
      if (/change-?me/i.test(variable.value)) {
        ctx.addIssue({ code: 'custom', path: ['environment', index, 'value'], message: 'must not be a default password: write {{secret:NAME}} and Stacker generates one per project' });
      }
    });
  });

export type CatalogEntryInput = z.input<typeof catalogEntrySchema>;
export type CatalogEntry = z.output<typeof catalogEntrySchema>;

const duplicateCode = (code: string) =>
  new ApiError(400, `An app with code "${code}" is already in the catalog`, { errors: [{ path: 'code', message: `"${code}" is taken by another catalog app` }] });

/** Turns the code's unique violation into the 400 it is; anything else goes on as it was. */
async function uniqueCode<T>(code: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (databaseErrorCode(error) === '23505') throw duplicateCode(code);
    throw error;
  }
}

const columnsOf = (entry: CatalogEntry) => ({
  code: entry.code,
  name: entry.name,
  category: entry.category,
  description: entry.description,
  image: entry.image,
  tag: entry.tag,
  ports: entry.ports,
  environment: entry.environment,
  volumes: entry.volumes,
  template: entry.template,
});

/**
 * Seeded apps publish different host ports, so any of them make a stack together; a new or edited
 * app keeps it so (its own ports aside). Called under the catalog's lock.
 */
async function checkHostPorts(db: AnyDatabase, entry: CatalogEntry, except?: string): Promise<void> {
  if (!entry.ports.some((p) => p.host_port !== '')) return;
  const others = await db
    .select({ code: catalogApp.code, name: catalogApp.name, ports: catalogApp.ports })
    .from(catalogApp)
    .where(except === undefined ? undefined : ne(catalogApp.code, except));
  const errors = entry.ports.flatMap((port, index) => {
    const other = port.host_port === '' ? undefined : others.find((app) => app.ports.some((p) => p.host_port === port.host_port));
    return other ? [{ path: `ports.${index}.host_port`, message: `host port ${port.host_port} is published by ${other.name} (${other.code}); pick another or leave it empty` }] : [];
  });
  if (errors.length > 0) throw new ApiError(400, 'Catalog apps publish different host ports, so any of them make a stack together', { errors });
}

/** One catalog write at a time, so two cannot take the same host port together. */
const lockCatalog = (tx: AnyDatabase) => tx.execute(sql`select pg_advisory_xact_lock(hashtext('catalog_app'))`);

export async function createCatalogApp(db: AnyDatabase, entry: CatalogEntry): Promise<CatalogApp> {
  return uniqueCode(entry.code, () =>
    db.transaction(async (tx) => {
      await lockCatalog(tx);
      await checkHostPorts(tx, entry);
      const [row] = await tx.insert(catalogApp).values(columnsOf(entry)).returning();
      return row!;
    }),
  );
}

/** Replaces the app `code` names with `entry` (which may give it a new code). */
export async function updateCatalogApp(db: AnyDatabase, code: string, entry: CatalogEntry): Promise<CatalogApp> {
  return uniqueCode(entry.code, () =>
    db.transaction(async (tx) => {
      await lockCatalog(tx);
      await checkHostPorts(tx, entry, code);
      const [row] = await tx.update(catalogApp).set(columnsOf(entry)).where(eq(catalogApp.code, code)).returning();
      if (!row) throw notFound(`No app "${code}" in the catalog`);
      return row;
    }),
  );
}

export async function deleteCatalogApp(db: AnyDatabase, code: string): Promise<void> {
  const deleted = await db.delete(catalogApp).where(eq(catalogApp.code, code)).returning({ id: catalogApp.id });
  if (deleted.length === 0) throw notFound(`No app "${code}" in the catalog`);
}
