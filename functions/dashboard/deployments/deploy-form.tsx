// The deploy form of a project: a saved cloud key and the server (a new one the cloud creates, or an
// existing one reached over SSH), with an Idempotency-Key of its own so that a double click is one
// deployment. Checked by the page's own fields, then by the API's SavedCloudDeployForm.
import { z } from 'zod';
import type { Project } from '../../../db/schema.ts';
import { cloudDeps } from '../../http/deps.ts';
import { ApiError } from '../../errors.ts';
import type { AuthenticatedUser } from '../../principal.ts';
import { cloudProviderOf, listClouds, type CloudView } from '../../services/clouds.ts';
import { SavedCloudDeployForm } from '../../services/inputs/deployments.ts';
import { listServers, type ServerView } from '../../services/servers.ts';
import { Field, FormMessage, formNumber, SelectField, type FieldErrors, type FormFailure } from '../components/forms.tsx';
import { Breadcrumbs } from '../components/layout.tsx';
import { renderPage, type FormFields, type PageContext } from '../components/page.tsx';
import { deployUrl, projectUrl } from '../components/urls.ts';

const NEW_SERVER_FIELDS = ['server', 'region', 'zone', 'os', 'disk_type'] as const;
const OWN_SERVER_FIELDS = ['srv_ip', 'ssh_port', 'ssh_user'] as const;
const FORM_FIELDS = ['cloud_id', 'target', 'idempotency_key', ...NEW_SERVER_FIELDS, ...OWN_SERVER_FIELDS] as const;
export type DeployValues = Partial<Record<(typeof FORM_FIELDS)[number], string>>;

const serialId = z.coerce.number({ error: 'choose one of your cloud keys' }).int('choose one of your cloud keys').min(1, 'choose one of your cloud keys').max(2_147_483_647, 'choose one of your cloud keys');

/** What the page adds to the API's body: which key, which kind of server, and the form's own Idempotency-Key. */
const deployPageForm = z.object({
  cloud_id: serialId,
  target: z.enum(['new', 'existing'], { error: 'choose a new or an existing server' }),
  // As the API's Idempotency-Key header allows; the page renders a UUID.
  idempotency_key: z
    .string({ error: 'missing: open the deploy page and send its form' })
    .min(1, 'missing: open the deploy page and send its form')
    .max(128, 'too long: open the deploy page and send its form')
    .regex(/^[A-Za-z0-9_.:-]+$/, 'not one this page made: open the deploy page and send its form'),
});

const REQUIRED_FOR: Record<'new' | 'existing', ReadonlyArray<(typeof FORM_FIELDS)[number]>> = {
  new: ['server', 'region', 'os'],
  existing: ['srv_ip'],
};

export function postedValues(fields: FormFields): DeployValues {
  const values: DeployValues = {};
  for (const name of FORM_FIELDS) values[name] = fields.one(name).slice(0, 200);
  return values;
}

/** The posted form as the API's SavedCloudDeployForm body: only the chosen kind of server's fields. */
function deployInputOf(values: DeployValues) {
  const target = values.target === 'existing' ? 'existing' : 'new';
  const server: Record<string, string | number | null> = {};
  const used = target === 'new' ? NEW_SERVER_FIELDS : OWN_SERVER_FIELDS;
  for (const name of used) server[name] = values[name] || null;
  if (target === 'existing') server.ssh_port = formNumber(values.ssh_port ?? '');
  return { stack: {}, server };
}

/** A service or schema path as the form's field; the hidden Idempotency-Key's stays in the message. */
export const fieldOf = (path: string) => {
  const name = path.replace(/^(body\.)?server\./, '');
  return name !== 'idempotency_key' && (FORM_FIELDS as readonly string[]).includes(name) ? name : undefined;
};

const storedValues = (s: ServerView | undefined): DeployValues => ({
  target: s?.srv_ip ? 'existing' : 'new',
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

export async function deployFormPage(c: PageContext, user: AuthenticatedUser, row: Project, form?: { values: DeployValues; failure: FormFailure }) {
  const keys = await listClouds(cloudDeps(c), user.id);
  const values = form?.values ?? storedValues(await serverOf(c, row));
  const errors: FieldErrors = form?.failure.fields ?? {};
  const target = values.target === 'existing' ? 'existing' : 'new';
  // A new key for each form shown: a double click or a resubmit of this one starts one deployment.
  const key = form?.values.idempotency_key && deployPageForm.shape.idempotency_key.safeParse(form.values.idempotency_key).success ? form.values.idempotency_key : crypto.randomUUID();
  return renderPage(c, {
    title: `Deploy ${row.name}`,
    status: form ? 400 : 200,
    body: (
      <>
        <Breadcrumbs trail={[{ label: 'Projects', href: '/projects' }, { label: row.name, href: projectUrl(row.id) }, { label: 'Deploy' }]} />
        <h1>{`Deploy ${row.name}`}</h1>
        {keys.length === 0 ? (
          <article>
            <p>
              Deploying needs a saved cloud key: <a href="/keys">add one on the Cloud keys page</a>, then come back here.
            </p>
          </article>
        ) : (
          <form method="post" action={deployUrl(row.id)}>
            <FormMessage failure={form?.failure} />
            <input type="hidden" name="idempotency_key" value={key} />
            <SelectField
              label="Cloud key"
              name="cloud_id"
              value={values.cloud_id ?? String(keys[0]!.id)}
              errors={errors}
              required
              options={keys.map((k) => ({ value: String(k.id), label: keyLabel(k) }))}
            />
            <p>
              <small>
                Keys are shown masked. <a href="/keys">Manage cloud keys</a>
              </small>
            </p>
            <fieldset>
              <legend>Server</legend>
              <label>
                <input type="radio" name="target" value="new" checked={target === 'new'} />
                A new server, created by the cloud
              </label>
              <label>
                <input type="radio" name="target" value="existing" checked={target === 'existing'} />
                An existing server, reached over SSH
              </label>
              {errors.target && <small class="form-error">{errors.target}</small>}
            </fieldset>
            <div class="grid-2">
              <article>
                <h2>New server</h2>
                <Field label="Server type" name="server" value={values.server} errors={errors} placeholder="cx11" hint="The provider's size, e.g. cx11; 2 to 50 characters" />
                <div class="grid-2">
                  <Field label="Region" name="region" value={values.region} errors={errors} placeholder="fsn1" hint="e.g. fsn1" />
                  <Field label="Zone (optional)" name="zone" value={values.zone} errors={errors} />
                </div>
                <div class="grid-2">
                  <Field label="Operating system" name="os" value={values.os} errors={errors} placeholder="ubuntu-22.04" hint="e.g. ubuntu-22.04" />
                  <Field label="Disk type (optional)" name="disk_type" value={values.disk_type} errors={errors} />
                </div>
              </article>
              <article>
                <h2>Existing server</h2>
                <Field label="IP address" name="srv_ip" value={values.srv_ip} errors={errors} placeholder="203.0.113.10" hint="IPv4 or IPv6" />
                <div class="grid-2">
                  <Field label="SSH port (optional)" name="ssh_port" type="number" value={values.ssh_port} errors={errors} placeholder="22" hint="20 to 65535" />
                  <Field label="SSH user (optional)" name="ssh_user" value={values.ssh_user} errors={errors} placeholder="root" hint="3 to 50 characters" />
                </div>
              </article>
            </div>
            <button type="submit">Deploy</button>
          </form>
        )}
      </>
    ),
  });
}

/** Checks the posted form: the page's own fields, the fields the chosen server needs, then the API's schema. */
export function parseDeployForm(values: DeployValues, keys: CloudView[]) {
  const page = deployPageForm.safeParse(values);
  const errors: Array<{ path: string; message: string }> = [];
  if (!page.success) {
    for (const issue of page.error.issues) errors.push({ path: String(issue.path[0] ?? 'form'), message: issue.message });
  } else if (!keys.some((k) => k.id === page.data.cloud_id)) {
    errors.push({ path: 'cloud_id', message: 'choose one of your cloud keys' });
  }
  const target = values.target === 'existing' ? 'existing' : 'new';
  for (const name of REQUIRED_FOR[target]) if (!values[name]) errors.push({ path: name, message: target === 'new' ? 'a new server needs this' : 'an existing server needs its address' });
  if (target === 'existing' && values.ssh_port && !/^\d{1,5}$/.test(values.ssh_port)) errors.push({ path: 'ssh_port', message: 'must be a whole number from 20 to 65535' });
  const body = SavedCloudDeployForm.safeParse(deployInputOf(values));
  if (!body.success) {
    for (const issue of body.error.issues) errors.push({ path: issue.path.join('.'), message: issue.message });
  }
  if (errors.length > 0 || !page.success || !body.success) throw new ApiError(400, 'Some fields need a change', { errors });
  return { page: page.data, body: body.data };
}
