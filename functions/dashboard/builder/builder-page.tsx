// The builder's page of a project: its apps (from the catalog or the user's own image), adding apps and
// networks, the compose generated from it, its deployments, and the project's settings.
import { raw } from 'hono/html';
import type { Project } from '../../../db/schema.ts';
import { ApiError } from '../../errors.ts';
import type { AuthenticatedUser } from '../../principal.ts';
import { listCatalog } from '../../services/catalog.ts';
import { projectWarnings } from '../../services/compose-check.ts';
import { listDeployments } from '../../services/deployments.ts';
import { composeOfStored } from '../../services/projects.ts';
import { scopeOfUser } from '../../services/scope.ts';
import { appsOf, imageOf, locate, networksOf, type RawApp, type RawForm, type StackApp } from '../../services/stack-form.ts';
import { highlightYaml } from '../assets/highlight-yaml.js';
import { ActionButton, asFormFailure, Field, FormMessage, SelectField, type FormFailure } from '../components/forms.tsx';
import { Breadcrumbs } from '../components/layout.tsx';
import { renderPage, type PageContext } from '../components/page.tsx';
import { deleteProjectQuestion } from '../components/project-list.tsx';
import { appUrl, projectUrl } from '../components/urls.ts';
import { DeploySection } from './deploy-section.tsx';
import { secretsUrl } from './secrets.tsx';
import { rows, str } from './raw.ts';

export interface BuilderState {
  status?: number;
  /** A failed save's message, on the app it names (by code) or at the top. */
  failure?: FormFailure;
  appErrors?: Record<string, string>;
  rename?: { name: string; failure: FormFailure };
  addCustom?: { image: string; name: string; list: string; failure: FormFailure };
  addNetwork?: { name: string; failure: FormFailure };
  importCompose?: { compose: string; failure: FormFailure };
}

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

function AppCard(props: { projectId: number; entry: StackApp; error?: string; warnings: string[] }) {
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
      {props.warnings.map((warning) => (
        <p role="status" class="form-warning">
          {`Warning: ${warning}`}
        </p>
      ))}
    </article>
  );
}

export async function builderPage(c: PageContext, user: AuthenticatedUser, row: Project, form: RawForm, state: BuilderState = {}) {
  const catalog = await listCatalog(c.var.database.db);
  const categories = [...new Set(catalog.map((entry) => entry.category))];
  const apps = appsOf(form);
  const networks = networksOf(form);
  const compose = composeView(row);
  // What may not work as meant (an environment value naming a host that is no service), on the app it is in.
  const warnings = projectWarnings(form as never);
  const warningsOf = (entry: StackApp) => warnings.filter((warning) => warning.path.startsWith(`custom.${entry.list}.${entry.index}.`)).map((warning) => warning.message);
  const deployments = await listDeployments(c.var.database.db, row.id, scopeOfUser(user));
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
            <AppCard projectId={row.id} entry={entry} error={state.appErrors?.[str(entry.app.code)]} warnings={warningsOf(entry)} />
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
              <small id="field-catalog-help">Comes with what it needs: a database or cache it requires is added, or linked to the one the stack has, and wired to it; its passwords are generated (see Secrets). Change anything after adding.</small>
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
        <section aria-labelledby="import-title">
          <h2 id="import-title">Import docker-compose.yml</h2>
          <form method="post" action={`${projectUrl(row.id)}/import`}>
            <FormMessage failure={state.importCompose?.failure} />
            <label for="field-compose">docker-compose.yml</label>
            <textarea
              id="field-compose"
              name="compose"
              rows={10}
              spellcheck={false}
              required
              placeholder={'services:\n  db:\n    image: postgres:16.4\n  web:\n    image: nginx:1.27\n    depends_on: [db]'}
              aria-invalid={state.importCompose?.failure.fields.compose ? 'true' : undefined}
              aria-describedby="field-compose-help"
            >
              {state.importCompose?.compose ?? ''}
            </textarea>
            <small id="field-compose-help">
              {state.importCompose?.failure.fields.compose ??
                'Paste a compose file: each service is added as it is (its name, image, ports, environment, volumes, networks, depends_on, healthcheck, command, user, labels, ...). What Stacker cannot carry, a build: section or a local file mounted, is named after the import.'}
            </small>
            <button type="submit">Import services</button>
          </form>
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
          {user.id === row.userId && (
            <p>
              Passwords and keys are generated for this stack and kept apart: the compose names them as <code>{'${NAME}'}</code>.{' '}
              <a href={secretsUrl(row.id)}>Secrets</a>
            </p>
          )}
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
          <ActionButton action={`${projectUrl(row.id)}/delete`} label="Delete project" variant="secondary" confirm={deleteProjectQuestion(name)} />
        </section>
      </>
    ),
  });
}

/** A failed save shown on the builder: each error on the app it names, the rest at the top. */
export function builderFailure(form: RawForm, error: unknown): Pick<BuilderState, 'failure' | 'appErrors'> | undefined {
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
