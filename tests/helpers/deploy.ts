import { env } from 'cloudflare:test';
import { inject } from 'vitest';
import { hmacSha256Hex } from '../../functions/services/crypto.ts';
import { signLikeQStash } from '../../functions/services/queue.ts';
import type { Delivery } from '../stubs/install-service.ts';
import { apiWith, BASE_URL } from './api.ts';
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

/** Where the tests' Worker receives webhooks: the URL a QStash signature must name. */
export const WEBHOOK_URL = `${BASE_URL}/webhooks/install`;

/**
 * X-Install-Signature as the install service sends it: t=<unix seconds>,v1=<hex HMAC-SHA256 of
 * "<t>.<body>" with the secret>. Computed here, apart from the service's own code.
 */
export async function installSignature(secret: string, body: string | Uint8Array, t = Math.floor(Date.now() / 1000)): Promise<string> {
  const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : body;
  const prefix = new TextEncoder().encode(`${t}.`);
  const message = new Uint8Array(prefix.length + bytes.length);
  message.set(prefix);
  message.set(bytes, prefix.length);
  return `t=${t},v1=${await hmacSha256Hex(secret, message)}`;
}

/** The headers of a progress message signed by `signer` (and its message id header, if given). */
export async function progressHeaders(body: string, options: { messageId?: string; signer?: Signer; t?: number; url?: string } = {}): Promise<Record<string, string>> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (options.messageId) headers['x-install-message-id'] = options.messageId;
  const signer = options.signer ?? 'install';
  if (signer === 'install') headers['x-install-signature'] = await installSignature(env.INSTALL_WEBHOOK_SECRET, body, options.t);
  if (signer === 'wrong') headers['x-install-signature'] = await installSignature('not-the-secret', body, options.t);
  if (signer === 'upstash-current') headers['upstash-signature'] = await signLikeQStash(env.QSTASH_CURRENT_SIGNING_KEY, options.url ?? WEBHOOK_URL, body);
  if (signer === 'upstash-next') headers['upstash-signature'] = await signLikeQStash(env.QSTASH_NEXT_SIGNING_KEY, options.url ?? WEBHOOK_URL, body);
  return headers;
}

export async function postProgress(message: Record<string, unknown>, options: { messageId?: string; signer?: Signer; raw?: string; t?: number; url?: string } = {}) {
  const body = options.raw ?? JSON.stringify(message);
  return requestAndSettle('/webhooks/install', { method: 'POST', headers: await progressHeaders(body, options), body });
}
