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
