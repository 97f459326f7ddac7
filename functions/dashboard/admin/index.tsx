// Admin: every user's projects, the app catalog (add, edit, delete) and every user's API clients
// (disable, enable). Every page is adminPage's: a signed-in user without the role gets 403.
import { Hono } from 'hono';
import { z } from 'zod';
import type { CatalogApp } from '../../../db/schema.ts';
import { apiClientDeps } from '../../http/deps.ts';
import type { AppEnv } from '../../http/env.ts';
import { notFound } from '../../errors.ts';
import { ActionButton, asFormFailure, Field, fieldId, FormMessage, RowsTable, type FieldErrors, type FormFailure } from '../components/forms.tsx';
import type { AuthenticatedUser } from '../../principal.ts';
import { disableApiClient, enableApiClient, listAllApiClients } from '../../services/api-clients.ts';
import {
  catalogCodePattern,
  catalogEntrySchema,
  createCatalogApp,
  deleteCatalogApp,
  getCatalogApp,
  listCatalog,
  updateCatalogApp,
  type CatalogEntryInput,
} from '../../services/catalog.ts';
import { listAllProjects } from '../../services/projects.ts';
import { appCount } from '../projects.tsx';
import { adminPage, FormFields, idParam, redirectWithNotice, renderPage, type PageContext } from '../components/page.tsx';

const LIST_LIMIT = 500;

const searchQuery = z.object({ q: z.string().trim().max(100).catch('').default('') });

const when = (iso: string) => iso.slice(0, 16).replace('T', ' ');

const AdminNav = () => (
  <nav aria-label="Admin sections">
    <ul>
      <li>
        <a href="/admin">Admin</a>
      </li>
      <li>
        <a href="/admin/projects">All projects</a>
      </li>
      <li>
        <a href="/admin/catalog">App catalog</a>
      </li>
      <li>
        <a href="/admin/clients">All API clients</a>
      </li>
    </ul>
  </nav>
);

// ---- overview -----------------------------------------------------------------------------------

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

// ---- projects -----------------------------------------------------------------------------------

async function allProjectsPage(c: PageContext) {
  const search = searchQuery.parse(c.req.query()).q;
  const projects = await listAllProjects(c.var.database.db, LIST_LIMIT, search);
  return renderPage(c, {
    title: 'All projects',
    body: (
      <>
        <AdminNav />
        <h1>All projects</h1>
        <form method="get" action="/admin/projects" role="search">
          <input type="search" name="q" value={search} placeholder="Project name or owner" aria-label="Search projects by name or owner" />
          <button type="submit">Search</button>
        </form>
        {projects.length === 0 ? (
          <p>{search ? `No project matches “${search}”.` : 'No projects yet.'}</p>
        ) : (
          <table>
            <thead>
              <tr>
                <th scope="col">Owner</th>
                <th scope="col">Name</th>
                <th scope="col">Apps</th>
                <th scope="col">Updated</th>
              </tr>
            </thead>
            <tbody>
              {projects.map((p) => (
                <tr>
                  <td>{p.user_id}</td>
                  <td>
                    <a href={`/projects/${p.id}`}>{p.name}</a>
                  </td>
                  <td>{appCount(p)}</td>
                  <td>{when(p.updated_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {projects.length === LIST_LIMIT && <p>{`Showing the newest ${LIST_LIMIT}; search to narrow the list.`}</p>}
      </>
    ),
  });
}

// ---- catalog ------------------------------------------------------------------------------------

/** The catalog form as typed: every field a string, rows as the form sent them. */
interface CatalogFormValues {
  code: string;
  name: string;
  category: string;
  description: string;
  image: string;
  tag: string;
  ports: Array<{ host_port: string; container_port: string }>;
  environment: Array<{ key: string; value: string }>;
  volumes: Array<{ host_path: string; container_path: string }>;
}

const emptyCatalogForm: CatalogFormValues = { code: '', name: '', category: '', description: '', image: '', tag: 'latest', ports: [], environment: [], volumes: [] };

const valuesOf = (app: CatalogApp): CatalogFormValues => ({
  code: app.code,
  name: app.name,
  category: app.category,
  description: app.description,
  image: app.image,
  tag: app.tag,
  ports: app.ports.map((p) => ({ host_port: p.host_port ?? '', container_port: p.container_port })),
  environment: app.environment.map((e) => ({ key: e.key, value: e.value })),
  volumes: app.volumes.map((v) => ({ host_path: v.host_path ?? '', container_path: v.container_path })),
});

function readCatalogForm(form: FormFields): CatalogFormValues {
  return {
    code: form.one('code'),
    name: form.one('name'),
    category: form.one('category'),
    description: form.raw('description').trim(),
    image: form.one('image'),
    tag: form.one('tag'),
    ports: form.rows(ROW_FIELDS.ports),
    environment: form.rows(ROW_FIELDS.environment),
    volumes: form.rows(ROW_FIELDS.volumes),
  };
}

const ROW_FIELDS = {
  ports: { host_port: 'port_host', container_port: 'port_container' },
  environment: { key: 'env_key', value: 'env_value' },
  volumes: { host_path: 'volume_host', container_path: 'volume_container' },
} as const;

/** The service's error path (`ports.0.container_port`) as the form's field key (`port_container.0`). */
function catalogFieldOf(path: string): string | undefined {
  if (['code', 'name', 'category', 'description', 'image', 'tag'].includes(path)) return path;
  const [list, index, column] = path.split('.');
  const field = list && column ? (ROW_FIELDS as Record<string, Record<string, string>>)[list]?.[column] : undefined;
  return field && index !== undefined && /^\d+$/.test(index) ? `${field}.${index}` : undefined;
}


function CatalogForm(props: { action: string; values: CatalogFormValues; failure?: FormFailure; submit: string }) {
  const { values } = props;
  const errors = props.failure?.fields;
  const descriptionId = fieldId('description');
  const descriptionError = errors?.description;
  return (
    <form method="post" action={props.action}>
      <FormMessage failure={props.failure} />
      <div class="grid">
        <Field label="Code" name="code" value={values.code} errors={errors} hint="3 to 50 letters, digits, “.”, “_” or “-”; the compose service name" required />
        <Field label="Name" name="name" value={values.name} errors={errors} required />
        <Field label="Category" name="category" value={values.category} errors={errors} hint="e.g. Web server, Database" required />
      </div>
      <label for={descriptionId}>
        Description
        <textarea id={descriptionId} name="description" rows={2} aria-invalid={descriptionError ? 'true' : undefined} aria-describedby={descriptionError ? `${descriptionId}-help` : undefined}>
          {values.description}
        </textarea>
        {descriptionError && <small id={`${descriptionId}-help`}>{descriptionError}</small>}
      </label>
      <div class="grid">
        <Field label="Image" name="image" value={values.image} errors={errors} hint="Docker Hub repository, e.g. nginx or grafana/grafana" required />
        <Field label="Tag" name="tag" value={values.tag} errors={errors} required />
      </div>
      <RowsTable
        caption="Ports"
        hint="An empty host port publishes none (reachable inside the stack only). Clear a row to remove it."
        rows={values.ports}
        empty={{ host_port: '', container_port: '' }}
        columns={[
          { key: 'host_port', field: 'port_host', label: 'Host port', placeholder: '8080' },
          { key: 'container_port', field: 'port_container', label: 'Container port', placeholder: '80' },
        ]}
        errors={errors}
      />
      <RowsTable
        caption="Environment"
        hint="Default variables of the app. Clear a row to remove it."
        rows={values.environment}
        empty={{ key: '', value: '' }}
        columns={[
          { key: 'key', field: 'env_key', label: 'Variable', placeholder: 'POSTGRES_DB' },
          { key: 'value', field: 'env_value', label: 'Value' },
        ]}
        errors={errors}
      />
      <RowsTable
        caption="Volumes"
        hint="An empty host path gives the app a named volume. Clear a row to remove it."
        rows={values.volumes}
        empty={{ host_path: '', container_path: '' }}
        columns={[
          { key: 'host_path', field: 'volume_host', label: 'Host path', placeholder: './data' },
          { key: 'container_path', field: 'volume_container', label: 'Container path', placeholder: '/data' },
        ]}
        errors={errors}
      />
      <button type="submit">{props.submit}</button>
    </form>
  );
}

/** Parses and saves the posted entry; a bad entry comes back as the form's failure. */
async function saveCatalogEntry(
  c: PageContext,
  save: (entry: ReturnType<typeof catalogEntrySchema.parse>) => Promise<CatalogApp>,
): Promise<{ saved: CatalogApp } | { values: CatalogFormValues; failure: FormFailure }> {
  const values = readCatalogForm(await FormFields.of(c));
  try {
    return { saved: await save(catalogEntrySchema.parse(values satisfies CatalogEntryInput)) };
  } catch (error) {
    const failure = asFormFailure(error, catalogFieldOf);
    if (!failure) throw error;
    return { values, failure };
  }
}

async function catalogPage(c: PageContext, _user: AuthenticatedUser, form?: { values: CatalogFormValues; failure: FormFailure }) {
  const apps = await listCatalog(c.var.database.db);
  return renderPage(c, {
    title: 'App catalog',
    status: form ? 400 : 200,
    body: (
      <>
        <AdminNav />
        <h1>App catalog</h1>
        {apps.length === 0 ? (
          <p>The catalog is empty.</p>
        ) : (
          <table>
            <thead>
              <tr>
                <th scope="col">Code</th>
                <th scope="col">Name</th>
                <th scope="col">Category</th>
                <th scope="col">Image</th>
                <th scope="col">Ports</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {apps.map((app) => (
                <tr>
                  <td>
                    <a href={`/admin/catalog/${encodeURIComponent(app.code)}`}>{app.code}</a>
                  </td>
                  <td>{app.name}</td>
                  <td>{app.category}</td>
                  <td>
                    <code>{`${app.image}:${app.tag}`}</code>
                  </td>
                  <td>{app.ports.map((p) => (p.host_port ? `${p.host_port}:${p.container_port}` : p.container_port)).join(', ')}</td>
                  <td>
                    <a href={`/admin/catalog/${encodeURIComponent(app.code)}`}>Edit</a>{' '}
                    <ActionButton
                      action={`/admin/catalog/${encodeURIComponent(app.code)}/delete`}
                      label="Delete"
                      variant="secondary"
                      outline
                      confirm={`Delete “${app.name}” (${app.code}) from the catalog? Projects that use it keep their copy.`}
                    />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <article>
          <h2 id="add">Add an app</h2>
          <CatalogForm action="/admin/catalog" values={form?.values ?? emptyCatalogForm} failure={form?.failure} submit="Add to catalog" />
        </article>
      </>
    ),
  });
}

/** A catalog code from the path; anything that is not one names no app. */
function codeParam(c: PageContext): string {
  const code = c.req.param('code') ?? '';
  if (code.length < 1 || code.length > 50 || !catalogCodePattern.test(code)) throw notFound('There is no such page');
  return code;
}

async function catalogEditPage(c: PageContext, code: string, form?: { values: CatalogFormValues; failure: FormFailure }) {
  const app = await getCatalogApp(c.var.database.db, code);
  const path = `/admin/catalog/${encodeURIComponent(app.code)}`;
  return renderPage(c, {
    title: `Edit ${app.name}`,
    status: form ? 400 : 200,
    body: (
      <>
        <AdminNav />
        <h1>{`Edit “${app.name}”`}</h1>
        <p>
          <a href="/admin/catalog">Back to the catalog</a>
        </p>
        <article>
          <CatalogForm action={path} values={form?.values ?? valuesOf(app)} failure={form?.failure} submit="Save changes" />
        </article>
        <ActionButton action={`${path}/delete`} label="Delete from the catalog" variant="secondary" confirm={`Delete “${app.name}” (${app.code}) from the catalog?`} />
      </>
    ),
  });
}

// ---- API clients --------------------------------------------------------------------------------

const clientsQuery = z.object({ owner: z.string().trim().max(100).catch('').default('') });

async function allClientsPage(c: PageContext) {
  const owner = clientsQuery.parse(c.req.query()).owner;
  const clients = await listAllApiClients(c.var.database.db, owner === '' ? undefined : owner, LIST_LIMIT);
  return renderPage(c, {
    title: 'All API clients',
    body: (
      <>
        <AdminNav />
        <h1>All API clients</h1>
        <p>Secrets are never shown here. Enabling a client gives it a new secret that nobody sees; its owner renews it to get one.</p>
        <form method="get" action="/admin/clients" role="search">
          <input type="search" name="owner" value={owner} placeholder="Owner user id" aria-label="Show the clients of one owner (user id)" />
          <button type="submit">Filter</button>
        </form>
        {clients.length === 0 ? (
          <p>{owner ? `No API clients of “${owner}”.` : 'No API clients yet.'}</p>
        ) : (
          <table>
            <thead>
              <tr>
                <th scope="col">Id</th>
                <th scope="col">Owner</th>
                <th scope="col">Status</th>
                <th scope="col">Created</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {clients.map((client) => (
                <tr id={`client-${client.id}`}>
                  <td>{client.id}</td>
                  <td>{client.user_id}</td>
                  <td>{client.enabled ? 'enabled' : 'disabled'}</td>
                  <td>{when(client.created_at)}</td>
                  <td>
                    {client.enabled ? (
                      <ActionButton
                        action={`/admin/clients/${client.id}/disable`}
                        label="Disable"
                        variant="secondary"
                        outline
                        confirm={`Disable API client ${client.id} of ${client.user_id}? Its secret stops working at once.`}
                      />
                    ) : (
                      <ActionButton action={`/admin/clients/${client.id}/enable`} label="Enable" outline confirm={`Enable API client ${client.id} of ${client.user_id} with a new secret?`} />
                    )}
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

// ---- routes -------------------------------------------------------------------------------------

export const adminPages = new Hono<AppEnv>()
  .get('/admin', adminPage(overviewPage))
  .get('/admin/projects', adminPage(allProjectsPage))
  .get('/admin/catalog', adminPage((c, user) => catalogPage(c, user)))
  .post(
    '/admin/catalog',
    adminPage(async (c, user) => {
      const result = await saveCatalogEntry(c, (entry) => createCatalogApp(c.var.database.db, entry));
      if ('failure' in result) return catalogPage(c, user, result);
      return redirectWithNotice(c, '/admin/catalog', `“${result.saved.name}” (${result.saved.code}) added to the catalog.`);
    }),
  )
  .get('/admin/catalog/:code', adminPage((c) => catalogEditPage(c, codeParam(c))))
  .post(
    '/admin/catalog/:code',
    adminPage(async (c) => {
      const code = codeParam(c);
      await getCatalogApp(c.var.database.db, code);
      const result = await saveCatalogEntry(c, (entry) => updateCatalogApp(c.var.database.db, code, entry));
      if ('failure' in result) return catalogEditPage(c, code, result);
      return redirectWithNotice(c, '/admin/catalog', `“${result.saved.name}” (${result.saved.code}) saved.`);
    }),
  )
  .post(
    '/admin/catalog/:code/delete',
    adminPage(async (c) => {
      const code = codeParam(c);
      await deleteCatalogApp(c.var.database.db, code);
      return redirectWithNotice(c, '/admin/catalog', `“${code}” deleted from the catalog.`);
    }),
  )
  .get('/admin/clients', adminPage(allClientsPage))
  .post(
    '/admin/clients/:id/disable',
    adminPage(async (c) => {
      const disabled = await disableApiClient(apiClientDeps(c), idParam(c), { admin: true });
      return redirectWithNotice(c, '/admin/clients', `API client ${disabled.id} of ${disabled.user_id} disabled; its secret no longer works.`);
    }),
  )
  .post(
    '/admin/clients/:id/enable',
    adminPage(async (c) => {
      // The new secret is not shown: it is the owner's, who gets one by renewing the client.
      const { id, user_id } = await enableApiClient(apiClientDeps(c), idParam(c), { admin: true });
      return redirectWithNotice(c, '/admin/clients', `API client ${id} of ${user_id} enabled with a new secret; its owner renews it to get one.`);
    }),
  );
