import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { exports } from 'cloudflare:workers';
import { afterAll, beforeAll, expect, inject } from 'vitest';
import { createApp } from '../../functions/app.ts';
import type { RecordedResponse } from './leak-collector.ts';

export const BASE_URL = 'http://stacker.test';

/** Settings every request of the running file carries on top of the project's (settingsForFile). */
let fileSettings: Record<string, unknown> | undefined;

/**
 * Every request this file sends (api, apiWith, and the helpers built on them) sees these settings on
 * top of the project's: the deploy engine's files run with DEPLOY_ENGINE=builtin in the same workerd
 * as the rest. Such a file's requests all go through apiWith's app (the Worker's fetch handler cannot
 * take other settings), so each also waits for the work it leaves (waitUntil). Files of a worker run
 * one after another, so the settings are set before this file's tests and removed after them.
 */
export function settingsForFile(settings: Record<string, unknown>): void {
  beforeAll(() => {
    fileSettings = settings;
  });
  afterAll(() => {
    fileSettings = undefined;
  });
}

/** Sends a request to the Worker under test through its real fetch handler. */
export async function api(path: string, init?: RequestInit): Promise<Response> {
  if (fileSettings) return apiWith({}, path, init);
  const request = new Request(`${BASE_URL}${path}`, init);
  return recorded(request, await exports.default.fetch(request));
}

let sharedApp: ReturnType<typeof createApp> | undefined;

/**
 * Sends a request to the same app with some settings changed (a dependency pointed at a closed port,
 * a low rate limit, another database, a setting removed with `undefined`), and waits for the work it
 * leaves behind (waitUntil).
 */
export function apiWith(overrides: Record<string, unknown>, path: string, init?: RequestInit): Promise<Response> {
  // One app for all of them: it reads its settings from each request's env, and building it (every
  // route's router and schemas) costs more CPU than most requests.
  sharedApp ??= createApp();
  return apiOf(sharedApp, path, init, { ...fileSettings, ...overrides });
}

/** What apiOf can send to: the app, or one a test has built itself (e.g. with test-only routes added). */
interface FetchHandler {
  fetch(request: Request, env: Record<string, unknown>, ctx: ExecutionContext): Response | Promise<Response>;
}

/** Like apiWith, to an app a test has built itself. */
export async function apiOf(app: FetchHandler, path: string, init?: RequestInit, overrides: Record<string, unknown> = {}): Promise<Response> {
  const ctx = createExecutionContext();
  const request = new Request(`${BASE_URL}${path}`, init);
  const response = await app.fetch(request, { ...env, ...overrides }, ctx);
  await waitOnExecutionContext(ctx);
  return recorded(request, response);
}

export function jsonRequest(method: string, body: unknown, headers: Record<string, string> = {}): RequestInit {
  return { method, body: JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } };
}

// Every response a test sees goes to the leak check (tests/helpers/leak-collector.ts), in batches:
// flushResponses runs after each test file (tests/helpers/leak-check-setup.ts).
const pending: RecordedResponse[] = [];
const FLUSH_AT = 500;

async function recorded(request: Request, response: Response): Promise<Response> {
  let body: string;
  try {
    body = await response.clone().text();
  } catch {
    body = ''; // the test cancelled the request: it saw no body either
  }
  const { testPath, currentTestName } = expect.getState();
  const file = testPath ? testPath.slice(testPath.lastIndexOf('/tests/') + 1) : '(unknown file)';
  pending.push({
    method: request.method,
    path: new URL(request.url).pathname,
    status: response.status,
    body,
    test: currentTestName ? `${file} > ${currentTestName}` : file,
  });
  if (pending.length >= FLUSH_AT) await flushResponses();
  return response;
}

export async function flushResponses(): Promise<void> {
  if (pending.length === 0) return;
  const batch = pending.splice(0);
  const response = await fetch(inject('leakCollectorUrl'), { method: 'POST', body: JSON.stringify(batch) });
  if (response.status !== 204) throw new Error(`the leak collector answered ${response.status}`);
}
