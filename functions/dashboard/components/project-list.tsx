// A searchable list of projects: the user's own (Projects) and every user's (Admin). The search runs in
// SQL (services/projects.ts searchProjects).
import type { ProjectView } from '../../services/projects.ts';
import { DataTable, type Column } from './data-table.tsx';
import { formatDate } from './dates.ts';
import { ActionButton } from './forms.tsx';
import { SearchForm } from './search-form.tsx';
import { projectUrl } from './urls.ts';

/** Apps in the stored (normalised) project, whatever shape an old row has. */
export const appCount = (p: ProjectView) => {
  const custom = (p.metadata as { custom?: Record<string, unknown> }).custom ?? {};
  return ['web', 'service', 'feature'].reduce((sum, list) => sum + (Array.isArray(custom[list]) ? (custom[list] as unknown[]).length : 0), 0);
};

/** What deleting a project asks first, wherever it is offered. */
export const deleteProjectQuestion = (name: string) => `Delete project “${name}” and its deployments? This cannot be undone.`;

const OWNER: Column<ProjectView> = { label: 'Owner', cell: (p) => p.user_id };
const NAME: Column<ProjectView> = { label: 'Name', cell: (p) => <a href={projectUrl(p.id)}>{p.name}</a> };
const APPS: Column<ProjectView> = { label: 'Apps', cell: appCount };
const UPDATED: Column<ProjectView> = { label: 'Updated', cell: (p) => formatDate(p.updated_at) };
const ACTIONS: Column<ProjectView> = {
  label: 'Actions',
  cell: (p) => <ActionButton action={`${projectUrl(p.id)}/delete`} label="Delete" variant="secondary" outline confirm={deleteProjectQuestion(p.name)} />,
};

/** The search box and the projects it found: with their owners (admins), or with a Delete button (the owner). */
export function ProjectList(props: { action: string; search: string; projects: ProjectView[]; placeholder: string; label: string; owners?: boolean }) {
  const columns = props.owners ? [OWNER, NAME, APPS, UPDATED] : [NAME, APPS, UPDATED, ACTIONS];
  return (
    <>
      <SearchForm action={props.action} value={props.search} placeholder={props.placeholder} label={props.label} />
      <DataTable columns={columns} rows={props.projects} empty={props.search ? `No project matches “${props.search}”.` : 'No projects yet.'} />
    </>
  );
}
