// The built-in engine's "new server in a cloud" fields: what the chosen key's provider offers (server
// types with cores, memory, disk and monthly price; locations; system images), read with the user's key
// and kept a few minutes (services/cloud-offers.ts). Choosing another key fetches the fields again
// (htmx, GET .../deploy/offers). When the provider cannot be asked (a key of another provider, a refused
// token, the provider down) the form says why in the provider's words and takes the names as text; the
// deploy itself checks the choice with the provider before anything is created.
import type { Child } from 'hono/jsx';
import { ApiError } from '../../errors.ts';
import { cloudDeps } from '../../http/deps.ts';
import { cloudOffers, type CloudOffers } from '../../services/cloud-offers.ts';
import type { CloudView } from '../../services/clouds.ts';
import { SSH_PUBLIC_KEY_MAX } from '../../services/inputs/servers.ts';
import type { Scope } from '../../services/scope.ts';
import { formatDate } from '../components/dates.ts';
import { Field, fieldId, SelectField, type FieldErrors } from '../components/forms.tsx';
import type { PageContext } from '../components/page.tsx';
import { deployUrl } from '../components/urls.ts';

export type ServerOffers = { cloudId: number; offers: CloudOffers } | { cloudId: number; unavailable: string } | null;

export interface NewServerValues {
  cloud_id?: string;
  server?: string;
  region?: string;
  os?: string;
  ssh_public_key?: string;
}

/** The key the form shows offers for: the one chosen, else the first saved one. */
export const chosenKey = (keys: CloudView[], cloudId: string | undefined) => keys.find((key) => String(key.id) === cloudId) ?? keys[0];

/** The offers of a key of the user's (undefined: no key), or why they cannot be listed. */
export async function serverOffers(c: PageContext, scope: Scope, key: CloudView | undefined): Promise<ServerOffers> {
  if (!key) return null;
  try {
    return { cloudId: key.id, offers: await cloudOffers({ ...cloudDeps(c), settings: c.var.config }, key.id, scope) };
  } catch (error) {
    if (error instanceof ApiError && error.status < 500) return { cloudId: key.id, unavailable: error.message };
    if (error instanceof ApiError) return { cloudId: key.id, unavailable: `The provider could not be asked now (${error.message}); type the names, or reload in a minute` };
    throw error;
  }
}

const money = (amount: number, currency: string) => `${amount.toFixed(2)} ${currency}`;

function typeLabel(type: CloudOffers['types'][number]): string {
  const prices = type.prices.map((price) => price.monthly);
  const lowest = Math.min(...prices);
  const price = prices.every((p) => p === lowest) ? `${money(lowest, type.currency)}/month` : `from ${money(lowest, type.currency)}/month`;
  const arch = type.architecture === 'arm' ? ' · Arm' : '';
  return `${type.name} · ${type.cores} vCPU · ${type.memoryGb} GB RAM · ${type.diskGb} GB disk${arch} · ${price}`;
}

const choose = (what: string) => ({ value: '', label: `Choose ${what}` });

function OfferSelects(props: { offers: CloudOffers; values: NewServerValues; errors: FieldErrors }) {
  const { offers, values, errors } = props;
  // Only what can be ordered now, cheapest first.
  const types = offers.types.filter((type) => type.prices.length > 0).sort((a, b) => Math.min(...a.prices.map((p) => p.monthly)) - Math.min(...b.prices.map((p) => p.monthly)));
  return (
    <div data-server-offers={offers.provider}>
      <SelectField label="Server type" name="server" value={values.server} errors={errors} required options={[choose('a server type'), ...types.map((type) => ({ value: type.name, label: typeLabel(type) }))]} />
      <div class="grid-2">
        <SelectField
          label="Location"
          name="region"
          value={values.region}
          errors={errors}
          required
          options={[choose('a location'), ...offers.locations.map((location) => ({ value: location.name, label: [location.name, location.city, location.country].filter(Boolean).join(' · ') }))]}
        />
        <SelectField label="System image" name="os" value={values.os} errors={errors} required options={[choose('an image'), ...offers.images.map((image) => ({ value: image.name, label: `${image.name} · ${image.description}` }))]} />
      </div>
      <p>
        <small>{`Monthly prices without VAT, as ${offers.label} listed them at ${formatDate(offers.fetched_at)}; not every type is offered in every location (the deploy checks the pair before anything is created).`}</small>
      </p>
    </div>
  );
}

function TypedNames(props: { values: NewServerValues; errors: FieldErrors }) {
  const { values, errors } = props;
  return (
    <>
      <Field label="Server type" name="server" value={values.server} errors={errors} placeholder="cx23" hint="The provider's server type or size, e.g. cx23 or s-1vcpu-1gb" />
      <div class="grid-2">
        <Field label="Location" name="region" value={values.region} errors={errors} placeholder="fsn1" hint="e.g. fsn1 or fra1" />
        <Field label="System image" name="os" value={values.os} errors={errors} placeholder="ubuntu-24.04" hint="e.g. ubuntu-24.04 or ubuntu-24-04-x64" />
      </div>
    </>
  );
}

function SshKeyField(props: { value?: string; errors: FieldErrors }) {
  const id = fieldId('ssh_public_key');
  const error = props.errors.ssh_public_key;
  return (
    <div>
      <label for={id}>Your SSH public key (optional)</label>
      <textarea id={id} name="ssh_public_key" rows={2} maxlength={SSH_PUBLIC_KEY_MAX} placeholder="ssh-ed25519 AAAA... you@laptop" aria-invalid={error ? 'true' : undefined} aria-describedby={`${id}-help`}>
        {props.value ?? ''}
      </textarea>
      <small id={`${id}-help`}>{error ?? 'The one line of your .pub file: it may log in to the new server as root. Stacker never keeps or shows a root login the provider sets.'}</small>
    </div>
  );
}

/** The fields inside the htmx target: offers (or typed names with the reason) and the SSH key. */
export function NewCloudServerFields(props: { offers: ServerOffers; values: NewServerValues; errors: FieldErrors }): Child {
  const { offers, values, errors } = props;
  return (
    <>
      {offers && 'offers' in offers ? (
        <OfferSelects offers={offers.offers} values={values} errors={errors} />
      ) : (
        <>
          {offers && (
            <p class="form-error" role="status" data-offers-unavailable>
              {offers.unavailable}
            </p>
          )}
          <TypedNames values={values} errors={errors} />
        </>
      )}
      <SshKeyField value={values.ssh_public_key} errors={errors} />
    </>
  );
}

/** The part of the form that follows the key select: fetched again when another key is chosen. */
export function NewCloudServer(props: { projectId: number; offers: ServerOffers; values: NewServerValues; errors: FieldErrors }) {
  return (
    <div id="new-cloud-server" hx-get={`${deployUrl(props.projectId)}/offers`} hx-trigger={`change from:#${fieldId('cloud_id')}`} hx-include={`#${fieldId('cloud_id')}`} hx-swap="innerHTML">
      <NewCloudServerFields offers={props.offers} values={props.values} errors={props.errors} />
    </div>
  );
}
