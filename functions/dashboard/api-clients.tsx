// API clients: the user's HMAC clients listed (never a secret), created, disabled, enabled and renewed.
// A secret is shown once, on the page that answers the POST which made it (create, renew, enable: the
// API gives a new secret on each), and nowhere else.
import { Hono } from 'hono';
import { z } from 'zod';
import { apiClientDeps } from '../http/deps.ts';
import type { AppEnv } from '../http/env.ts';
import { ApiError, badRequest } from '../errors.ts';
import { ActionButton, asFormFailure, FormMessage, pageIdempotencyKey, type FormFailure } from './components/forms.tsx';
import { DataTable } from './components/data-table.tsx';
import { formatDate } from './components/dates.ts';
import type { AuthenticatedUser } from '../principal.ts';
import {
  createApiClient,
  disableApiClient,
  enableApiClient,
  listApiClients,
  renewApiClientSecret,
  type ApiClientWithSecret,
} from '../services/api-clients.ts';
import type { Scope } from '../services/scope.ts';
import { FormFields, idParam, redirectWithNotice, renderPage, userPage, type PageContext } from './components/page.tsx';

/** The user's own clients, as the API's /client/{id} routes reach them (admins too: any client is /admin's). */
const ownScope = (user: AuthenticatedUser): Scope => ({ ownerId: user.id });

/**
 * The create form carries a key of its own, made when the page was drawn: the same form sent twice
 * (a double click, a reload) creates one client, and the second answer does not show its secret again.
 */
const createForm = z.object({ request_key: z.uuid().optional() });

async function clientsPage(c: PageContext, user: AuthenticatedUser, failure?: { status: number; failure: FormFailure }) {
  const clients = await listApiClients(c.var.database.db, user.id);
  const limit = c.var.config.MAX_CLIENTS_NUMBER;
  return renderPage(c, {
    title: 'API clients',
    status: failure?.status ?? 200,
    body: (
      <>
        <h1>API clients</h1>
        <p>
          An API client lets a program call Stacker for you: it sends its id in the <code>stacker-id</code> header and, in <code>stacker-hash</code>, the
          hex HMAC-SHA256 of the request body keyed with its secret. {`You may have ${limit} client${limit === 1 ? '' : 's'}.`}
        </p>
        <article>
          <h2>New API client</h2>
          <form method="post" action="/clients">
            <FormMessage failure={failure?.failure} />
            <input type="hidden" name="request_key" value={crypto.randomUUID()} />
            <p>Its secret is shown once, on the next page.</p>
            <button type="submit">Create API client</button>
          </form>
        </article>
        <DataTable
          rows={clients}
          empty="No API clients yet."
          rowAttributes={(client) => ({ id: `client-${client.id}` })}
          columns={[
            { label: 'Client id', cell: (client) => client.id },
            { label: 'Status', cell: (client) => (client.enabled ? 'Enabled' : 'Disabled') },
            { label: 'Created', cell: (client) => formatDate(client.created_at) },
            { label: 'Changed', cell: (client) => formatDate(client.updated_at) },
            { label: 'Actions', cell: (client) => <ClientActions id={client.id} enabled={client.enabled} /> },
          ]}
        />
      </>
    ),
  });
}

function ClientActions(props: { id: number; enabled: boolean }) {
  if (!props.enabled) return <ActionButton action={`/clients/${props.id}/enable`} label="Enable with a new secret" outline />;
  return (
    <>
      <ActionButton action={`/clients/${props.id}/renew`} label="Renew secret" outline confirm={`Give API client ${props.id} a new secret? Its current secret stops working at once.`} />
      <ActionButton
        action={`/clients/${props.id}/disable`}
        label="Disable"
        variant="secondary"
        outline
        confirm={`Disable API client ${props.id}? Its secret stops working at once; enabling it again gives a new one.`}
      />
    </>
  );
}

/** The one page that shows a secret: the answer to the POST that made it. */
function secretPage(c: PageContext, client: ApiClientWithSecret, heading: string) {
  return renderPage(c, {
    title: heading,
    body: (
      <article aria-labelledby="secret-heading">
        <h1 id="secret-heading">{heading}</h1>
        <p role="alert">
          <strong>Copy the secret now: you will not see it again.</strong> Stacker shows it on this page only; if you lose it, renew the secret.
        </p>
        <p>
          Client id: <code id="new-client-id">{client.id}</code>{' '}
          <button type="button" class="secondary outline" data-copy="new-client-id">
            Copy id
          </button>
        </p>
        <p>Secret:</p>
        <p>
          <code id="new-client-secret" class="secret">{client.secret}</code>
        </p>
        <p>
          <button type="button" data-copy="new-client-secret">
            Copy
          </button>
        </p>
        <p>
          <a href="/clients">Back to API clients</a>
        </p>
      </article>
    ),
  });
}

export const apiClientPages = new Hono<AppEnv>()
  .get('/clients', userPage((c, user) => clientsPage(c, user)))
  .post(
    '/clients',
    userPage(async (c, user) => {
      const form = createForm.safeParse({ request_key: (await FormFields.of(c)).one('request_key') || undefined });
      if (!form.success) throw badRequest('This form is out of date: open API clients again and create the client from there.');
      const key = form.data.request_key === undefined ? undefined : pageIdempotencyKey(form.data.request_key);
      try {
        const { client, created } = await createApiClient(apiClientDeps(c), user.id, key);
        if (!created) {
          // Its secret was on the page that answered the first submission, not on this one.
          return redirectWithNotice(c, '/clients', `This form was already sent: it created API client ${client.id}. If you did not copy its secret, renew it.`);
        }
        return secretPage(c, client, `API client ${client.id} created`);
      } catch (error) {
        const failure = asFormFailure(error);
        if (!failure) throw error;
        return clientsPage(c, user, { status: error instanceof ApiError ? error.status : 400, failure });
      }
    }),
  )
  .post(
    '/clients/:id/renew',
    userPage(async (c, user) => {
      const client = await renewApiClientSecret(apiClientDeps(c), idParam(c), ownScope(user));
      return secretPage(c, client, `New secret for API client ${client.id}`);
    }),
  )
  .post(
    '/clients/:id/enable',
    userPage(async (c, user) => {
      // Disabling dropped the old secret: enabling gives a new one, shown here once, as the API answers it.
      const client = await enableApiClient(apiClientDeps(c), idParam(c), ownScope(user));
      return secretPage(c, client, `API client ${client.id} enabled with a new secret`);
    }),
  )
  .post(
    '/clients/:id/disable',
    userPage(async (c, user) => {
      const client = await disableApiClient(apiClientDeps(c), idParam(c), ownScope(user));
      return redirectWithNotice(c, '/clients', `API client ${client.id} disabled: its secret no longer works.`);
    }),
  );
