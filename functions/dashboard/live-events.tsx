// The dashboard's live feed of a deployment's event log: Server-Sent Events from the cursor the page
// was rendered with (or the Last-Event-ID a reconnecting browser sends), held on the deployment's
// doorbell between events, so a waiting page costs no query; with ?poll, one long-poll answered as
// JSON, for a browser whose stream keeps failing. The script is pages/scripts/live.ts.
import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import { z } from 'zod';
import type { AppEnv } from '../http/env.ts';
import { notFound } from '../errors.ts';
import { describeError, log } from '../logger.ts';
import { listEvents, MAX_EVENTS_WAIT_SECONDS, toEventView, waitForEvents } from '../services/deployment-events.ts';
import { findDeployment } from '../services/deployments.ts';
import { durableDoorbell } from '../services/doorbell.ts';
import { scopeOfUser } from '../services/scope.ts';
import { idParam, userPage } from './components/page.tsx';

/** A stream ends after this long; the browser reconnects at once, from where it was. */
export const STREAM_SECONDS = 300;

const cursor = z.coerce.number().int().min(0).max(2_147_483_647).catch(0);

export const liveEventPages = new Hono<AppEnv>().get(
  '/projects/:id/deployments/:deploymentId/events',
  userPage(async (c, user) => {
    const projectId = idParam(c);
    const deployment = await findDeployment(c.var.database.db, { id: idParam(c, 'deploymentId') }, scopeOfUser(user));
    if (deployment.projectId !== projectId) throw notFound('Deployment not found');
    let after = cursor.parse(c.req.header('last-event-id') ?? c.req.query('after') ?? 0);
    const doorbell = durableDoorbell(c.env.DEPLOYMENT_DOORBELL);
    if (c.req.query('poll') !== undefined) {
      // The long-poll, for a browser whose stream cannot stay open: the next events as JSON, held
      // up to MAX_EVENTS_WAIT_SECONDS on the doorbell when there are none yet.
      const database = c.var.database;
      const events = await waitForEvents({
        doorbell,
        deploymentHash: deployment.deploymentHash,
        deadline: c.var.receivedAt + MAX_EVENTS_WAIT_SECONDS * 1000,
        read: () => listEvents(database.db, deployment.id, after),
        beforeWait: () => database.release(),
      });
      return c.json({ list: events.map(toEventView) }, 200, { 'Cache-Control': 'no-store' });
    }
    // Outlives the handler: the stream's own connection, closed when it ends.
    const database = c.var.database.detached();
    return streamSSE(c, async (stream) => {
      const until = Date.now() + STREAM_SECONDS * 1000;
      try {
        await stream.writeSSE({ event: 'hello', data: String(after), retry: 1000 });
        while (!stream.aborted && Date.now() < until) {
          const events = await waitForEvents({
            doorbell,
            deploymentHash: deployment.deploymentHash,
            deadline: Math.min(until, Date.now() + MAX_EVENTS_WAIT_SECONDS * 1000),
            read: () => listEvents(database.db, deployment.id, after),
            beforeWait: () => database.release(),
          });
          for (const event of events) {
            await stream.writeSSE({ event: 'deployment', id: String(event.seq), data: JSON.stringify(toEventView(event)) });
            after = event.seq;
          }
          // A comment line keeps proxies from closing a quiet stream.
          if (events.length === 0) await stream.write(': waiting\n\n');
        }
      } finally {
        await database.close();
      }
    }, async (error) => {
      // The browser reconnects and resumes from its last event; the reason goes to the log.
      log('warn', 'dashboard event stream ended by an error', { requestId: c.var.requestId, ...describeError(error) });
    });
  }),
);
