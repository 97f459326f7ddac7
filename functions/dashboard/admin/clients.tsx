// Admin: every user's API clients, filtered by owner; disable or enable one. Secrets are never shown.
import { Hono } from 'hono';
import { apiClientDeps } from '../../http/deps.ts';
import type { AppEnv } from '../../http/env.ts';
import { disableApiClient, enableApiClient, listAllApiClients } from '../../services/api-clients.ts';
import { DataTable } from '../components/data-table.tsx';
import { formatDate } from '../components/dates.ts';
import { ActionButton } from '../components/forms.tsx';
import { adminPage, idParam, redirectWithNotice, renderPage, type PageContext } from '../components/page.tsx';
import { SearchForm, searchTerm } from '../components/search-form.tsx';
import { AdminNav } from './admin-nav.tsx';

const LIST_LIMIT = 500;

async function allClientsPage(c: PageContext) {
  const owner = searchTerm(c, 'owner');
  const clients = await listAllApiClients(c.var.database.db, owner === '' ? undefined : owner, LIST_LIMIT);
  return renderPage(c, {
    title: 'All API clients',
    body: (
      <>
        <AdminNav />
        <h1>All API clients</h1>
        <p>Secrets are never shown here. Enabling a client gives it a new secret that nobody sees; its owner renews it to get one.</p>
        <SearchForm action="/admin/clients" name="owner" value={owner} placeholder="Owner user id" label="Show the clients of one owner (user id)" button="Filter" />
        <DataTable
          rows={clients}
          empty={owner ? `No API clients of “${owner}”.` : 'No API clients yet.'}
          rowAttributes={(client) => ({ id: `client-${client.id}` })}
          columns={[
            { label: 'Id', cell: (client) => client.id },
            { label: 'Owner', cell: (client) => client.user_id },
            { label: 'Status', cell: (client) => (client.enabled ? 'enabled' : 'disabled') },
            { label: 'Created', cell: (client) => formatDate(client.created_at) },
            {
              label: 'Actions',
              cell: (client) =>
                client.enabled ? (
                  <ActionButton
                    action={`/admin/clients/${client.id}/disable`}
                    label="Disable"
                    variant="secondary"
                    outline
                    confirm={`Disable API client ${client.id} of ${client.user_id}? Its secret stops working at once.`}
                  />
                ) : (
                  <ActionButton action={`/admin/clients/${client.id}/enable`} label="Enable" outline confirm={`Enable API client ${client.id} of ${client.user_id} with a new secret?`} />
                ),
            },
          ]}
        />
      </>
    ),
  });
}

export const clientPages = new Hono<AppEnv>()
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
