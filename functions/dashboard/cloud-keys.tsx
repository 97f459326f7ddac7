// Cloud keys: the user's saved provider credentials, shown only masked; add one per provider, delete (confirmed).
// Input is checked with the API's own CloudForm (services/inputs/clouds.ts), so page and API accept the same keys.
import { Hono } from 'hono';
import { cloudDeps } from '../http/deps.ts';
import type { AppEnv } from '../http/env.ts';
import { ActionButton, asFormFailure, Field, FormMessage, SelectField, type FormFailure } from './components/forms.tsx';
import type { AuthenticatedUser } from '../principal.ts';
import { CLOUD_PROVIDERS, cloudProviderOf, createCloud, deleteCloud, listClouds, type CloudCredential, type CloudView } from '../services/clouds.ts';
import { DataTable } from './components/data-table.tsx';
import { formatDate } from './components/dates.ts';
import { CloudForm } from '../services/inputs/clouds.ts';
import { scopeOfUser } from '../services/scope.ts';
import { FormFields, idParam, redirectWithNotice, renderPage, userPage, type PageContext } from './components/page.tsx';

const CREDENTIAL_LABELS: Record<CloudCredential, string> = {
  cloud_token: 'API token',
  cloud_key: 'Access key ID',
  cloud_secret: 'Secret access key',
};

/** What the page takes: the API's CloudForm, and for a provider it knows, the credentials that provider needs. */
const cloudKeyForm = CloudForm.superRefine((value, ctx) => {
  const provider = cloudProviderOf(value.provider);
  for (const field of provider?.needs ?? []) {
    if (!value[field]) ctx.addIssue({ code: 'custom', path: [field], message: `${provider!.label} needs the ${CREDENTIAL_LABELS[field].toLowerCase()}` });
  }
});

const usedBy = (field: CloudCredential) =>
  CLOUD_PROVIDERS.filter((p) => p.needs.includes(field))
    .map((p) => p.label)
    .join(', ');

const Masked = (props: { value: string | null }) => (props.value === null ? <span aria-label="none">—</span> : <code class="secret">{props.value}</code>);

/** The list and the add form; after a failed add, the form again with the provider chosen (never the secrets). */
async function keysPage(c: PageContext, user: AuthenticatedUser, form?: { provider: string; failure: FormFailure }) {
  const keys: CloudView[] = await listClouds(cloudDeps(c), user.id);
  const errors = form?.failure.fields;
  return renderPage(c, {
    title: 'Cloud keys',
    status: form ? 400 : 200,
    body: (
      <>
        <h1>Cloud keys</h1>
        <p>Credentials are stored encrypted and are never shown again: this page shows only a masked hint of each.</p>
        <DataTable
          rows={keys}
          empty="No cloud keys yet."
          columns={[
            { label: 'Provider', cell: (key) => (cloudProviderOf(key.provider) ? `${cloudProviderOf(key.provider)!.label} (${key.provider})` : key.provider) },
            { label: CREDENTIAL_LABELS.cloud_token, cell: (key) => <Masked value={key.cloud_token} /> },
            { label: CREDENTIAL_LABELS.cloud_key, cell: (key) => <Masked value={key.cloud_key} /> },
            { label: CREDENTIAL_LABELS.cloud_secret, cell: (key) => <Masked value={key.cloud_secret} /> },
            { label: 'Added', cell: (key) => formatDate(key.created_at) },
            {
              label: 'Actions',
              cell: (key) => (
                <ActionButton action={`/keys/${key.id}/delete`} label="Delete" variant="secondary" outline confirm={`Delete this ${key.provider} key? Deploys that use it will need a new one.`} />
              ),
            },
          ]}
        />
        <article>
          <h2>Add a cloud key</h2>
          <form method="post" action="/keys">
            <FormMessage failure={form?.failure} />
            {form && <p>For your safety the credentials were not kept: enter them again.</p>}
            <SelectField
              label="Provider"
              name="provider"
              value={form?.provider ?? ''}
              options={[{ value: '', label: 'Choose a provider' }, ...CLOUD_PROVIDERS.map((p) => ({ value: p.code, label: p.label }))]}
              errors={errors}
              required
            />
            <Field label={CREDENTIAL_LABELS.cloud_token} name="cloud_token" type="password" errors={errors} hint={`Needed for ${usedBy('cloud_token')}`} />
            <Field label={CREDENTIAL_LABELS.cloud_key} name="cloud_key" type="password" errors={errors} hint={`Needed for ${usedBy('cloud_key')}`} />
            <Field label={CREDENTIAL_LABELS.cloud_secret} name="cloud_secret" type="password" errors={errors} hint={`Needed for ${usedBy('cloud_secret')}`} />
            <button type="submit">Save key</button>
          </form>
        </article>
      </>
    ),
  });
}

export const cloudKeyPages = new Hono<AppEnv>()
  .get('/keys', userPage((c, user) => keysPage(c, user)))
  .post(
    '/keys',
    userPage(async (c, user) => {
      const fields = await FormFields.of(c);
      const provider = fields.one('provider');
      const secret = (name: CloudCredential) => fields.one(name) || null;
      try {
        const input = cloudKeyForm.parse({
          provider,
          cloud_token: secret('cloud_token'),
          cloud_key: secret('cloud_key'),
          cloud_secret: secret('cloud_secret'),
          // Saved from this page on purpose: kept (encrypted) for later deploys.
          save_token: true,
        });
        const saved = await createCloud(cloudDeps(c), user.id, input);
        return redirectWithNotice(c, '/keys', `Cloud key for ${cloudProviderOf(saved.provider)?.label ?? saved.provider} saved.`);
      } catch (error) {
        const failure = asFormFailure(error, (path) => (['provider', 'cloud_token', 'cloud_key', 'cloud_secret'].includes(path) ? path : undefined));
        if (!failure) throw error;
        return keysPage(c, user, { provider: provider.slice(0, 50), failure });
      }
    }),
  )
  .post(
    '/keys/:id/delete',
    userPage(async (c, user) => {
      await deleteCloud(cloudDeps(c), idParam(c), scopeOfUser(user));
      return redirectWithNotice(c, '/keys', 'Cloud key deleted.');
    }),
  );
