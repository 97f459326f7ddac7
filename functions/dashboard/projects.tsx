// Projects: the list with search, create, delete (confirmed). A project’s own page is the builder (builder/).
import { Hono } from 'hono';
import type { AppEnv } from '../http/env.ts';
import { projectDeps } from '../http/deps.ts';
import { asFormFailure, Field, FormMessage, type FormFailure } from './components/forms.tsx';
import { ProjectList } from './components/project-list.tsx';
import { searchTerm } from './components/search-form.tsx';
import { projectUrl } from './components/urls.ts';
import { createProject, deleteProject, searchProjects } from '../services/projects.ts';
import { projectFormSchema } from '../services/inputs/projects.ts';
import { scopeOfUser } from '../services/scope.ts';
import type { AuthenticatedUser } from '../principal.ts';
import { FormFields, idParam, redirectWithNotice, renderPage, userPage, type PageContext } from './components/page.tsx';

/** The project form of a new, empty stack: what the API would take for it. */
export const emptyProjectForm = (name: string) => ({ custom: { custom_stack_code: name, web: [], service: [], feature: [], networks: [] } });

async function projectsPage(c: PageContext, user: AuthenticatedUser, form?: { name: string; failure: FormFailure }) {
  const search = searchTerm(c);
  const projects = await searchProjects(c.var.database.db, { ownerId: user.id, search });
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
        <ProjectList action="/projects" search={search} projects={projects} placeholder="Search projects" label="Search projects" />
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
        return redirectWithNotice(c, projectUrl(project.id), `Project “${project.name}” created. Add apps from the catalog or your own image.`);
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
