// A project's page, the builder: its apps (from the catalog or the user's own image), each app's
// settings, networks, and the compose generated from it, regenerated on every save. Every change is a
// POST that edits the project form (stack-form.ts) and saves it through the project service.
import { Hono } from 'hono';
import { raw } from 'hono/html';
import { z } from 'zod';
import type { Project } from '../../../db/schema.ts';
import type { AppEnv } from '../../http/env.ts';
import { ApiError } from '../../errors.ts';
import { projectDeps } from '../../http/deps.ts';
import { highlightYaml } from '../assets/highlight-yaml.js';
import { Breadcrumbs } from '../components/layout.tsx';
import { ActionButton, asFormFailure, Field, FormMessage, RowsTable, SelectField, type FieldErrors, type FormFailure } from '../components/forms.tsx';
import type { AuthenticatedUser } from '../../principal.ts';
import { catalogCodePattern, getCatalogApp, listCatalog } from '../../services/catalog.ts';
import { formatEnvFile, parseEnvFile, type EnvEntry } from '../../services/env-file.ts';
import { projectFormSchema } from '../../services/inputs/projects.ts';
import { composeOfStored, findProject, updateProject } from '../../services/projects.ts';
import { DeploySection, projectDeployments } from '../deployments/index.tsx';
import { FormFields, idParam, invalidForm, pathParam, redirectWithNotice, renderPage, userPage, type PageContext } from '../components/page.tsx';
import {
  addCatalogApp,
  addCustomApp,
  addNetwork,
  appsOf,
  editableForm,
  findApp,
  imageOf,
  locate,
  networksOf,
  removeApp,
  removeNetwork,
  RESTART_POLICIES,
  setImage,
  type RawApp,
  type RawForm,
  type StackApp,
} from '../../services/stack-form.ts';
import { scopeOfUser } from '../../services/scope.ts';

const projectUrl = (id: number) => `/projects/${id}`;
const appUrl = (id: number, code: unknown) => `/projects/${id}/apps/${encodeURIComponent(String(code))}`;

async function loadStack(c: PageContext, user: AuthenticatedUser): Promise<{ row: Project; form: RawForm }> {
  const row = await findProject(c.var.database.db, idParam(c), scopeOfUser(user));
  return { row, form: editableForm(row) };
}

/** Saves the edited form as the API's PUT /project/{id} would (same schema, same service). */
async function saveStack(c: PageContext, user: AuthenticatedUser, row: Project, form: RawForm) {
  const parsed = projectFormSchema.parse(form);
  return updateProject(projectDeps(c), row.id, scopeOfUser(user), parsed, form);
}

// ---- the builder page ---------------------------------------------------------------------------

interface BuilderState {
  status?: number;
  /** A failed save's message, on the app it names (by code) or at the top. */
  failure?: FormFailure;
  appErrors?: Record<string, string>;
  rename?: { name: string; failure: FormFailure };
  addCustom?: { image: string; name: string; list: string; failure: FormFailure };
  addNetwork?: { name: string; failure: FormFailure };
}

const str = (value: unknown) => (typeof value === 'string' ? value : value === null || value === undefined ? '' : String(value));
const rows = <T,>(value: unknown): T[] => (Array.isArray(value) ? (value as T[]) : []);

function portsSummary(app: RawApp): string {
  const ports = rows<{ host_port?: unknown; container_port?: unknown }>(app.shared_ports);
  if (ports.length === 0) return 'no ports';
  return ports.map((p) => (str(p.host_port) ? `${str(p.host_port)}→${str(p.container_port)}` : `${str(p.container_port)} (inside the stack)`)).join(', ');
}

function composeView(row: Project): { yaml?: string; error?: string } {
  try {
    return { yaml: composeOfStored(row.metadata) };
  } catch (error) {
    if (error instanceof ApiError) return { error: error.message };
    throw error;
  }
}

function AppCard(props: { projectId: number; entry: StackApp; error?: string }) {
  const { app } = props.entry;
  const { image, tag } = imageOf(app);
  return (
    <article class="app-card" id={`app-${str(app.code)}`} aria-labelledby={`app-${str(app.code)}-title`}>
      <header>
        <h3 id={`app-${str(app.code)}-title`}>{str(app.name)}</h3>
        <span>
          <a href={appUrl(props.projectId, app.code)} role="button" class="outline">
            {`Edit ${str(app.name)}`}
          </a>{' '}
          <ActionButton action={`${appUrl(props.projectId, app.code)}/delete`} label="Remove" variant="secondary" outline confirm={`Remove ${str(app.name)} from the stack?`} />
        </span>
      </header>
      <p>
        <code>{tag ? `${image}:${tag}` : image}</code> · service <code>{str(app.code)}</code> · {props.entry.list} · {portsSummary(app)} · {rows(app.environment).length} env · {rows(app.volumes).length} volumes · restart {str(app.restart)}
        {str(app.domain) && ` · ${str(app.domain)}`}
      </p>
      {props.error && (
        <p role="alert" class="form-error">
          {props.error}
        </p>
      )}
    </article>
  );
}

async function builderPage(c: PageContext, user: AuthenticatedUser, row: Project, form: RawForm, state: BuilderState = {}) {
  const catalog = await listCatalog(c.var.database.db);
  const categories = [...new Set(catalog.map((entry) => entry.category))];
  const apps = appsOf(form);
  const networks = networksOf(form);
  const compose = composeView(row);
  const deployments = await projectDeployments(c, user, row.id);
  const name = str(form.custom.custom_stack_code) || row.name;
  return renderPage(c, {
    title: name,
    status: state.status ?? 200,
    body: (
      <>
        <Breadcrumbs trail={[{ label: 'Projects', href: '/projects' }, { label: name }]} />
        <h1>{name}</h1>
        <FormMessage failure={state.failure} />
        <section aria-labelledby="apps-title">
          <h2 id="apps-title">{`Apps (${apps.length})`}</h2>
          {apps.length === 0 && <p>No apps yet: add one from the catalog or by image below.</p>}
          {apps.map((entry) => (
            <AppCard projectId={row.id} entry={entry} error={state.appErrors?.[str(entry.app.code)]} />
          ))}
        </section>
        <section class="grid-2" aria-label="Add apps">
          <article>
            <h2>Add from the catalog</h2>
            <form method="post" action={`${projectUrl(row.id)}/apps`}>
              <label for="field-catalog">App</label>
              <select id="field-catalog" name="catalog" required aria-describedby="field-catalog-help">
                  {categories.map((category) => (
                    <optgroup label={category}>
                      {catalog
                        .filter((entry) => entry.category === category)
                        .map((entry) => (
                          <option value={entry.code}>{`${entry.name} (${entry.image}:${entry.tag})`}</option>
                        ))}
                    </optgroup>
                  ))}
              </select>
              <small id="field-catalog-help">Comes with its image, ports, environment and volumes; change them after adding.</small>
              <button type="submit">Add app</button>
            </form>
          </article>
          <article>
            <h2>Add your own container</h2>
            <form method="post" action={`${projectUrl(row.id)}/containers`}>
              <FormMessage failure={state.addCustom?.failure} />
              <Field label="Docker image" name="image" value={state.addCustom?.image} errors={state.addCustom?.failure.fields} placeholder="myorg/api:1.4" hint="A Docker Hub repository, with a tag if you want one" required />
              <Field label="Name (optional)" name="app_name" value={state.addCustom?.name} errors={state.addCustom?.failure.fields} placeholder="api" />
              <SelectField
                label="Kind"
                name="list"
                value={state.addCustom?.list ?? 'web'}
                options={[
                  { value: 'web', label: 'Web app' },
                  { value: 'service', label: 'Service (database, cache, worker)' },
                ]}
              />
              <button type="submit">Add container</button>
            </form>
          </article>
        </section>
        <section aria-labelledby="networks-title">
          <h2 id="networks-title">Networks</h2>
          {networks.length === 0 ? (
            <p>The apps share the stack's default network.</p>
          ) : (
            <ul>
              {networks.map((network) => (
                <li>
                  <code>{network.name}</code>{' '}
                  <ActionButton action={`${projectUrl(row.id)}/networks/${encodeURIComponent(network.id)}/delete`} label={`Remove network ${network.name}`} variant="secondary" outline confirm={`Remove network ${network.name}? Apps attached to it leave it.`} />
                </li>
              ))}
            </ul>
          )}
          <form method="post" action={`${projectUrl(row.id)}/networks`}>
            <FormMessage failure={state.addNetwork?.failure} />
            <Field label="New network" name="network_name" value={state.addNetwork?.name} errors={state.addNetwork?.failure.fields} placeholder="backend" required />
            <button type="submit" class="secondary">
              Add network
            </button>
          </form>
        </section>
        <section aria-labelledby="compose-title">
          <h2 id="compose-title">docker-compose.yml</h2>
          {compose.yaml !== undefined ? (
            <>
              <a href={`${projectUrl(row.id)}/compose.yml`} role="button" download>
                Download docker-compose.yml
              </a>
              <pre class="compose">
                <code class="hljs language-yaml" id="compose-yaml">
                  {raw(highlightYaml(compose.yaml))}
                </code>
              </pre>
            </>
          ) : (
            <p role="alert" class="form-error">
              {compose.error}
            </p>
          )}
        </section>
        <DeploySection projectId={row.id} deployments={deployments} />
        <section aria-labelledby="settings-title">
          <h2 id="settings-title">Project settings</h2>
          <form method="post" action={`${projectUrl(row.id)}/rename`}>
            <FormMessage failure={state.rename?.failure} />
            <Field label="Project name" name="name" value={state.rename?.name ?? name} errors={state.rename?.failure.fields} required />
            <button type="submit" class="secondary">
              Rename
            </button>
          </form>
          <ActionButton action={`${projectUrl(row.id)}/delete`} label="Delete project" variant="secondary" confirm={`Delete project “${name}” and its deployments? This cannot be undone.`} />
        </section>
      </>
    ),
  });
}

/** A failed save shown on the builder: each error on the app it names, the rest at the top. */
function builderFailure(form: RawForm, error: unknown): Pick<BuilderState, 'failure' | 'appErrors'> | undefined {
  const appErrors: Record<string, string> = {};
  const failure = asFormFailure(error, (path) => {
    const located = locate(form, path);
    if (!located) return undefined;
    return `app:${str(located.app.app.code)}`;
  });
  if (!failure) return undefined;
  for (const [key, message] of Object.entries(failure.fields)) appErrors[key.slice(4)] = message;
  return { failure: { message: failure.message, fields: {} }, appErrors };
}

// ---- the app page -------------------------------------------------------------------------------

interface AppFormValues {
  name: string;
  code: string;
  image: string;
  tag: string;
  restart: string;
  domain: string;
  ports: Array<{ host_port: string; container_port: string; protocol: string }>;
  environment: EnvEntry[];
  volumes: Array<{ host_path: string; container_path: string }>;
  network: string[];
}

function valuesOf(app: RawApp): AppFormValues {
  const { image, tag } = imageOf(app);
  return {
    name: str(app.name),
    code: str(app.code),
    image,
    tag,
    restart: str(app.restart),
    domain: str(app.domain),
    ports: rows<Record<string, unknown>>(app.shared_ports).map((p) => ({ host_port: str(p.host_port), container_port: str(p.container_port), protocol: str(p.protocol) || 'tcp' })),
    environment: rows<Record<string, unknown>>(app.environment).map((e) => ({ key: str(e.key), value: str(e.value) })),
    volumes: rows<Record<string, unknown>>(app.volumes).map((v) => ({ host_path: str(v.host_path), container_path: str(v.container_path) })),
    network: rows<unknown>(app.network).map(str),
  };
}

function postedAppValues(fields: FormFields): AppFormValues {
  return {
    name: fields.one('name'),
    code: fields.one('code'),
    image: fields.one('image'),
    tag: fields.one('tag'),
    restart: fields.one('restart'),
    domain: fields.one('domain'),
    // A port row holds its protocol's select even when left empty: empty means no port numbers.
    ports: fields.rows({ host_port: 'port_host', container_port: 'port_container', protocol: 'port_protocol' }).filter((r) => r.host_port !== '' || r.container_port !== ''),
    environment: fields.rows({ key: 'env_key', value: 'env_value' }),
    volumes: fields.rows({ host_path: 'volume_host', container_path: 'volume_container' }),
    network: fields.all('network').filter(Boolean),
  };
}

function applyValues(app: RawApp, values: AppFormValues): void {
  app.name = values.name;
  app.code = values.code;
  setImage(app, values.image, values.tag);
  app.restart = values.restart;
  app.domain = values.domain || null;
  app.shared_ports = values.ports.map((p) => ({ host_port: p.host_port, container_port: p.container_port, protocol: p.protocol === 'udp' ? 'udp' : 'tcp' }));
  app.environment = values.environment;
  app.volumes = values.volumes.map((v) => ({ host_path: v.host_path || null, container_path: v.container_path }));
  app.network = values.network;
}

/** A service error's path inside one app (`shared_ports.1.host_port`) as the app form's field key. */
function appFieldOf(rest: string): string | undefined {
  const top: Record<string, string> = { name: 'name', code: 'code', dockerhub_name: 'image', dockerhub_image: 'image', dockerhub_user: 'image', '': 'image', restart: 'restart', domain: 'domain' };
  if (rest in top) return top[rest];
  const row = /^(shared_ports|environment|volumes)\.(\d+)(?:\.(\w+))?$/.exec(rest);
  if (row) {
    const fields: Record<string, Record<string, string>> = {
      shared_ports: { host_port: 'port_host', container_port: 'port_container', protocol: 'port_protocol' },
      environment: { key: 'env_key', value: 'env_value' },
      volumes: { host_path: 'volume_host', container_path: 'volume_container' },
    };
    const column = row[3] ?? { shared_ports: 'container_port', environment: 'key', volumes: 'container_path' }[row[1] as 'shared_ports'];
    const field = fields[row[1]!]![column];
    return field && `${field}.${row[2]}`;
  }
  if (/^network(\.\d+)?$/.test(rest)) return 'network';
  return undefined;
}

async function appPage(c: PageContext, row: Project, form: RawForm, entry: StackApp, state: { values?: AppFormValues; failure?: FormFailure; envText?: string; envFailure?: FormFailure } = {}) {
  const values = state.values ?? valuesOf(entry.app);
  const errors: FieldErrors = state.failure?.fields ?? {};
  const networks = networksOf(form);
  const action = appUrl(row.id, entry.app.code);
  const projectName = str(form.custom.custom_stack_code) || row.name;
  const status = state.failure || state.envFailure ? 400 : 200;
  return renderPage(c, {
    title: `${values.name || str(entry.app.name)} · ${projectName}`,
    status,
    body: (
      <>
        <Breadcrumbs trail={[{ label: 'Projects', href: '/projects' }, { label: projectName, href: projectUrl(row.id) }, { label: str(entry.app.name) }]} />
        <h1>{str(entry.app.name)}</h1>
        <form method="post" action={action}>
          <FormMessage failure={state.failure} />
          <div class="grid">
            <Field label="Name" name="name" value={values.name} errors={errors} required />
            <Field label="Service name (in compose)" name="code" value={values.code} errors={errors} required hint="Letters, digits, “.”, “_” and “-”" />
          </div>
          <div class="grid">
            <Field label="Image" name="image" value={values.image} errors={errors} required />
            <Field label="Tag" name="tag" value={values.tag} errors={errors} placeholder="latest" />
          </div>
          <div class="grid">
            <SelectField label="Restart policy" name="restart" value={values.restart} errors={errors} options={RESTART_POLICIES.map((policy) => ({ value: policy, label: policy }))} />
            <Field label="Domain" name="domain" value={values.domain} errors={errors} placeholder="app.example.com" />
          </div>
          <RowsTable
            caption="Ports"
            hint="An empty host port publishes none (reachable inside the stack only). Clear a row to remove it."
            rows={values.ports}
            empty={{ host_port: '', container_port: '', protocol: 'tcp' }}
            columns={[
              { key: 'host_port', field: 'port_host', label: 'Host port', placeholder: 'not published' },
              { key: 'container_port', field: 'port_container', label: 'Container port' },
              { key: 'protocol', field: 'port_protocol', label: 'Protocol', options: [{ value: 'tcp', label: 'tcp' }, { value: 'udp', label: 'udp' }] },
            ]}
            errors={errors}
          />
          <RowsTable
            caption="Environment"
            hint="Clear a row to remove it; the .env view below edits them all at once."
            rows={values.environment}
            empty={{ key: '', value: '' }}
            columns={[
              { key: 'key', field: 'env_key', label: 'Variable' },
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
              { key: 'host_path', field: 'volume_host', label: 'Host path or volume name', placeholder: 'a named volume' },
              { key: 'container_path', field: 'volume_container', label: 'Container path' },
            ]}
            errors={errors}
          />
          <fieldset>
            <legend>Networks</legend>
            {networks.length === 0 && <p>No networks in this project yet; add one on the project page.</p>}
            {networks.map((network) => (
              <label>
                <input type="checkbox" name="network" value={network.id} checked={values.network.includes(network.id)} />
                {network.name}
              </label>
            ))}
            {errors.network && <small class="form-error">{errors.network}</small>}
          </fieldset>
          <button type="submit">Save app</button>
        </form>
        <details open={state.envFailure !== undefined}>
          <summary>Edit the environment as a .env file</summary>
          <form method="post" action={`${action}/env`}>
            <FormMessage failure={state.envFailure} />
            <label for="field-env_file">.env</label>
            <textarea
                id="field-env_file"
                name="env_file"
                rows={Math.max(6, values.environment.length + 2)}
                spellcheck={false}
                aria-invalid={state.envFailure ? 'true' : undefined}
                aria-describedby="field-env_file-help"
              >
                {state.envText ?? formatEnvFile(valuesOf(entry.app).environment)}
            </textarea>
            <small id="field-env_file-help">{state.envFailure?.fields.env_file ?? 'One KEY=value per line. Saving replaces the whole environment with these lines.'}</small>
            <button type="submit">Save .env</button>
          </form>
        </details>
      </>
    ),
  });
}

function appFailure(form: RawForm, entry: StackApp, error: unknown): FormFailure | undefined {
  return asFormFailure(error, (path) => {
    const located = locate(form, path);
    if (!located || located.app.app !== entry.app) return undefined;
    return appFieldOf(located.rest);
  });
}

// ---- routes -------------------------------------------------------------------------------------

const listName = z.enum(['web', 'service']).catch('web');
const networkName = z.string().trim().min(1, 'must not be empty').max(100);

export const builderPages = new Hono<AppEnv>()
  .get(
    '/projects/:id',
    userPage(async (c, user) => {
      const { row, form } = await loadStack(c, user);
      return builderPage(c, user, row, form);
    }),
  )
  .get(
    '/projects/:id/compose.yml',
    userPage(async (c, user) => {
      const row = await findProject(c.var.database.db, idParam(c), scopeOfUser(user));
      const yaml = composeOfStored(row.metadata);
      const filename = `${row.name.replace(/[^A-Za-z0-9._-]+/g, '-')}-docker-compose.yml`;
      return c.body(yaml, 200, { 'Content-Type': 'application/yaml; charset=utf-8', 'Content-Disposition': `attachment; filename="${filename}"`, 'Cache-Control': 'no-store' });
    }),
  )
  .post(
    '/projects/:id/rename',
    userPage(async (c, user) => {
      const { row, form } = await loadStack(c, user);
      const name = (await FormFields.of(c)).one('name');
      form.custom.custom_stack_code = name;
      try {
        await saveStack(c, user, row, form);
        return redirectWithNotice(c, projectUrl(row.id), `Project renamed to “${name}”.`);
      } catch (error) {
        const failure = asFormFailure(error, (path) => (path === 'custom.custom_stack_code' ? 'name' : undefined));
        if (!failure) throw error;
        return builderPage(c, user, row, editableForm(row), { status: 400, rename: { name, failure } });
      }
    }),
  )
  .post(
    '/projects/:id/apps',
    userPage(async (c, user) => {
      const { row, form } = await loadStack(c, user);
      // Only a code the catalog could have reaches the database (a NUL in it is PostgreSQL's error, a 500).
      const code = z.string().trim().min(1).max(50).regex(catalogCodePattern).safeParse((await FormFields.of(c)).one('catalog'));
      if (!code.success) throw invalidForm('Pick an app from the catalog', [{ path: 'catalog', message: 'pick an app' }]);
      const added = addCatalogApp(form, await getCatalogApp(c.var.database.db, code.data));
      try {
        await saveStack(c, user, row, form);
        return redirectWithNotice(c, projectUrl(row.id), `${str(added.app.name)} added as service “${str(added.app.code)}”.`);
      } catch (error) {
        const shown = builderFailure(form, error);
        if (!shown) throw error;
        return builderPage(c, user, row, editableForm(row), { status: 400, ...shown });
      }
    }),
  )
  .post(
    '/projects/:id/containers',
    userPage(async (c, user) => {
      const { row, form } = await loadStack(c, user);
      const fields = await FormFields.of(c);
      const input = { image: fields.one('image'), name: fields.one('app_name'), list: listName.parse(fields.one('list')) };
      const shownInput = { image: input.image, name: input.name, list: input.list };
      if (input.image === '') {
        const failure = { message: 'Name the Docker image to run', fields: { image: 'must not be empty' } };
        return builderPage(c, user, row, form, { status: 400, addCustom: { ...shownInput, failure } });
      }
      const added = addCustomApp(form, input);
      try {
        await saveStack(c, user, row, form);
        return redirectWithNotice(c, projectUrl(row.id), `${str(added.app.name)} added as service “${str(added.app.code)}”.`);
      } catch (error) {
        // Errors of the new app belong to the add form's fields; others (rare) to the top.
        const failure = asFormFailure(error, (path) => {
          const located = locate(form, path);
          if (!located || located.app.app !== added.app) return undefined;
          return located.rest === 'name' ? 'app_name' : 'image';
        });
        if (!failure) throw error;
        return builderPage(c, user, row, editableForm(row), { status: 400, addCustom: { ...shownInput, failure } });
      }
    }),
  )
  .post(
    '/projects/:id/networks',
    userPage(async (c, user) => {
      const { row, form } = await loadStack(c, user);
      const name = (await FormFields.of(c)).one('network_name');
      const parsed = networkName.safeParse(name);
      try {
        if (!parsed.success) throw invalidForm('The network needs a name', [{ path: 'network_name', message: parsed.error.issues[0]!.message }]);
        addNetwork(form, parsed.data);
        await saveStack(c, user, row, form);
        return redirectWithNotice(c, projectUrl(row.id), `Network “${name}” added; attach apps to it on their pages.`);
      } catch (error) {
        const failure = asFormFailure(error, (path) => (path === 'network_name' || /^custom\.networks\.\d+\.(name|id)$/.test(path) ? 'network_name' : undefined));
        if (!failure) throw error;
        return builderPage(c, user, row, editableForm(row), { status: 400, addNetwork: { name, failure } });
      }
    }),
  )
  .post(
    '/projects/:id/networks/:network/delete',
    userPage(async (c, user) => {
      const { row, form } = await loadStack(c, user);
      removeNetwork(form, pathParam(c, 'network'));
      await saveStack(c, user, row, form);
      return redirectWithNotice(c, projectUrl(row.id), 'Network removed.');
    }),
  )
  .get(
    '/projects/:id/apps/:code',
    userPage(async (c, user) => {
      const { row, form } = await loadStack(c, user);
      return appPage(c, row, form, findApp(form, pathParam(c, 'code')));
    }),
  )
  .post(
    '/projects/:id/apps/:code',
    userPage(async (c, user) => {
      const { row, form } = await loadStack(c, user);
      const entry = findApp(form, pathParam(c, 'code'));
      const values = postedAppValues(await FormFields.of(c));
      applyValues(entry.app, values);
      try {
        await saveStack(c, user, row, form);
        return redirectWithNotice(c, projectUrl(row.id), `${values.name} saved; the compose below has the change.`);
      } catch (error) {
        const failure = appFailure(form, entry, error);
        if (!failure) throw error;
        return appPage(c, row, editableForm(row), findApp(editableForm(row), pathParam(c, 'code')), { values, failure });
      }
    }),
  )
  .post(
    '/projects/:id/apps/:code/env',
    userPage(async (c, user) => {
      const { row, form } = await loadStack(c, user);
      const entry = findApp(form, pathParam(c, 'code'));
      const text = (await FormFields.of(c)).raw('env_file');
      const parsed = parseEnvFile(text);
      if (parsed.errors.length > 0) {
        const message = parsed.errors.map((e) => e.message).join('; ');
        return appPage(c, row, form, entry, { envText: text, envFailure: { message: 'The .env text has lines that are not KEY=value', fields: { env_file: message } } });
      }
      // Replaces, never merges: a variable missing from the text is gone.
      entry.app.environment = parsed.entries;
      try {
        await saveStack(c, user, row, form);
        return redirectWithNotice(c, appUrl(row.id, entry.app.code), `Environment replaced: ${parsed.entries.length} variables.`);
      } catch (error) {
        const failure = appFailure(form, entry, error);
        if (!failure) throw error;
        return appPage(c, row, editableForm(row), findApp(editableForm(row), pathParam(c, 'code')), { envText: text, envFailure: { message: failure.message, fields: { env_file: Object.values(failure.fields).join('; ') || failure.message } } });
      }
    }),
  )
  .post(
    '/projects/:id/apps/:code/delete',
    userPage(async (c, user) => {
      const { row, form } = await loadStack(c, user);
      const { app } = findApp(form, pathParam(c, 'code'));
      removeApp(form, str(app.code));
      await saveStack(c, user, row, form);
      return redirectWithNotice(c, projectUrl(row.id), `${str(app.name)} removed from the stack.`);
    }),
  );
