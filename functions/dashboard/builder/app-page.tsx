// An app's page in the builder: its name, service name, image and tag, restart policy, domain, ports,
// environment (also as a raw .env text that replaces it), volumes and networks.
import type { Project } from '../../../db/schema.ts';
import { formatEnvFile, type EnvEntry } from '../../services/env-file.ts';
import { imageOf, locate, networksOf, RESTART_POLICIES, setImage, type RawApp, type RawForm, type StackApp } from '../../services/stack-form.ts';
import { AppRows, ROW_FIELDS, rowFieldKey, STACK_ENV_SECRET } from '../components/app-rows.tsx';
import { asFormFailure, Field, FormMessage, SelectField, type FieldErrors, type FormFailure } from '../components/forms.tsx';
import { Breadcrumbs } from '../components/layout.tsx';
import { renderPage, type FormFields, type PageContext } from '../components/page.tsx';
import { appUrl, projectUrl } from '../components/urls.ts';
import { rows, str } from './raw.ts';

export interface AppFormValues {
  name: string;
  code: string;
  image: string;
  tag: string;
  restart: string;
  domain: string;
  ports: Array<{ host_port: string; container_port: string; protocol: string }>;
  environment: Array<EnvEntry & { secret?: string }>;
  volumes: Array<{ host_path: string; container_path: string }>;
  network: string[];
}

export function valuesOf(app: RawApp): AppFormValues {
  const { image, tag } = imageOf(app);
  return {
    name: str(app.name),
    code: str(app.code),
    image,
    tag,
    restart: str(app.restart),
    domain: str(app.domain),
    ports: rows<Record<string, unknown>>(app.shared_ports).map((p) => ({ host_port: str(p.host_port), container_port: str(p.container_port), protocol: str(p.protocol) || 'tcp' })),
    environment: rows<Record<string, unknown>>(app.environment).map((e) => ({ key: str(e.key), value: str(e.value), secret: e.secret === true ? 'yes' : '' })),
    volumes: rows<Record<string, unknown>>(app.volumes).map((v) => ({ host_path: str(v.host_path), container_path: str(v.container_path) })),
    network: rows<unknown>(app.network).map(str),
  };
}

export function postedAppValues(fields: FormFields): AppFormValues {
  return {
    name: fields.one('name'),
    code: fields.one('code'),
    image: fields.one('image'),
    tag: fields.one('tag'),
    restart: fields.one('restart'),
    domain: fields.one('domain'),
    // A port row holds its protocol's select even when left empty: empty means no port numbers.
    ports: fields.rows(ROW_FIELDS.ports).filter((r) => r.host_port !== '' || r.container_port !== ''),
    environment: fields.rows({ ...ROW_FIELDS.environment, secret: STACK_ENV_SECRET }),
    volumes: fields.rows(ROW_FIELDS.volumes),
    network: fields.all('network').filter(Boolean),
  };
}

export function applyValues(app: RawApp, values: AppFormValues): void {
  app.name = values.name;
  app.code = values.code;
  setImage(app, values.image, values.tag);
  app.restart = values.restart;
  app.domain = values.domain || null;
  // What the table has no column for (a port's host address, a read-only mount: an imported compose's) stays with its row.
  const before = { ports: rows<Record<string, unknown>>(app.shared_ports), volumes: rows<Record<string, unknown>>(app.volumes) };
  app.shared_ports = values.ports.map((p) => {
    const protocol = p.protocol === 'udp' ? 'udp' : 'tcp';
    const kept = before.ports.find((old) => str(old.host_port) === p.host_port && str(old.container_port) === p.container_port && (str(old.protocol) || 'tcp') === protocol);
    return { host_port: p.host_port, container_port: p.container_port, protocol, ...(kept?.host_ip ? { host_ip: kept.host_ip } : {}) };
  });
  // Marked secret: kept apart as a project secret when saved (project-secrets.ts), its row named ${NAME}.
  app.environment = values.environment.map(({ key, value, secret }) => ({ key, value, ...(secret === 'yes' && { secret: true }) }));
  app.volumes = values.volumes.map((v) => {
    const kept = before.volumes.find((old) => str(old.container_path) === v.container_path && (str(old.host_path) || '') === v.host_path);
    return { host_path: v.host_path || null, container_path: v.container_path, ...(kept?.read_only === true ? { read_only: true } : {}) };
  });
  app.network = values.network;
}

/** A service error's path inside one app (`shared_ports.1.host_port`) as the app form's field key. */
function appFieldOf(rest: string): string | undefined {
  const top: Record<string, string> = { name: 'name', code: 'code', dockerhub_name: 'image', dockerhub_image: 'image', dockerhub_user: 'image', '': 'image', restart: 'restart', domain: 'domain' };
  if (rest in top) return top[rest];
  const row = /^(shared_ports|environment|volumes)\.(\d+)(?:\.(\w+))?$/.exec(rest);
  if (row) {
    const list = row[1] === 'shared_ports' ? 'ports' : row[1]!;
    const column = row[3] ?? { ports: 'container_port', environment: 'key', volumes: 'container_path' }[list]!;
    return rowFieldKey(list, row[2]!, column);
  }
  if (/^network(\.\d+)?$/.test(rest)) return 'network';
  return undefined;
}

/** What the app page shows beyond the stored app: what was sent, and why it was refused. */
export interface AppPageState {
  values?: AppFormValues;
  failure?: FormFailure;
  envText?: string;
  envFailure?: FormFailure;
}

export async function appPage(c: PageContext, row: Project, form: RawForm, entry: StackApp, state: AppPageState = {}) {
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
            <SelectField label="Restart policy" name="restart" value={values.restart} errors={errors} options={[...new Set([...RESTART_POLICIES, values.restart])].map((policy) => ({ value: policy, label: policy }))} />
            <Field label="Domain" name="domain" value={values.domain} errors={errors} placeholder="app.example.com" />
          </div>
          <AppRows kind="stack" ports={values.ports} environment={values.environment} volumes={values.volumes} errors={errors} />
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

export function appFailure(form: RawForm, entry: StackApp, error: unknown): FormFailure | undefined {
  return asFormFailure(error, (path) => {
    const located = locate(form, path);
    if (!located || located.app.app !== entry.app) return undefined;
    return appFieldOf(located.rest);
  });
}
