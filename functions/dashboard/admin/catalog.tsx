// Admin: the app catalog the Stack Builder offers: the list, add, edit, delete. An entry is checked by the
// catalog service's own schema; its errors are shown on the fields (rows of ports, environment, volumes).
import { Hono } from 'hono';
import type { CatalogApp } from '../../../db/schema.ts';
import type { AppEnv } from '../../http/env.ts';
import { notFound } from '../../errors.ts';
import type { AuthenticatedUser } from '../../principal.ts';
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
import { DataTable } from '../components/data-table.tsx';
import { AppRows, ROW_FIELDS, rowFieldKey } from '../components/app-rows.tsx';
import { ActionButton, asFormFailure, Field, fieldId, FormMessage, type FormFailure } from '../components/forms.tsx';
import { adminPage, FormFields, invalidForm, redirectWithNotice, renderPage, type PageContext } from '../components/page.tsx';
import { AdminNav } from './admin-nav.tsx';

const catalogUrl = (code: string) => `/admin/catalog/${encodeURIComponent(code)}`;

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
  /** catalog_app.template as JSON text (what it provides, exports, requires; health check; command). */
  template: string;
}

const emptyCatalogForm: CatalogFormValues = { code: '', name: '', category: '', description: '', image: '', tag: '', ports: [], environment: [], volumes: [], template: '{}' };

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
  template: JSON.stringify(app.template ?? {}, null, 2),
});

function readCatalogForm(form: FormFields): CatalogFormValues {
  return {
    code: form.one('code'),
    name: form.one('name'),
    category: form.one('category'),
    description: form.raw('description').trim(),
    image: form.one('image'),
    tag: form.one('tag'),
    ports: form.rows({ host_port: ROW_FIELDS.ports.host_port, container_port: ROW_FIELDS.ports.container_port }),
    environment: form.rows(ROW_FIELDS.environment),
    volumes: form.rows(ROW_FIELDS.volumes),
    template: form.raw('template').trim() || '{}',
  };
}

/** The template field's text as the entry schema takes it; text that is no JSON is the field's error. */
function parsedTemplate(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw invalidForm('The template is not JSON', [{ path: 'template', message: 'must be a JSON object, e.g. {"requires": [{"as": "db", "kind": "mysql", "default": "mariadb"}]}' }]);
  }
}

/** The service's error path (`ports.0.container_port`) as the form's field key (`port_container.0`). */
function catalogFieldOf(path: string): string | undefined {
  if (['code', 'name', 'category', 'description', 'image', 'tag'].includes(path)) return path;
  if (path === 'template' || path.startsWith('template.')) return 'template';
  const [list, index, column] = path.split('.');
  return list && index !== undefined && column ? rowFieldKey(list, index, column) : undefined;
}

function CatalogForm(props: { action: string; values: CatalogFormValues; failure?: FormFailure; submit: string }) {
  const { values } = props;
  const errors = props.failure?.fields;
  const descriptionId = fieldId('description');
  const descriptionError = errors?.description;
  const templateId = fieldId('template');
  const templateError = errors?.template;
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
      <AppRows kind="catalog" ports={values.ports} environment={values.environment} volumes={values.volumes} errors={errors} />
      <label for={templateId}>
        Template (JSON)
        <textarea id={templateId} name="template" rows={8} spellcheck={false} aria-invalid={templateError ? 'true' : undefined} aria-describedby={`${templateId}-help`}>
          {values.template}
        </textarea>
        <small id={`${templateId}-help`}>
          {templateError ??
            'What it provides ("provides": ["mysql"]) and exports to apps that use it, what it requires ({"as": "db", "kind": "mysql", "default": "mariadb"}), "healthcheck", "command", "docs". In values: {{secret:NAME}} (generated per project), {{service}}, {{published:PORT}}, {{db.host}}, {{env:KEY}} (exports).'}
        </small>
      </label>
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
    const input = { ...values, template: parsedTemplate(values.template) } as CatalogEntryInput;
    return { saved: await save(catalogEntrySchema.parse(input)) };
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
        <DataTable
          rows={apps}
          empty="The catalog is empty."
          columns={[
            { label: 'Code', cell: (app) => <a href={catalogUrl(app.code)}>{app.code}</a> },
            { label: 'Name', cell: (app) => app.name },
            { label: 'Category', cell: (app) => app.category },
            { label: 'Image', cell: (app) => <code>{`${app.image}:${app.tag}`}</code> },
            { label: 'Ports', cell: (app) => app.ports.map((p) => (p.host_port ? `${p.host_port}:${p.container_port}` : p.container_port)).join(', ') },
            {
              label: 'Actions',
              cell: (app) => (
                <>
                  <a href={catalogUrl(app.code)}>Edit</a>{' '}
                  <ActionButton
                    action={`${catalogUrl(app.code)}/delete`}
                    label="Delete"
                    variant="secondary"
                    outline
                    confirm={`Delete “${app.name}” (${app.code}) from the catalog? Projects that use it keep their copy.`}
                  />
                </>
              ),
            },
          ]}
        />
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
  const path = catalogUrl(app.code);
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

export const catalogPages = new Hono<AppEnv>()
  .get('/admin/catalog', adminPage(catalogPage))
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
  );
