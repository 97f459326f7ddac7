// Projects: the list with search, create, delete (confirmed). A project's own page is the builder (builder.tsx).
import { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../http/env.ts';
import { projectDeps } from '../http/deps.ts';
import { ActionButton, asFormFailure, Field, FormMessage, type FormFailure } from './components/forms.tsx';
import { createProject, deleteProject, listProjects, type ProjectView } from '../services/projects.ts';
import { projectFormSchema } from '../services/inputs/projects.ts';
import { scopeOfUser } from '../services/scope.ts';
import type { AuthenticatedUser } from '../principal.ts';
import { FormFields, idParam, redirectWithNotice, renderPage, userPage, type PageContext } from './components/page.tsx';

const projectSearch = z.object({ q: z.string().trim().max(100).catch('').default('') });

/** The project form of a new, empty stack: what the API would take for it. */
export const emptyProjectForm = (name: string) => ({ custom: { custom_stack_code: name, web: [], service: [], feature: [], networks: [] } });

/** Apps in the stored (normalised) project, whatever shape an old row has. */
export const appCount = (p: ProjectView) => {
  const custom = (p.metadata as { custom?: Record<string, unknown> }).custom ?? {};
  return ['web', 'service', 'feature'].reduce((sum, list) => sum + (Array.isArray(custom[list]) ? (custom[list] as unknown[]).length : 0), 0);
};

async function projectsPage(c: PageContext, user: AuthenticatedUser, form?: { name: string; failure: FormFailure }) {
  const search = projectSearch.parse(c.req.query()).q;
  const projects = (await listProjects(c.var.database.db, user.id)).filter((p) => p.name.toLowerCase().includes(search.toLowerCase()));
  return renderPage(c, {
    title: 'Projects',
    status: form ? 400 : 200,
    body: (
      <>
        <h1>Projects</h1>
        <article>
          <h2>New project</h2>
          <form method="post" action="/projects">
            <FormMessage failure={form?.failure} />
            <Field label="Project name" name="name" value={form?.name} errors={form?.failure.fields} hint="3 to 50 characters; it names the stack" required />
            <button type="submit">Create project</button>
          </form>
        </article>
        <form method="get" action="/projects" role="search">
          <input type="search" name="q" value={search} placeholder="Search projects" aria-label="Search projects" />
          <button type="submit">Search</button>
        </form>
        {projects.length === 0 ? (
          <p>{search ? `No project matches “${search}”.` : 'No projects yet.'}</p>
        ) : (
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Apps</th>
                <th scope="col">Updated</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {projects.map((p) => (
                <tr>
                  <td>
                    <a href={`/projects/${p.id}`}>{p.name}</a>
                  </td>
                  <td>{appCount(p)}</td>
                  <td>{p.updated_at.slice(0, 16).replace('T', ' ')}</td>
                  <td>
                    <ActionButton action={`/projects/${p.id}/delete`} label="Delete" variant="secondary" outline confirm={`Delete project “${p.name}” and its deployments? This cannot be undone.`} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </>
    ),
  });
}

export const projectPages = new Hono<AppEnv>()
  .get('/projects', userPage(projectsPage))
  .post(
    '/projects',
    userPage(async (c, user) => {
      const name = (await FormFields.of(c)).one('name');
      const body = emptyProjectForm(name);
      try {
        const form = projectFormSchema.parse(body);
        const { project } = await createProject(projectDeps(c), user.id, form, body);
        return redirectWithNotice(c, `/projects/${project.id}`, `Project “${project.name}” created. Add apps from the catalog or your own image.`);
      } catch (error) {
        const failure = asFormFailure(error, (path) => (path === 'custom.custom_stack_code' ? 'name' : undefined));
        if (!failure) throw error;
        return projectsPage(c, user, { name, failure });
      }
    }),
  )
  .post(
    '/projects/:id/delete',
    userPage(async (c, user) => {
      await deleteProject(c.var.database.db, idParam(c), scopeOfUser(user));
      return redirectWithNotice(c, '/projects', 'Project deleted.');
    }),
  );
