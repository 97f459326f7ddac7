// Admin: every user's projects, the app catalog (catalog.tsx: add, edit, delete) and every user's API
// clients (clients.tsx: disable, enable). Every page is adminPage's: a signed-in user without the role
// gets 403.
import { Hono } from 'hono';
import type { AppEnv } from '../../http/env.ts';
import { searchProjects } from '../../services/projects.ts';
import { adminPage, renderPage, type PageContext } from '../components/page.tsx';
import { ProjectList } from '../components/project-list.tsx';
import { searchTerm } from '../components/search-form.tsx';
import { AdminNav } from './admin-nav.tsx';
import { catalogPages } from './catalog.tsx';
import { clientPages } from './clients.tsx';

const LIST_LIMIT = 500;

function overviewPage(c: PageContext) {
  return renderPage(c, {
    title: 'Admin',
    body: (
      <>
        <h1>Admin</h1>
        <div class="grid">
          <article>
            <h2>
              <a href="/admin/projects">All projects</a>
            </h2>
            <p>Every user’s projects, searchable by name or owner; open any of them in the builder.</p>
          </article>
          <article>
            <h2>
              <a href="/admin/catalog">App catalog</a>
            </h2>
            <p>The apps the Stack Builder offers: add, edit and remove them.</p>
          </article>
          <article>
            <h2>
              <a href="/admin/clients">All API clients</a>
            </h2>
            <p>Every user’s API clients; disable or enable them.</p>
          </article>
        </div>
      </>
    ),
  });
}

async function allProjectsPage(c: PageContext) {
  const search = searchTerm(c);
  const projects = await searchProjects(c.var.database.db, { search, limit: LIST_LIMIT });
  return renderPage(c, {
    title: 'All projects',
    body: (
      <>
        <AdminNav />
        <h1>All projects</h1>
        <ProjectList action="/admin/projects" search={search} projects={projects} placeholder="Project name or owner" label="Search projects by name or owner" owners />
        {projects.length === LIST_LIMIT && <p>{`Showing the newest ${LIST_LIMIT}; search to narrow the list.`}</p>}
      </>
    ),
  });
}

export const adminPages = new Hono<AppEnv>()
  .get('/admin', adminPage(overviewPage))
  .get('/admin/projects', adminPage(allProjectsPage))
  .route('/', catalogPages)
  .route('/', clientPages);
