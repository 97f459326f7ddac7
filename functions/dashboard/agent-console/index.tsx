// The agent console of a deployment: its agent (registered or not, version, capabilities, last seen,
// online or offline), the apps' status it reports, a form to send it a command, the commands with
// their results, cancel, and token rotation. The agent panel and the command list are fragments of
// their own (GET .../agent/panel, GET .../agent/commands) that htmx fetches again on each
// `deployment-event` the live feed (live-events.tsx, assets/live.ts) dispatches, so the page follows
// the agent without a reload; assets/agent-console.ts ticks the "seen N s ago".
// Commands are checked exactly as POST /api/v1/commands checks them (services/inputs/commands.ts).
// The pieces: command-form.tsx (the form and its checks), panels.tsx (the agent panel, the command list).
import { Hono } from 'hono';
import { raw } from 'hono/html';
import { z } from 'zod';
import { rotateAgentTokenOrUnavailable } from '../../http/agent-tokens.ts';
import { ringDoorbell } from '../../http/caller.ts';
import type { AppEnv } from '../../http/env.ts';
import { badRequest, notFound } from '../../errors.ts';
import { ASSETS, Breadcrumbs } from '../components/layout.tsx';
import { AGENT_CSS } from '../assets/agent-console.ts';
import type { AuthenticatedUser } from '../../principal.ts';
import { agentOverview } from '../../services/agents.ts';
import { cancelCommand, createCommand, listCommands, toOwnerCommandView } from '../../services/commands.ts';
import { findDeployment } from '../../services/deployments.ts';
import { commandIdParam } from '../../services/inputs/commands.ts';
import { findProject } from '../../services/projects.ts';
import { scopeOfUser } from '../../services/scope.ts';
import { graceSecondsSchema } from '../../services/agent-tokens.ts';
import { formatDate } from '../components/dates.ts';
import { FormFields, fragment, idParam, pageHeaders, pathParam, redirectWithNotice, renderPage, userPage, type PageContext } from '../components/page.tsx';
import { agentConsoleUrl, deploymentEventsUrl, deploymentUrl, projectUrl } from '../components/urls.ts';
import { CommandForm, newValues, parseCommand, postedValues, type CommandValues } from './command-form.tsx';
import { AgentPanel, CommandList } from './panels.tsx';
import type { FormFailure } from '../components/forms.tsx';

const BASE = '/projects/:id/deployments/:deploymentId/agent';
/** The rotation form's grace_seconds: digits only, 0 to 3600. */
const graceField = z.string().regex(/^\d{1,4}$/).transform(Number).pipe(graceSecondsSchema);

/** The deployment of the path, when the user may reach it (another user's is 404, as the API answers). */
async function consoleTarget(c: PageContext, user: AuthenticatedUser) {
  const projectId = idParam(c);
  const deployment = await findDeployment(c.var.database.db, { id: idParam(c, 'deploymentId') }, scopeOfUser(user));
  if (deployment.projectId !== projectId) throw notFound('Deployment not found');
  return { projectId, deployment, url: agentConsoleUrl(projectId, deployment.id) };
}

async function consolePage(c: PageContext, user: AuthenticatedUser, form?: { values: CommandValues; failure: FormFailure }) {
  const db = c.var.database.db;
  const { projectId, deployment, url } = await consoleTarget(c, user);
  const scope = scopeOfUser(user);
  const [project, overview, commands] = await Promise.all([
    findProject(db, projectId, scope),
    agentOverview(db, deployment.deploymentHash, scope),
    listCommands(db, deployment.deploymentHash, scope),
  ]);
  const title = `Agent of deployment ${deployment.id}`;
  return renderPage(c, {
    title,
    status: form ? 400 : 200,
    body: (
      <>
        <Breadcrumbs
          trail={[
            { label: 'Projects', href: '/projects' },
            { label: project.name, href: projectUrl(projectId) },
            { label: `Deployment ${deployment.id}`, href: deploymentUrl(projectId, deployment.id) },
            { label: 'Agent' },
          ]}
        />
        <hgroup>
          <h1>Agent console</h1>
          <p>
            Deployment <code>{deployment.deploymentHash}</code> · <span data-live-status>Connecting…</span>
          </p>
        </hgroup>
        <div data-events-url={deploymentEventsUrl(projectId, deployment.id)} data-after={String(deployment.eventSeq)}>
          <div class="grid-2 agent-top">
            <article id="agent-panel" hx-get={`${url}/panel`} hx-trigger="deployment-event from:body, every 30s" hx-swap="innerHTML" hx-sync="this:queue last">
              <AgentPanel overview={overview} url={url} deploymentUrl={deploymentUrl(projectId, deployment.id)} enrols={deployment.engine === 'builtin'} />
            </article>
            <article>
              <h2>Send a command</h2>
              <CommandForm url={url} values={form?.values ?? newValues()} failure={form?.failure} />
            </article>
          </div>
          <section id="agent-commands" hx-get={`${url}/commands`} hx-trigger="deployment-event from:body" hx-swap="innerHTML" hx-sync="this:queue last">
            <CommandList commands={commands.map(toOwnerCommandView)} url={url} />
          </section>
        </div>
        <style>{raw(AGENT_CSS)}</style>
        <script src={ASSETS.liveJs} defer></script>
        <script src={ASSETS.agentJs} defer></script>
      </>
    ),
  });
}

export const agentConsolePages = new Hono<AppEnv>()
  .get(BASE, userPage((c, user) => consolePage(c, user)))
  .get(
    `${BASE}/panel`,
    fragment('this agent', async (c, user) => {
      const { projectId, deployment, url } = await consoleTarget(c, user);
      const overview = await agentOverview(c.var.database.db, deployment.deploymentHash, scopeOfUser(user));
      const panel = <AgentPanel overview={overview} url={url} deploymentUrl={deploymentUrl(projectId, deployment.id)} enrols={deployment.engine === 'builtin'} />;
      return c.html(panel, 200, pageHeaders);
    }),
  )
  .get(
    `${BASE}/commands`,
    fragment('this agent', async (c, user) => {
      const { deployment, url } = await consoleTarget(c, user);
      const commands = await listCommands(c.var.database.db, deployment.deploymentHash, scopeOfUser(user));
      return c.html(<CommandList commands={commands.map(toOwnerCommandView)} url={url} />, 200, pageHeaders);
    }),
  )
  .post(
    `${BASE}/commands`,
    userPage(async (c, user) => {
      const { deployment, url } = await consoleTarget(c, user);
      const values = postedValues(await FormFields.of(c));
      const parsed = parseCommand(values);
      if ('failure' in parsed) return consolePage(c, user, { values, failure: parsed.failure });
      const { idempotencyKey, ...input } = parsed.command;
      const { command, created } = await createCommand(c.var.database.db, {
        deploymentHash: deployment.deploymentHash,
        scope: scopeOfUser(user),
        createdBy: user.id,
        input,
        idempotencyKey,
      });
      if (created) ringDoorbell(c, command.deploymentHash, 'commands', 'status');
      return redirectWithNotice(
        c,
        url,
        created ? `Command ${command.type} queued (${command.commandId}).` : `This form was sent already: command ${command.commandId} was queued then.`,
      );
    }),
  )
  .post(
    `${BASE}/commands/:commandId/cancel`,
    userPage(async (c, user) => {
      const { deployment, url } = await consoleTarget(c, user);
      const commandId = commandIdParam.safeParse(pathParam(c, 'commandId'));
      if (!commandId.success) throw notFound('Command not found');
      const row = await cancelCommand(c.var.database.db, deployment.deploymentHash, commandId.data, scopeOfUser(user));
      ringDoorbell(c, deployment.deploymentHash, 'status');
      return redirectWithNotice(c, url, `Command ${row.type} (${row.commandId}) cancelled.`);
    }),
  )
  .post(
    `${BASE}/rotate`,
    userPage(async (c, user) => {
      // consoleTarget is the access check: rotateAgentToken itself takes any hash.
      const { deployment, url } = await consoleTarget(c, user);
      // "Revoke now" posts grace_seconds=0; the plain button posts none (the default grace).
      const posted = (await FormFields.of(c)).one('grace_seconds');
      const grace = posted === '' ? undefined : graceField.safeParse(posted);
      if (grace && !grace.success) throw badRequest('Invalid grace_seconds: must be a whole number of seconds, 0 to 3600', [{ path: 'grace_seconds', message: 'must be 0 to 3600' }]);
      const rotated = await rotateAgentTokenOrUnavailable(c, deployment.deploymentHash, undefined, grace?.data);
      // The new token is never shown here: it is in Vault, where provisioning and the agent read it.
      const told = rotated.agent_notified ? 'the agent was told its new token' : 'the agent was not told directly: it reads the new token from Vault';
      if (grace?.data === 0) {
        return redirectWithNotice(c, url, `Agent token rotated and the previous token revoked: the agent must use the new token (in Vault) from now on. ${told[0]!.toUpperCase()}${told.slice(1)}.`);
      }
      return redirectWithNotice(c, url, `Agent token rotated; ${told}. The previous token works until ${formatDate(rotated.previous_token_valid_until)}.`);
    }),
  );
