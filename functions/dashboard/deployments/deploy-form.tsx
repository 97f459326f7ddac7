// The deploy form of a project, as the engine that carries deploys out can take them (http/engine.ts):
// - the install service: a saved cloud key and the server, a new one the cloud creates or an existing
//   one reached over SSH;
// - the built-in engine: the user's own server (its address; no cloud key: the deployment page gives the
//   install command to run on it), or a new server with a saved cloud key, chosen from what its provider
//   offers (server-offers.tsx), which the engine refuses for the providers it cannot create servers on
//   yet (the service's 422, shown on the form).
// The form carries an Idempotency-Key of its own, so that a double click is one deployment. It is checked
// by the page's own fields, then by the API's SavedCloudDeployForm.
import type { Child } from 'hono/jsx';
import { z } from 'zod';
import type { Project } from '../../../db/schema.ts';
import { cloudDeps } from '../../http/deps.ts';
import { ApiError } from '../../errors.ts';
import type { AuthenticatedUser } from '../../principal.ts';
import { cloudProviderOf, listClouds, type CloudView } from '../../services/clouds.ts';
import { SavedCloudDeployForm, type SavedCloudDeployInput } from '../../services/inputs/deployments.ts';
import { SSH_PUBLIC_KEY_MAX } from '../../services/inputs/servers.ts';
import { scopeOfUser } from '../../services/scope.ts';
import { listServers, type ServerView } from '../../services/servers.ts';
import { Field, FormMessage, formNumber, SelectField, type FieldErrors, type FormFailure } from '../components/forms.tsx';
import { Breadcrumbs } from '../components/layout.tsx';
import { renderPage, type FormFields, type PageContext } from '../components/page.tsx';
import { deployUrl, projectUrl } from '../components/urls.ts';
import { chosenKey, NewCloudServer, serverOffers, type ServerOffers } from './server-offers.tsx';

export type Engine = 'builtin' | 'install-service';
type Target = 'new' | 'existing' | 'own';

/** The kinds of server each engine offers, the first being the form's default. */
const TARGETS: Record<Engine, readonly Target[]> = { 'install-service': ['new', 'existing'], builtin: ['own', 'new'] };
const TARGET_ERROR: Record<Engine, string> = { 'install-service': 'choose a new or an existing server', builtin: 'choose your own server or a new one in a cloud' };

const NEW_SERVER_FIELDS = ['server', 'region', 'zone', 'os', 'disk_type', 'ssh_public_key'] as const;
const OWN_SERVER_FIELDS = ['srv_ip', 'ssh_port', 'ssh_user'] as const;
const FORM_FIELDS = ['cloud_id', 'target', 'idempotency_key', ...NEW_SERVER_FIELDS, ...OWN_SERVER_FIELDS] as const;
export type DeployValues = Partial<Record<(typeof FORM_FIELDS)[number], string>>;

const chooseKey = 'choose one of your cloud keys';
const serialId = z.coerce.number({ error: chooseKey }).int(chooseKey).min(1, chooseKey).max(2_147_483_647, chooseKey);

// As the API's Idempotency-Key header allows; the page renders a UUID.
const idempotencyKey = z
  .string({ error: 'missing: open the deploy page and send its form' })
  .min(1, 'missing: open the deploy page and send its form')
  .max(128, 'too long: open the deploy page and send its form')
  .regex(/^[A-Za-z0-9_.:-]+$/, 'not one this page made: open the deploy page and send its form');

const REQUIRED_FOR: Record<Target, ReadonlyArray<(typeof FORM_FIELDS)[number]>> = {
  new: ['server', 'region', 'os'],
  existing: ['srv_ip'],
  own: ['srv_ip'],
};
const REQUIRED_MESSAGE: Record<Target, string> = { new: 'a new server needs this', existing: 'an existing server needs its address', own: 'your server needs its address' };

export function postedValues(fields: FormFields): DeployValues {
  const values: DeployValues = {};
  // Cut well past each field's own limit, so that a value too long is named by the schema, not shortened.
  for (const name of FORM_FIELDS) values[name] = fields.one(name).slice(0, name === 'ssh_public_key' ? SSH_PUBLIC_KEY_MAX + 1 : 200);
  return values;
}

/** The chosen kind of server, or the engine's default for anything else. */
const targetOf = (values: DeployValues, engine: Engine): Target => TARGETS[engine].find((target) => target === values.target) ?? TARGETS[engine][0]!;

/** The posted form as the API's SavedCloudDeployForm body: only the chosen kind of server's fields; an own server names its provider. */
function deployInputOf(values: DeployValues, target: Target) {
  const server: Record<string, string | number | null> = {};
  const used = target === 'new' ? NEW_SERVER_FIELDS : OWN_SERVER_FIELDS;
  for (const name of used) server[name] = values[name] || null;
  if (target !== 'new') server.ssh_port = formNumber(values.ssh_port ?? '');
  return target === 'own' ? { stack: {}, server, cloud: { provider: 'own' } } : { stack: {}, server };
}

/** A service or schema path as the form's field; the hidden Idempotency-Key's stays in the message. */
export const fieldOf = (path: string) => {
  // The engine's refusal of a provider names the cloud: the key that chose it.
  if (/^(body\.)?cloud(\.provider)?$/.test(path)) return 'cloud_id';
  const name = path.replace(/^(body\.)?server\./, '');
  return name !== 'idempotency_key' && (FORM_FIELDS as readonly string[]).includes(name) ? name : undefined;
};

const storedValues = (s: ServerView | undefined, engine: Engine): DeployValues => ({
  target: engine === 'builtin' ? (s && !s.srv_ip ? 'new' : 'own') : s?.srv_ip ? 'existing' : 'new',
  server: s?.server ?? '',
  region: s?.region ?? '',
  zone: s?.zone ?? '',
  os: s?.os ?? '',
  disk_type: s?.disk_type ?? '',
  srv_ip: s?.srv_ip ?? '',
  ssh_port: s?.ssh_port === null || s?.ssh_port === undefined ? '' : String(s.ssh_port),
  ssh_user: s?.ssh_user ?? '',
});

function keyLabel(key: CloudView): string {
  const provider = cloudProviderOf(key.provider)?.label ?? key.provider;
  const masked = [key.cloud_token, key.cloud_key].filter((v): v is string => v !== null);
  return `${provider} (${key.provider})${masked.length ? ` · ${masked.join(' / ')}` : ''} · key ${key.id}`;
}

/** The project's server, as its deploys reuse it (one per project). */
async function serverOf(c: PageContext, row: Project): Promise<ServerView | undefined> {
  return (await listServers(c.var.database.db, row.userId)).find((s) => s.project_id === row.id);
}

export async function deployFormPage(c: PageContext, user: AuthenticatedUser, row: Project, engine: Engine, form?: { values: DeployValues; failure: FormFailure }) {
  const keys = await listClouds(cloudDeps(c), user.id);
  const values = form?.values ?? storedValues(await serverOf(c, row), engine);
  const errors: FieldErrors = form?.failure.fields ?? {};
  const target = targetOf(values, engine);
  const offers = engine === 'builtin' ? await serverOffers(c, scopeOfUser(user), chosenKey(keys, values.cloud_id)) : null;
  // A new key for each form shown: a double click or a resubmit of this one starts one deployment.
  const key = form?.values.idempotency_key && idempotencyKey.safeParse(form.values.idempotency_key).success ? form.values.idempotency_key : crypto.randomUUID();
  const keyField = keys.length > 0 && (
    <>
      <SelectField
        label="Cloud key"
        name="cloud_id"
        value={values.cloud_id ?? String(keys[0]!.id)}
        errors={errors}
        required={engine === 'install-service'}
        options={keys.map((k) => ({ value: String(k.id), label: keyLabel(k) }))}
      />
      <p>
        <small>
          Keys are shown masked. <a href="/keys">Manage cloud keys</a>
        </small>
      </p>
    </>
  );
  const deployForm = (
    <form method="post" action={deployUrl(row.id)}>
      <FormMessage failure={form?.failure} />
      <input type="hidden" name="idempotency_key" value={key} />
      <Targets engine={engine} target={target} keyField={keyField} values={values} errors={errors} projectId={row.id} offers={offers} />
      <button type="submit">Deploy</button>
    </form>
  );
  return renderPage(c, {
    title: `Deploy ${row.name}`,
    status: form ? 400 : 200,
    body: (
      <>
        <Breadcrumbs trail={[{ label: 'Projects', href: '/projects' }, { label: row.name, href: projectUrl(row.id) }, { label: 'Deploy' }]} />
        <h1>{`Deploy ${row.name}`}</h1>
        {keys.length === 0 && engine === 'install-service' ? (
          <article>
            <p>
              Deploying needs a saved cloud key: <a href="/keys">add one on the Cloud keys page</a>, then come back here.
            </p>
          </article>
        ) : (
          deployForm
        )}
      </>
    ),
  });
}

interface TargetProps {
  projectId: number;
  offers: ServerOffers;
  target: Target;
  keyField: Child;
  values: DeployValues;
  errors: FieldErrors;
}

function TargetChoice(props: { target: Target; choices: Array<[Target, string]>; error?: string }) {
  return (
    <fieldset>
      <legend>Server</legend>
      {props.choices.map(([value, label]) => (
        <label>
          <input type="radio" name="target" value={value} checked={props.target === value} />
          {label}
        </label>
      ))}
      {props.error && <small class="form-error">{props.error}</small>}
    </fieldset>
  );
}

function NewServerFields(props: { values: DeployValues; errors: FieldErrors }) {
  const { values, errors } = props;
  return (
    <>
      <Field label="Server type" name="server" value={values.server} errors={errors} placeholder="cx11" hint="The provider's size, e.g. cx11; 2 to 50 characters" />
      <div class="grid-2">
        <Field label="Region" name="region" value={values.region} errors={errors} placeholder="fsn1" hint="e.g. fsn1" />
        <Field label="Zone (optional)" name="zone" value={values.zone} errors={errors} />
      </div>
      <div class="grid-2">
        <Field label="Operating system" name="os" value={values.os} errors={errors} placeholder="ubuntu-22.04" hint="e.g. ubuntu-22.04" />
        <Field label="Disk type (optional)" name="disk_type" value={values.disk_type} errors={errors} />
      </div>
    </>
  );
}

function AddressFields(props: { values: DeployValues; errors: FieldErrors; hint: string }) {
  const { values, errors } = props;
  return (
    <>
      <Field label="IP address" name="srv_ip" value={values.srv_ip} errors={errors} placeholder="203.0.113.10" hint={props.hint} />
      <div class="grid-2">
        <Field label="SSH port (optional)" name="ssh_port" type="number" value={values.ssh_port} errors={errors} placeholder="22" hint="20 to 65535" />
        <Field label="SSH user (optional)" name="ssh_user" value={values.ssh_user} errors={errors} placeholder="root" hint="3 to 50 characters" />
      </div>
    </>
  );
}

/** What each engine offers: the kinds of server, and what each article of the form asks. */
const CHOICES: Record<Engine, Array<[Target, string]>> = {
  'install-service': [
    ['new', 'A new server, created by the cloud'],
    ['existing', 'An existing server, reached over SSH'],
  ],
  builtin: [
    ['own', 'Own server: a Linux server you have; you run one install command on it'],
    ['new', 'A new server in a cloud, with one of your saved cloud keys'],
  ],
};

/**
 * The server part of the form. The install service's: the cloud key first, then a new server or an
 * existing one. The built-in engine's: the user's own server (no key), or a new one with a saved key.
 */
function Targets(props: TargetProps & { engine: Engine }) {
  const { values, errors } = props;
  const articles: Array<[string, Child]> =
    props.engine === 'install-service'
      ? [
          ['New server', <NewServerFields values={values} errors={errors} />],
          ['Existing server', <AddressFields values={values} errors={errors} hint="IPv4 or IPv6" />],
        ]
      : [
          [
            'Own server',
            <>
              <p>
                <small>No cloud key needed. After Deploy, the deployment's page shows the command to run as root on the server: it installs Docker if missing and Stacker's agent, which sets up the stack.</small>
              </p>
              <AddressFields values={values} errors={errors} hint="Its public IPv4 or IPv6 address: the stack's addresses are made from it" />
            </>,
          ],
          [
            'New server in a cloud',
            <>
              {props.keyField || (
                <p>
                  No cloud key yet: <a href="/keys">add one on the Cloud keys page</a>.
                </p>
              )}
              <NewCloudServer projectId={props.projectId} offers={props.offers} values={values} errors={errors} />
            </>,
          ],
        ];
  return (
    <>
      {props.engine === 'install-service' && props.keyField}
      <TargetChoice target={props.target} error={errors.target} choices={CHOICES[props.engine]} />
      <div class="grid-2">
        {articles.map(([heading, fields]) => (
          <article>
            <h2>{heading}</h2>
            {fields}
          </article>
        ))}
      </div>
    </>
  );
}

/** Checks the posted form: the page's own fields, the fields the chosen server needs, then the API's schema. */
export function parseDeployForm(values: DeployValues, keys: CloudView[], engine: Engine): { idempotencyKey: string; cloudId?: number; body: SavedCloudDeployInput } {
  const errors: Array<{ path: string; message: string }> = [];
  const key = idempotencyKey.safeParse(values.idempotency_key);
  if (!key.success) errors.push({ path: 'idempotency_key', message: key.error.issues[0]!.message });
  const target = targetOf(values, engine);
  if (values.target !== target) errors.push({ path: 'target', message: TARGET_ERROR[engine] });
  // An own server needs no cloud key: whatever key the form also sent is not used.
  const cloud = target === 'own' ? undefined : serialId.safeParse(values.cloud_id);
  if (cloud && (!cloud.success || !keys.some((k) => k.id === cloud.data))) errors.push({ path: 'cloud_id', message: chooseKey });
  for (const name of REQUIRED_FOR[target]) if (!values[name]) errors.push({ path: name, message: REQUIRED_MESSAGE[target] });
  if (target !== 'new' && values.ssh_port && !/^\d{1,5}$/.test(values.ssh_port)) errors.push({ path: 'ssh_port', message: 'must be a whole number from 20 to 65535' });
  const body = SavedCloudDeployForm.safeParse(deployInputOf(values, target));
  if (!body.success) {
    for (const issue of body.error.issues) errors.push({ path: issue.path.join('.'), message: issue.message });
  }
  if (errors.length > 0 || !key.success || !body.success) throw new ApiError(400, 'Some fields need a change', { errors });
  return { idempotencyKey: key.data, cloudId: cloud?.data, body: body.data };
}
