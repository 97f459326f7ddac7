// Checks that the images a project names exist on Docker Hub, before they are saved or deployed.
import { ApiError, type FieldError } from '../errors.ts';
import { sha256Hex } from './crypto.ts';

export interface DockerHubDeps {
  /** API base, e.g. https://hub.docker.com (DOCKERHUB_URL). */
  baseUrl: string;
  /** false when DOCKERHUB_CHECK=off (air-gapped installs). */
  enabled: boolean;
  timeoutMs?: number;
  now?: () => number;
}

export interface ImageToCheck {
  /** Where the image was named in the request, e.g. custom.web.0 */
  path: string;
  /** The image reference as compose will use it, e.g. trydirect/nginx-waf:1.2 */
  image: string;
  /** The service that runs it, named in the messages. */
  service?: string;
  username?: string | null;
  password?: string | null;
}

export interface ImageReference {
  namespace: string;
  repository: string;
  tag: string;
}

type Outcome = 'found' | 'missing' | 'unreachable';

export const DOCKERHUB_CACHE_TTL_MS = 10 * 60_000;
const DEFAULT_TIMEOUT_MS = 5_000;

// Per isolate: answers per image (and whether credentials were used), kept for 10 minutes.
const answers = new Map<string, { outcome: Exclude<Outcome, 'unreachable'>; expiresAt: number }>();

/**
 * Splits an image reference into Docker Hub namespace, repository and tag. Returns undefined for
 * images of another registry (a first component with a dot or a port, or localhost): those cannot
 * be checked here.
 */
export function parseImageReference(image: string): ImageReference | undefined | 'invalid' {
  const withoutDigest = image.split('@')[0] ?? '';
  const slash = withoutDigest.lastIndexOf('/');
  const colon = withoutDigest.lastIndexOf(':');
  const hasTag = colon > slash;
  const name = hasTag ? withoutDigest.slice(0, colon) : withoutDigest;
  const tag = hasTag ? withoutDigest.slice(colon + 1) : 'latest';
  const parts = name.split('/');
  if (parts.length > 1 && (/[.:]/.test(parts[0]!) || parts[0] === 'localhost')) return undefined;
  const component = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/;
  if (parts.length > 2 || !parts.every((part) => component.test(part)) || !/^[\w][\w.-]{0,127}$/.test(tag)) return 'invalid';
  return parts.length === 1
    ? { namespace: 'library', repository: parts[0]!, tag }
    : { namespace: parts[0]!, repository: parts[1]!, tag };
}

async function request(url: string, init: RequestInit, timeoutMs: number): Promise<Response | undefined> {
  try {
    return await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  } catch {
    return undefined;
  }
}

async function login(deps: DockerHubDeps, username: string, password: string, timeoutMs: number): Promise<{ token: string } | Outcome> {
  const response = await request(
    `${deps.baseUrl}/v2/users/login`,
    { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify({ username, password }) },
    timeoutMs,
  );
  if (!response) return 'unreachable';
  if (response.status === 401 || response.status === 403) {
    await response.body?.cancel();
    return 'missing';
  }
  if (!response.ok) {
    await response.body?.cancel();
    return 'unreachable';
  }
  const body = (await response.json().catch(() => undefined)) as { token?: unknown } | undefined;
  return typeof body?.token === 'string' ? { token: body.token } : 'unreachable';
}

async function lookUp(deps: DockerHubDeps, reference: ImageReference, check: ImageToCheck): Promise<Outcome> {
  const timeoutMs = deps.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const headers: Record<string, string> = { accept: 'application/json' };
  if (check.username && check.password) {
    const session = await login(deps, check.username, check.password, timeoutMs);
    if (typeof session === 'string') return session;
    headers.authorization = `Bearer ${session.token}`;
  }
  const { namespace, repository, tag } = reference;
  const url = `${deps.baseUrl}/v2/namespaces/${namespace}/repositories/${repository}/tags/${encodeURIComponent(tag)}`;
  const response = await request(url, { headers }, timeoutMs);
  if (!response) return 'unreachable';
  await response.body?.cancel();
  if (response.ok) return 'found';
  if (response.status === 404 || response.status === 401 || response.status === 403) return 'missing';
  return 'unreachable';
}

async function outcomeFor(deps: DockerHubDeps, check: ImageToCheck, reference: ImageReference): Promise<Outcome> {
  const now = deps.now?.() ?? Date.now();
  // Answers with credentials are remembered per credential (by hash): another password must be checked again.
  const credential = check.username && check.password ? await sha256Hex(`${check.username}\n${check.password}`) : 'anonymous';
  const key = `${deps.baseUrl}|${check.image}|${credential}`;
  const cached = answers.get(key);
  if (cached && cached.expiresAt > now) return cached.outcome;
  const outcome = await lookUp(deps, reference, check);
  if (outcome !== 'unreachable') answers.set(key, { outcome, expiresAt: now + DOCKERHUB_CACHE_TTL_MS });
  return outcome;
}

const serviceOf = (check: ImageToCheck) => (check.service ? `service "${check.service}": ` : '');

/**
 * Checks every image at once. Unknown images: 400 naming each. Docker Hub unreachable: 503 naming it
 * (never a silent pass). Images of other registries are not checked.
 */
export async function verifyImages(deps: DockerHubDeps, images: ImageToCheck[]): Promise<void> {
  if (!deps.enabled || images.length === 0) return;
  const invalid: FieldError[] = [];
  const checks: Array<Promise<{ check: ImageToCheck; outcome: Outcome }>> = [];
  for (const check of images) {
    const reference = parseImageReference(check.image);
    if (reference === 'invalid') invalid.push({ path: check.path, message: `${serviceOf(check)}"${check.image}" is not a valid Docker image reference` });
    else if (reference) checks.push(outcomeFor(deps, check, reference).then((outcome) => ({ check, outcome })));
  }
  if (invalid.length) throw new ApiError(400, `Invalid Docker image: ${invalid.map((e) => e.message).join('; ')}`, { errors: invalid });

  const results = await Promise.all(checks);
  if (results.some((result) => result.outcome === 'unreachable')) {
    throw new ApiError(503, 'Docker Hub is unavailable: images cannot be checked, try again later (or set DOCKERHUB_CHECK=off)');
  }
  const missing = results.filter((result) => result.outcome === 'missing');
  if (missing.length) {
    const errors = missing.map(({ check }) => ({
      path: check.path,
      message: `${serviceOf(check)}image ${check.image} was not found on Docker Hub${check.username && check.password ? ' with the given credentials' : ''}`,
    }));
    throw new ApiError(400, `Docker images not found: ${missing.map(({ check }) => check.image).join(', ')}`, { errors });
  }
}
