import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { ApiError } from '../../functions/errors.ts';
import { parseImageReference, verifyImages, type DockerHubDeps } from '../../functions/services/dockerhub.ts';
import { PRIVATE_NAMESPACE, PRIVATE_PASSWORD } from '../stubs/dockerhub.ts';

const hub: DockerHubDeps = { baseUrl: env.DOCKERHUB_URL, enabled: true };

async function failure(promise: Promise<unknown>): Promise<ApiError> {
  const error = await promise.then(() => undefined, (caught: unknown) => caught);
  expect(error).toBeInstanceOf(ApiError);
  return error as ApiError;
}

async function hits(image: string): Promise<number> {
  const response = await fetch(`${inject('dockerHubStubUrl')}/hits?image=${encodeURIComponent(image)}`);
  return ((await response.json()) as { hits: number }).hits;
}

describe('parseImageReference', () => {
  it('splits official, vendor and tagged images, and leaves other registries alone', () => {
    expect(parseImageReference('nginx')).toEqual({ namespace: 'library', repository: 'nginx', tag: 'latest' });
    expect(parseImageReference('mysql:8.1')).toEqual({ namespace: 'library', repository: 'mysql', tag: '8.1' });
    expect(parseImageReference('trydirect/nginx-waf:1.2')).toEqual({ namespace: 'trydirect', repository: 'nginx-waf', tag: '1.2' });
    expect(parseImageReference('ghcr.io/owner/app:1')).toBeUndefined();
    expect(parseImageReference('localhost:5000/app')).toBeUndefined();
    expect(parseImageReference('Trydirect/Nginx')).toBe('invalid');
    expect(parseImageReference('a/b/c')).toBe('invalid');
    expect(parseImageReference('nginx:')).toBe('invalid');
  });
});

describe('verifyImages against Docker Hub', () => {
  it('passes official, vendor and private (with credentials) images', async () => {
    await verifyImages(hub, [
      { path: 'custom.web.0', image: 'nginx:1.25' },
      { path: 'custom.web.1', image: 'trydirect/nginx-waf:1.2' },
      { path: 'custom.service.0', image: `${PRIVATE_NAMESPACE}/app:2`, username: PRIVATE_NAMESPACE, password: PRIVATE_PASSWORD },
      { path: 'custom.service.1', image: 'ghcr.io/owner/not-checked:1' },
    ]);
  });

  it('lists every unknown image with its path (400)', async () => {
    const error = await failure(
      verifyImages(hub, [
        { path: 'custom.web.0', image: 'nginx' },
        { path: 'custom.web.1', image: 'missing-thing:1' },
        { path: 'custom.service.0', image: 'trydirect/nonexistent' },
        { path: 'custom.service.1', image: `${PRIVATE_NAMESPACE}/app:2` },
      ]),
    );
    expect(error.status).toBe(400);
    expect(error.errors?.map((e) => e.path)).toEqual(['custom.web.1', 'custom.service.0', 'custom.service.1']);
    expect(error.message).toBe(`Docker images not found: missing-thing:1, trydirect/nonexistent, ${PRIVATE_NAMESPACE}/app:2`);
  });

  it('wrong private credentials are a 400 naming them, not a pass', async () => {
    const error = await failure(verifyImages(hub, [{ path: 'custom.web.0', image: `${PRIVATE_NAMESPACE}/app:3`, username: PRIVATE_NAMESPACE, password: 'wrong' }]));
    expect(error.status).toBe(400);
    expect(error.errors?.[0]?.message).toMatch(/with the given credentials/);
  });

  it('Docker Hub failing or unreachable is a 503 naming it, never a pass', async () => {
    const failing = await failure(verifyImages(hub, [{ path: 'custom.web.0', image: 'unreachable-app:1' }]));
    expect(failing.status).toBe(503);
    expect(failing.message).toMatch(/^Docker Hub is unavailable/);
    const down = await failure(verifyImages({ baseUrl: 'http://127.0.0.1:9', enabled: true, timeoutMs: 2_000 }, [{ path: 'custom.web.0', image: 'nginx' }]));
    expect(down.status).toBe(503);
  });

  it('an invalid reference is a 400 before any lookup', async () => {
    const error = await failure(verifyImages(hub, [{ path: 'custom.web.0', image: 'Bad Image' }]));
    expect(error.status).toBe(400);
    expect(error.errors).toEqual([{ path: 'custom.web.0', message: '"Bad Image" is not a valid Docker image reference' }]);
  });

  it('remembers answers for 10 minutes', async () => {
    const image = `cachedapp${crypto.randomUUID().slice(0, 8)}:1`;
    let now = Date.now();
    const deps = { ...hub, now: () => now };
    await verifyImages(deps, [{ path: 'a', image }]);
    await verifyImages(deps, [{ path: 'a', image }]);
    expect(await hits(`library/${image}`)).toBe(1);
    now += 10 * 60_000 + 1;
    await verifyImages(deps, [{ path: 'a', image }]);
    expect(await hits(`library/${image}`)).toBe(2);
  });

  it('remembers an answer per credential: a wrong password after a right one is still refused', async () => {
    const image = `${PRIVATE_NAMESPACE}/cred${crypto.randomUUID().slice(0, 8)}:1`;
    await verifyImages(hub, [{ path: 'a', image, username: PRIVATE_NAMESPACE, password: PRIVATE_PASSWORD }]);
    const error = await failure(verifyImages(hub, [{ path: 'a', image, username: PRIVATE_NAMESPACE, password: 'guess' }]));
    expect(error.status).toBe(400);
  });

  it('checks nothing when DOCKERHUB_CHECK is off', async () => {
    await verifyImages({ baseUrl: 'http://127.0.0.1:9', enabled: false }, [{ path: 'a', image: 'missing-x' }]);
  });
});
