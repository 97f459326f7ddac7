// stacker.yml converted: to the project form POST /project takes, from a docker-compose.yml, and from
// the server's app catalog. The file itself (schema, parsing) is stacker-file.ts.
import type { CatalogTemplateFields } from '../../functions/services/templates.ts';
import type { CatalogEntry as CatalogEntryFields } from '../../functions/services/catalog.ts';
import { portPattern, type StackerService } from './stacker-file.ts';
import { trimDashes } from '../../functions/services/inputs/text.ts';

// ---- to the project form -------------------------------------------------------------------------

export function environmentOf(service: StackerService): Array<{ key: string; value: string }> {
  const environment = service.environment;
  if (!environment) return [];
  if (Array.isArray(environment)) {
    return environment.map((entry) => {
      const at = entry.indexOf('=');
      return at === -1 ? { key: entry, value: '' } : { key: entry.slice(0, at), value: entry.slice(at + 1) };
    });
  }
  return Object.entries(environment).map(([key, value]) => ({ key, value: value === null ? '' : String(value) }));
}

// toProjectForm and fromCompose: compose-file.ts, through the server's own compose import.
export { fromCompose, toProjectForm, type Converted } from './compose-file.ts';

// ---- from docker-compose.yml ---------------------------------------------------------------------

const asRecord = (value: unknown): Record<string, unknown> => (value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {});

/** A name the server takes for a project or service (3 to 50 of [a-zA-Z0-9._-]). */
export function serviceNameFor(wish: string, taken: Set<string>): string {
  let base = trimDashes(wish.replace(/[^a-zA-Z0-9._-]+/g, '-')).slice(0, 46) || 'app';
  if (base.length < 3) base = `${base}-app`;
  let name = base;
  for (let n = 2; taken.has(name); n++) name = `${base}-${n}`;
  taken.add(name);
  return name;
}

// ---- from the catalog ----------------------------------------------------------------------------

/** A catalog app as GET /catalog lists it: the entry an admin saved; `template` none for a lone app. */
export type CatalogEntry = Omit<CatalogEntryFields, 'template'> & { template?: CatalogTemplateFields | null };

/** Host ports already published by the services of a (raw) stacker.yml. */
export function publishedHostPorts(services: Record<string, unknown>): Set<number> {
  const used = new Set<number>();
  for (const service of Object.values(services)) {
    for (const port of (asRecord(service).ports as unknown[] | undefined) ?? []) {
      const match = portPattern.exec(String(port));
      if (match?.[2]) used.add(Number(match[2]));
    }
  }
  return used;
}
