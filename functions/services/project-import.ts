// A compose file made a project form (POST /project/import, the dashboard's import box): read without
// loss by compose-import.ts, checked as POST /project checks a form, and created if asked.
import { ApiError } from '../errors.ts';
import { projectWarnings } from './compose-check.ts';
import { ComposeImportError, importedToForm, readCompose, type ImportNote } from './compose-import.ts';
import type { ComposeImport } from './inputs/project-import.ts';
import { projectFormSchema, type ProjectForm } from './inputs/projects.ts';
import { createProject, type ProjectDeps, type ProjectView } from './projects.ts';

export interface ProjectImport {
  /** The project form: what POST /project takes. */
  form: Record<string, unknown>;
  /** What was not carried over, naming the service and field. */
  notes: ImportNote[];
  /** What may not work as meant, at the form's field. */
  warnings: Array<{ path: string; message: string }>;
}

/** The project form of a compose file (400 naming the service and field of what compose or the form refuses). */
export function composeToForm(input: Pick<ComposeImport, 'compose' | 'name'>): ProjectImport & { parsed: ProjectForm } {
  let imported;
  try {
    imported = readCompose(input.compose);
  } catch (error) {
    if (error instanceof ComposeImportError) throw new ApiError(400, `The compose file cannot be imported: ${error.message}`, { errors: [{ path: 'compose', message: error.field && !error.message.includes(error.field) ? `${error.field}: ${error.message}` : error.message }] });
    throw error;
  }
  const form = importedToForm(input.name, imported);
  const parsed = projectFormSchema.safeParse(form);
  if (!parsed.success) {
    const codes = Object.keys(imported.services);
    const errors = parsed.error.issues.map((issue) => {
      const [, , index, ...rest] = issue.path.map(String);
      const service = issue.path[0] === 'custom' && issue.path[1] === 'web' ? codes[Number(index)] : undefined;
      return { path: issue.path.map(String).join('.'), message: service ? `service "${service}": ${rest.join('.')}: ${issue.message}` : issue.message };
    });
    throw new ApiError(400, `The compose file cannot be imported: ${errors.map((e) => e.message).join('; ')}`, { errors });
  }
  return { form, parsed: parsed.data, notes: imported.notes, warnings: projectWarnings(form as never) };
}

/** POST /project/import: the form, and with `create` the project made from it (as POST /project). */
export async function importProject(deps: ProjectDeps, ownerId: string, input: ComposeImport, idempotencyKey?: string): Promise<ProjectImport & { project?: ProjectView; created?: boolean }> {
  const { form, parsed, notes, warnings } = composeToForm(input);
  if (!input.create) return { form, notes, warnings };
  const { project, created } = await createProject(deps, ownerId, parsed, form, idempotencyKey);
  return { form, notes, warnings, project, created };
}

type Stack = { custom: Record<string, unknown> };
const appsIn = (stack: Stack, list: string): Array<Record<string, unknown>> => {
  const apps = stack.custom[list];
  return Array.isArray(apps) ? (apps as Array<Record<string, unknown>>) : [];
};

/**
 * The dashboard's import box: the compose file's services added to a project's form as they are (its
 * web apps, after those it has), its networks joined by name. A service name the stack already has is
 * refused, naming it: compose would not know which one the others mean.
 */
export function importIntoStack(stack: Stack, compose: string): { added: string[]; notes: ImportNote[] } {
  const { form, notes } = composeToForm({ compose, name: 'imported' });
  const imported = form.custom as { web: Array<Record<string, unknown>>; networks: Array<{ id: string; name: string }> };
  const taken = new Set(['web', 'service', 'feature'].flatMap((list) => appsIn(stack, list).map((app) => String(app.code))));
  const clashes = imported.web.filter((app) => taken.has(String(app.code))).map((app) => String(app.code));
  if (clashes.length > 0) {
    const message = clashes.map((code) => `service "${code}" is already in this stack: rename it in the compose file, or remove the app first`).join('; ');
    throw new ApiError(400, message, { errors: [{ path: 'compose', message }] });
  }
  const networks = Array.isArray(stack.custom.networks) ? (stack.custom.networks as Array<{ id: string; name: string }>) : [];
  const idOf = new Map(networks.map((network) => [network.name, network.id]));
  for (const network of imported.networks) {
    if (idOf.has(network.name)) continue;
    const id = networks.some((other) => other.id === network.id) ? crypto.randomUUID() : network.id;
    networks.push({ ...network, id });
    idOf.set(network.name, id);
  }
  stack.custom.networks = networks;
  const web = appsIn(stack, 'web');
  for (const app of imported.web) web.push({ ...app, _id: crypto.randomUUID(), network: (app.network as string[]).map((name) => idOf.get(name) ?? name) });
  stack.custom.web = web;
  return { added: imported.web.map((app) => String(app.code)), notes };
}
