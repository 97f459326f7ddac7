import { env } from 'cloudflare:test';
import { inject } from 'vitest';
import { hmacSha256Hex } from '../../functions/services/crypto.ts';
import { signLikeQStash } from '../../functions/services/queue.ts';
import type { Delivery } from '../stubs/install-service.ts';
import { apiWith } from './api.ts';
import { api, bearerFor, jsonRequest } from './auth.ts';
import { projectForms } from './fixtures.ts';

export interface ProjectRef {
  id: number;
  userId: string;
}

export async function createProjectFor(userId: string, form = projectForms[2]!.body): Promise<ProjectRef> {
  const response = await api('/project', jsonRequest('POST', form, bearerFor('group_user', userId)));
  if (response.status !== 201) throw new Error(`POST /project answered ${response.status}: ${await response.text()}`);
  return { id: ((await response.json()) as { item: { id: number } }).item.id, userId };
}

/**
 * Sends a request through the app with its own execution context, and waits for the work it left
 * running (the background publish) before returning.
 */
export function requestAndSettle(path: string, init: RequestInit, overrides: Record<string, unknown> = {}): Promise<Response> {
  return apiWith(overrides, path, init);
}

export interface Started {
  message: string;
  id: number;
  item: { deployment_id: number; deployment_hash: string; status: string };
}

export async function deploy(project: ProjectRef, body: unknown, overrides: Record<string, unknown> = {}, path = `/project/${project.id}/deploy`) {
  const response = await requestAndSettle(path, jsonRequest('POST', body, bearerFor('group_user', project.userId)), overrides);
  return { status: response.status, body: (await response.json()) as Started & { message: string } };
}

export async function deliveriesOf(hash: string, acceptedAtLeast = 0): Promise<Delivery[]> {
  const response = await fetch(`${inject('installStubUrl')}/deliveries?deployment_hash=${hash}&accepted=${acceptedAtLeast}`);
  return ((await response.json()) as { deliveries: Delivery[] }).deliveries;
}

export type Signer = 'install' | 'upstash-current' | 'upstash-next' | 'none' | 'wrong';

export async function postProgress(message: Record<string, unknown>, options: { messageId?: string; signer?: Signer; raw?: string } = {}) {
  const body = options.raw ?? JSON.stringify(message);
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (options.messageId) headers['x-install-message-id'] = options.messageId;
  const signer = options.signer ?? 'install';
  if (signer === 'install') headers['x-install-signature'] = `sha256=${await hmacSha256Hex(env.INSTALL_WEBHOOK_SECRET, new TextEncoder().encode(body))}`;
  if (signer === 'wrong') headers['x-install-signature'] = `sha256=${await hmacSha256Hex('not-the-secret', new TextEncoder().encode(body))}`;
  if (signer === 'upstash-current') headers['upstash-signature'] = await signLikeQStash(env.QSTASH_CURRENT_SIGNING_KEY, 'https://stacker/webhooks/install', body);
  if (signer === 'upstash-next') headers['upstash-signature'] = await signLikeQStash(env.QSTASH_NEXT_SIGNING_KEY, 'https://stacker/webhooks/install', body);
  return requestAndSettle('/webhooks/install', { method: 'POST', headers, body });
}
