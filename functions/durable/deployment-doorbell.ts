import { DurableObject } from 'cloudflare:workers';

/**
 * One per deployment_hash: wakes the agent's waiting long-poll when a command is queued.
 * Postgres holds the commands; this object holds no state that matters if it is evicted.
 */
export class DeploymentDoorbell extends DurableObject {
  override async fetch(): Promise<Response> {
    return new Response(null, { status: 204 });
  }
}
