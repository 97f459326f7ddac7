// The dashboard's pages inside workerd: who sees what, sign-in refusals, CSRF.
import { describe, expect, it } from 'vitest';
import { BASE_URL } from '../helpers/api.ts';
import { api, apiWith, bearerFor, uniqueId } from '../helpers/auth.ts';
import { createProjectFor } from '../helpers/deploy.ts';
import { signedIn } from '../helpers/dashboard.ts';


describe('dashboard pages', () => {
  it('the start page offers sign-in; the projects page sends a visitor without a session to sign in', async () => {
    const start = await api('/');
    expect(start.status).toBe(200);
    expect(await start.text()).toContain('href="/login"');
    const projects = await api('/projects', { redirect: 'manual' });
    expect(projects.status).toBe(303);
    expect(projects.headers.get('location')).toBe('/login');
  });

  it('a signed-in user sees their own projects and never another user’s', async () => {
    const owner = uniqueId('dash');
    const other = uniqueId('dash');
    const created = await createProjectFor(owner);
    const name = ((await (await api(`/project/${created.id}`, { headers: bearerFor('group_user', owner) })).json()) as { item: { name: string } }).item.name;
    const page = await api('/projects', { headers: await signedIn(other) });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain(`Signed in as ${other}`);
    expect(html).toContain('No projects yet.');
    const own = await (await api('/projects', { headers: await signedIn(owner) })).text();
    expect(own).toContain(`>${name}</a>`);
    expect(await (await api(`/projects?q=${encodeURIComponent(name.slice(1, 4))}`, { headers: await signedIn(owner) })).text()).toContain(`>${name}</a>`);
    expect(await (await api('/projects?q=no-such-project-name', { headers: await signedIn(owner) })).text()).toContain('No project matches');
  });

  it('sign-out ends the session on the server; a form posted from another origin is refused', async () => {
    const headers = await signedIn(uniqueId('out'));
    const foreign = await api('/logout', { method: 'POST', headers: { ...headers, origin: 'https://evil.example', 'content-type': 'application/x-www-form-urlencoded' }, body: '' });
    expect(foreign.status).toBe(403);
    // A form post without Origin that the browser says came from another site: refused too, as a page.
    const crossSite = await api('/logout', { method: 'POST', headers: { ...headers, 'sec-fetch-site': 'cross-site', 'content-type': 'application/x-www-form-urlencoded' }, body: '' });
    expect(crossSite.status).toBe(403);
    expect(crossSite.headers.get('content-type')).toMatch(/^text\/html/);
    expect((await api('/projects', { headers, redirect: 'manual' })).status).toBe(200);
    const out = await api('/logout', { method: 'POST', headers: { ...headers, origin: BASE_URL, 'content-type': 'application/x-www-form-urlencoded' }, body: '', redirect: 'manual' });
    expect(out.status).toBe(303);
    expect((await api('/projects', { headers, redirect: 'manual' })).status).toBe(303);
  });

  it('a callback without the browser’s sign-in cookie is refused with a page that says why', async () => {
    const settings = { OAUTH_AUTHORIZE_URL: 'https://auth.example/authorize', OAUTH_TOKEN_URL: 'https://auth.example/token', OAUTH_CLIENT_ID: 'dash' };
    const response = await apiWith(settings, '/auth/callback?code=abc&state=xyz');
    expect(response.status).toBe(400);
    expect(await response.text()).toContain('this browser did not start a sign-in');
    const empty = await apiWith(settings, '/auth/callback');
    expect(empty.status).toBe(400);
    expect(await empty.text()).toContain('the provider sent neither a code and state nor an error');
    const refusedByProvider = await apiWith(settings, '/auth/callback?error=access_denied&error_description=User%20said%20no');
    expect(await refusedByProvider.text()).toContain('The provider did not sign you in. Start again from the sign-in page.');
    const login = await apiWith(settings, '/login', { redirect: 'manual' });
    expect(login.status).toBe(303);
    const location = new URL(login.headers.get('location')!);
    expect(location.origin + location.pathname).toBe('https://auth.example/authorize');
    expect(location.searchParams.get('code_challenge_method')).toBe('S256');
    expect(login.headers.get('set-cookie')).toMatch(/stacker_sign_in=.*HttpOnly/);
  });

  it('sign-in that is not configured answers 503 naming the settings', async () => {
    const response = await apiWith({ OAUTH_AUTHORIZE_URL: undefined, OAUTH_TOKEN_URL: undefined, OAUTH_CLIENT_ID: undefined }, '/login');
    expect(response.status).toBe(503);
    expect(await response.text()).toContain('OAUTH_AUTHORIZE_URL, OAUTH_TOKEN_URL, OAUTH_CLIENT_ID must be set');
  });

  it('pages have the API’s per-user rate limit, answered with a page that says when to retry', async () => {
    const headers = await signedIn(uniqueId('rate'));
    const limits = { RATE_LIMIT_USER_PER_MINUTE: 2 };
    expect((await apiWith(limits, '/projects', { headers })).status).toBe(200);
    expect((await apiWith(limits, '/projects', { headers })).status).toBe(200);
    const refused = await apiWith(limits, '/projects', { headers });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('content-type')).toMatch(/^text\/html/);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await refused.text()).toContain('Too many requests: this user may send 2 per minute');
  });
});

