// The pages of the Worker as a person sees them, on the `npm start` shared with stacker-cli.test.ts: the API
// reference and the dashboard. /docs opened in headless Chromium (tests/helpers/browser.ts) through playwright-core, the reference rendered from
// /openapi.json, and not one request to any host but 127.0.0.1 (the page must work with no internet).
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { launchBrowser, openDashboardPage, signIn, type Browser } from '../helpers/browser.ts';
import { NodeAgent } from '../helpers/node-agent.ts';
import { validateCompose } from '../helpers/compose-schema.ts';
import { signInAtDevProvider } from '../../scripts/dev-openid-provider.ts';
import { readLocalRun } from '../../scripts/local-run.ts';
import { sharedLocalService, type SharedStart } from './shared-start.ts';

const SCREENSHOT = join(tmpdir(), 'stacker-screenshots', 'docs.png');
const SCREENSHOTS = join(tmpdir(), 'stacker-screenshots', 'dashboard');

const downloads = mkdtempSync(join(tmpdir(), 'stacker-browser-pages-'));
let service: SharedStart | undefined;
let browser: Browser | undefined;

beforeAll(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  // The deploy journeys below go through the install-service stand-in (npm start's built-in engine is the
  // default); the npm start is shared with stacker-cli.test.ts (tests/node/shared-start.ts).
  service = await sharedLocalService('install-service');
}, 150_000);

afterAll(async () => {
  await browser?.close();
  rmSync(downloads, { recursive: true, force: true });
}, 60_000);

/** In the page: whether RapiDoc's shadow root holds `text` yet (a function for waitForFunction; the test's TypeScript knows no DOM). */
function rapiDocShows(text: string): boolean {
  const page = globalThis as unknown as { document: { querySelector(selector: string): { shadowRoot: { textContent: string | null } | null } | null } };
  return page.document.querySelector('rapi-doc')?.shadowRoot?.textContent?.includes(text) === true;
}

describe('the API reference at /docs', () => {
  it('renders /openapi.json in headless Chromium, loading nothing from any host but 127.0.0.1', async () => {
    const base = `http://127.0.0.1:${service!.port}`;
    const document = (await (await fetch(`${base}/openapi.json`)).json()) as {
      info: { title: string };
      paths: Record<string, Record<string, { summary?: string }>>;
    };
    // A few operations from the start, the middle and the end of the document. RapiDoc names each one
    // `<method>-<path>`, with the characters of its invalidCharsRegEx (spaces, #:?&={}) made dashes.
    const operations = Object.entries(document.paths)
      .flatMap(([path, item]) => Object.entries(item).map(([method, operation]) => ({ id: `${method}-${path.replace(/[\s#:?&={}]/g, '-')}`, path, summary: operation.summary })))
      .filter((operation): operation is { id: string; path: string; summary: string } => typeof operation.summary === 'string');
    expect(operations.length).toBeGreaterThan(3);
    const expected = [...new Set([operations[0]!, operations[1]!, operations[Math.floor(operations.length / 2)]!, operations.at(-1)!])];

    browser = await launchBrowser({ viewport: { width: 1400, height: 900 } });
    const requests: string[] = [];
    const problems: string[] = [];
    browser.context.on('request', (request) => requests.push(request.url()));
    const page = browser.context.pages()[0] ?? (await browser.context.newPage());
    page.on('websocket', (socket) => requests.push(socket.url()));
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console error: ${message.text()}`); // CSP violations land here
    });

    const response = await page.goto(`${base}/docs`);
    expect(response?.status()).toBe(200);

    // The reference opens on the document's title, with every operation listed by its summary beside it.
    await page.waitForFunction(rapiDocShows, document.info.title, { polling: 100, timeout: 60_000 });
    const reference = page.locator('rapi-doc');
    for (const operation of expected) {
      const link = reference.locator(`[data-content-id="${operation.id}"]`);
      await link.waitFor({ state: 'visible' });
      expect((await link.innerText()).replace(/\s+/g, ' ').trim()).toBe(operation.summary);
    }
    // Choosing one shows it: its summary as the heading, its path, and its responses.
    const chosen = expected.at(-1)!;
    await reference.locator(`[data-content-id="${chosen.id}"]`).click();
    const shownOperation = reference.locator(`[id="${chosen.id}"]`);
    await shownOperation.getByRole('heading', { name: chosen.summary, exact: true }).waitFor({ state: 'visible' });
    // Its responses beside it, by status (RapiDoc's api-response element), the 200 first.
    await reference.locator('api-response').getByRole('button', { name: '200', exact: true }).waitFor({ state: 'visible' });
    const shownText = (await shownOperation.innerText()).replace(/\s+/g, ' ');
    expect(shownText).toContain(chosen.path);
    await page.screenshot({ path: SCREENSHOT });
    console.log(`screenshot of /docs (${browser.picked.source} Chromium): ${SCREENSHOT}`);

    expect(requests).toContain(`${base}/openapi.json`); // the page really rendered the served document
    const foreign = requests.filter((url) => {
      const { protocol, hostname } = new URL(url);
      return !(protocol === 'data:' || protocol === 'blob:' || hostname === '127.0.0.1');
    });
    expect(foreign, 'requests to hosts other than 127.0.0.1').toEqual([]);
    expect(problems).toEqual([]);
  }, 180_000);

  it('serves the page under a policy that allows only its own origin, and its script with a validator', async () => {
    const base = `http://127.0.0.1:${service!.port}`;
    const page = await fetch(`${base}/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const policy = page.headers.get('content-security-policy') ?? '';
    expect(policy).toContain("default-src 'none'");
    expect(policy).toContain("script-src 'self'");
    expect(policy).toContain("connect-src 'self'");
    const html = await page.text();
    const src = /<script type="module" src="([^"]+)"/.exec(html)?.[1];
    expect(src).toMatch(/^\/docs\/rapidoc\.js\?v=/);

    const script = await fetch(`${base}${src}`);
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toMatch(/^text\/javascript/);
    const etag = script.headers.get('etag');
    expect(etag).toBeTruthy();
    expect((await script.text()).length).toBeGreaterThan(100_000);
    const again = await fetch(`${base}${src}`, { headers: { 'If-None-Match': etag! } });
    expect(again.status).toBe(304);
  }, 30_000);
});

// The dashboard as a person uses it, on the same npm start: sign-in through the development OpenID
// provider's form (code + PKCE), a stack built from three catalog apps and an own image, an
// environment variable changed in the raw .env view, the compose seen to change and downloaded, a
// cloud key added and shown masked, an API client created (its secret shown once and copied), sign-out.
// A screenshot of each page.
describe('the dashboard in a browser', () => {
  it('signs in, builds a stack, edits its .env, downloads its compose, adds a cloud key and an API client, signs out', async () => {
    browser ??= await launchBrowser({ viewport: { width: 1280, height: 800 } });
    const base = `http://127.0.0.1:${service!.port}`;
    await browser.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
    const page = await browser.context.newPage();
    await page.setViewportSize({ width: 1280, height: 800 });
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console error: ${message.text()}`);
    });
    page.on('dialog', (dialog) => void dialog.accept());
    const shot = (name: string) => page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
    const notice = (text: string | RegExp) => page.getByRole('status').filter({ hasText: text }).waitFor();

    await page.goto(`${base}/`);
    await shot('1-welcome');
    await page.getByRole('main').getByRole('button', { name: 'Sign in' }).click();
    await page.getByLabel('User name').fill('dana');
    await page.getByLabel('Role').selectOption('user');
    await shot('2-provider');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${base}/projects`);
    expect(await page.getByText('Signed in as dana').isVisible()).toBe(true);
    expect(await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Admin' }).count()).toBe(0);
    await shot('3-projects');

    // A project, three catalog apps, one own image.
    await page.getByLabel('Project name').fill('shop-stack');
    await page.getByRole('button', { name: 'Create project' }).click();
    await notice('Project “shop-stack” created');
    for (const [code, name] of [['nginx', 'Nginx'], ['postgres', 'PostgreSQL'], ['redis', 'Redis']]) {
      await page.getByLabel('App', { exact: true }).selectOption(code!);
      await page.getByRole('button', { name: 'Add app' }).click();
      await notice(`${name} added as service “${code}”`);
    }
    await page.getByLabel('Docker image').fill('acme/storefront:2.1');
    await page.getByLabel('Name (optional)').fill('storefront');
    await page.getByRole('button', { name: 'Add container' }).click();
    await notice('storefront added as service “storefront”');
    expect(await page.getByRole('heading', { name: 'Apps (4)' }).isVisible()).toBe(true);
    const compose = page.locator('#compose-yaml');
    // The catalog's password is generated and kept apart: the compose names it (issue 28).
    expect(await compose.textContent()).toContain('POSTGRES_PASSWORD: ${POSTGRES_PASSWORD}');
    await shot('4-builder');

    // The raw .env view replaces the app's environment.
    await page.getByRole('button', { name: 'Edit PostgreSQL' }).click();
    await page.getByText('Edit the environment as a .env file').click();
    const envFile = page.getByLabel('.env', { exact: true });
    const before = await envFile.inputValue();
    expect(before).toContain('POSTGRES_PASSWORD="${POSTGRES_PASSWORD}"');
    await envFile.fill(before.replace('POSTGRES_PASSWORD="${POSTGRES_PASSWORD}"', 'POSTGRES_PASSWORD=shop-db-pass'));
    await shot('5-app-env');
    await page.getByRole('button', { name: 'Save .env' }).click();
    await notice('Environment replaced: 3 variables.');
    await page.getByRole('link', { name: 'shop-stack' }).click();
    await page.waitForURL(/\/projects\/\d+$/);
    const changed = await compose.textContent();
    // A password typed in becomes the secret the variable named: the compose still names it, never shows it.
    expect(changed).toContain('POSTGRES_PASSWORD: ${POSTGRES_PASSWORD}');
    expect(changed).not.toContain('shop-db-pass');
    await page.locator('#compose-title').scrollIntoViewIfNeeded();
    await shot('6-compose');

    // The download is the compose the page shows, and a valid Compose file.
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download docker-compose.yml' }).click()]);
    const saved = join(downloads, 'downloaded-compose.yml');
    await download.saveAs(saved);
    const downloaded = parseYaml(readFileSync(saved, 'utf8')) as { services: Record<string, { image: string; environment?: Record<string, string> }> };
    expect(validateCompose(downloaded), JSON.stringify(validateCompose.errors)).toBe(true);
    expect(Object.keys(downloaded.services).sort()).toEqual(['nginx', 'postgres', 'redis', 'storefront']);
    expect(downloaded.services.storefront!.image).toBe('acme/storefront:2.1');
    expect(downloaded.services.postgres!.environment?.POSTGRES_PASSWORD).toBe('${POSTGRES_PASSWORD}');
    expect(parseYaml(changed!)).toEqual(downloaded);

    // A cloud key: listed masked, its secret nowhere in the page.
    const cloudToken = 'hcloud-token-0123456789abcdef';
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Cloud keys' }).click();
    await page.getByLabel('Provider').selectOption('htz');
    await page.getByLabel('API token').fill(cloudToken);
    await page.getByRole('button', { name: 'Save key' }).click();
    await page.getByRole('status').waitFor();
    const keysHtml = await page.content();
    expect(keysHtml).not.toContain(cloudToken);
    expect(await page.locator('code.secret').first().textContent()).toMatch(/\*{4}/);
    await shot('7-cloud-keys');

    // An API client: the secret shown once, copied with the button.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'API clients' }).click();
    await page.getByRole('button', { name: 'Create API client' }).click();
    const secret = (await page.locator('#new-client-secret').textContent())!.trim();
    expect(secret.length).toBeGreaterThan(20);
    await page.locator('button[data-copy="new-client-secret"]').click();
    await page.locator('button[data-copy="new-client-secret"]', { hasText: 'Copied' }).waitFor();
    // Read in the page: the test's TypeScript knows no DOM, so the script is a string.
    expect(await page.evaluate('navigator.clipboard.readText()')).toBe(secret);
    await shot('8-api-client');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'API clients' }).click();
    expect(await page.content()).not.toContain(secret);

    for (const [section, heading, name] of [['Servers', 'Servers', '9-servers'], ['Ratings', 'Ratings', '10-ratings']]) {
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: section! }).click();
      await page.getByRole('heading', { name: heading!, exact: true }).waitFor();
      await shot(name!);
    }

    console.log(`screenshots of the dashboard (${browser.picked.source} Chromium): ${SCREENSHOTS}`);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${base}/`);
    // The session is over on the server too: the projects page sends the browser to sign in again.
    const again = await page.request.get(`${base}/projects`, { maxRedirects: 0 });
    expect(again.status()).toBe(303);
    expect(again.headers().location).toBe('/login');
    expect(problems).toEqual([]);
  }, 180_000);

  it('shows an admin every user’s projects, the catalog and the API clients; the Admin link only for admins', async () => {
    browser ??= await launchBrowser({ viewport: { width: 1280, height: 800 } });
    const base = `http://127.0.0.1:${service!.port}`;
    // A new person at the same browser: no session at the provider or the Worker.
    await browser.context.clearCookies();
    const page = await browser.context.newPage();
    await signIn(page, base, 'ada', 'admin');
    const main = page.getByRole('navigation', { name: 'Main' });
    await main.getByRole('link', { name: 'Admin' }).click();
    await page.screenshot({ path: join(SCREENSHOTS, '11-admin.png'), fullPage: true });
    for (const [path, name, text] of [
      ['/admin/projects', '12-admin-projects', 'shop-stack'],
      ['/admin/catalog', '13-admin-catalog', 'PostgreSQL'],
      ['/admin/clients', '14-admin-clients', 'dana'],
    ]) {
      await page.goto(`${base}${path}`);
      await page.getByRole('main').getByText(text!, { exact: true }).first().waitFor();
      await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
    }
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${base}/`);
  }, 120_000);

  // Deploying from the dashboard to the local install-service stand-in (scripts/local-services.ts: the
  // steps server, docker and stack about a second apart): the checklist follows live, a reload midway
  // shows the log once and follows on, and a second deployment is cancelled from its page.
  it('deploys a stack from its page, follows it live through a reload to completed, and cancels another', async () => {
    browser ??= await launchBrowser({ viewport: { width: 1280, height: 800 } });
    const base = `http://127.0.0.1:${service!.port}`;
    await browser.context.clearCookies();
    const { page, problems, shot, notice } = await openDashboardPage(browser.context, SCREENSHOTS);
    const status = page.locator('[data-deployment-status]');
    const step = (name: string, state: string) => page.locator(`[data-deployment-steps] li[data-step="${name}"][data-state="${state}"]`);
    /** The log's rows: their seq and message, in the order shown. */
    const logLines = async () => {
      const rows = page.locator('[data-deployment-log] tr');
      const lines: Array<{ seq: string | null; message: string }> = [];
      for (let i = 0; i < (await rows.count()); i++) lines.push({ seq: await rows.nth(i).getAttribute('data-seq'), message: ((await rows.nth(i).locator('td.log-message').textContent()) ?? '').trim() });
      return lines;
    };
    const expectEachOnce = (lines: Array<{ seq: string | null; message: string }>) => {
      expect(lines.map((l) => Number(l.seq))).toEqual(lines.map((_, i) => i + 1));
      expect(new Set(lines.map((l) => l.message)).size, JSON.stringify(lines)).toBe(lines.length);
    };

    await signIn(page, base, 'erin');

    // A project with a catalog app, and a cloud key.
    await page.getByLabel('Project name').fill('deploy-stack');
    await page.getByRole('button', { name: 'Create project' }).click();
    await notice('Project “deploy-stack” created');
    const projectPath = new URL(page.url()).pathname;
    await page.getByLabel('App', { exact: true }).selectOption('nginx');
    await page.getByRole('button', { name: 'Add app' }).click();
    await notice('Nginx added as service “nginx”');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Cloud keys' }).click();
    await page.getByLabel('Provider').selectOption('htz');
    const cloudToken = 'hcloud-deploy-token-0123456789abcdef';
    await page.getByLabel('API token').fill(cloudToken);
    await page.getByRole('button', { name: 'Save key' }).click();
    await page.getByRole('status').waitFor();

    // The deploy form, from the project's Deploy section.
    await page.goto(`${base}${projectPath}`);
    await page.getByText('Not deployed yet.').waitFor();
    await page.getByRole('button', { name: 'Deploy this stack' }).click();
    await page.waitForURL(`${base}${projectPath}/deploy`);
    expect(await page.content()).not.toContain(cloudToken);
    expect(await page.getByLabel('Cloud key').locator('option').first().textContent()).toMatch(/^Hetzner Cloud \(htz\) · hclo\*{4} · key \d+$/);
    await page.getByLabel('Server type').fill('cx22');
    await page.getByLabel('Region').fill('fsn1');
    await page.getByLabel('Operating system').fill('ubuntu-24.04');
    await shot('15-deploy-form');
    await page.getByRole('button', { name: 'Deploy', exact: true }).click();
    await page.waitForURL(/\/deployments\/\d+$/);
    const firstUrl = page.url();
    await page.locator('[data-live-status]', { hasText: 'Live' }).waitFor();

    // Midway: the first step has shown; the page is reloaded and goes on from its log.
    await page.locator('[data-deployment-steps] li[data-step="server"]').waitFor();
    await shot('16-deployment-live');
    await page.reload();
    await page.locator('[data-deployment-steps] li[data-step="server"]').waitFor();
    expectEachOnce(await logLines());
    await page.locator('[data-live-status]', { hasText: 'Live' }).waitFor();
    await status.filter({ hasText: 'completed' }).waitFor({ timeout: 30_000 });
    for (const name of ['server', 'docker', 'stack']) await step(name, 'done').waitFor();
    const final = await logLines();
    expectEachOnce(final);
    expect(final.map((l) => l.message)).toEqual([
      'Queued for the install service',
      'Creating the server (local stand-in: nothing is created)',
      'Installing Docker',
      'Starting the stack',
      'Deployed',
    ]);
    expect(await page.locator('[data-deployment-progress]').getAttribute('value')).toBe('100');
    await page.locator('[data-deployment-reason]', { hasText: 'Deployed' }).waitFor();
    expect(await page.getByRole('button', { name: 'Cancel deployment' }).count()).toBe(0);
    // Reloaded at the end: the same log, each line once.
    await page.reload();
    expect(await logLines()).toEqual(final);
    await shot('17-deployment-completed');

    // Again, and cancelled from its page right after it started (it may have taken a step by then).
    await page.goto(`${base}${projectPath}`);
    await page.getByRole('button', { name: 'Deploy this stack' }).click();
    expect(await page.getByLabel('Region').inputValue()).toBe('fsn1');
    await page.getByRole('button', { name: 'Deploy', exact: true }).click();
    await page.waitForURL(/\/deployments\/\d+$/);
    expect(page.url()).not.toBe(firstUrl);
    await page.getByRole('button', { name: 'Cancel deployment' }).click();
    await notice('Deployment cancelled.');
    await status.filter({ hasText: 'cancelled' }).waitFor();
    await page.locator('[data-deployment-reason]', { hasText: 'Cancelled by the user' }).waitFor();
    expect(await page.getByRole('button', { name: 'Cancel deployment' }).count()).toBe(0);
    const cancelledLog = await logLines();
    expectEachOnce(cancelledLog);
    expect(cancelledLog.at(-1)!.message).toBe('Cancelled by the user');
    await shot('18-deployment-cancelled');

    // The project lists both, newest first.
    await page.goto(`${base}${projectPath}`);
    const statuses = await page.locator('#deploy-title ~ table .deploy-status').allTextContents();
    expect(statuses).toEqual(['cancelled', 'completed']);
    expect(problems).toEqual([]);

    // A network that will not keep the stream open (here: every stream request fails): the page
    // falls back to the long-poll and still follows the deployment to its end, each line once.
    await page.route(/\/events\?after=/, (route) => route.abort());
    await page.getByRole('button', { name: 'Deploy this stack' }).click();
    await page.getByRole('button', { name: 'Deploy', exact: true }).click();
    await page.waitForURL(/\/deployments\/\d+$/);
    await page.locator('[data-live-status]', { hasText: 'Live (polling)' }).waitFor();
    await status.filter({ hasText: 'completed' }).waitFor({ timeout: 30_000 });
    const polled = await logLines();
    expectEachOnce(polled);
    expect(polled.map((l) => l.message)).toEqual(final.map((l) => l.message));
    await page.unroute(/\/events\?after=/);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${base}/`);
  }, 180_000);

  // The agent console of a deployment (functions/dashboard/agent-console.tsx): the deployment is made
  // through the API for the signed-in user (a token from the development provider), its agent is a
  // Node stand-in that registers and long-polls as the real one does (tests/helpers/node-agent.ts);
  // the person opens the console, sees the agent, sends a command and watches its result arrive.
  it('opens a deployment’s agent console, sees the agent, sends a health command and sees its result arrive live', async () => {
    browser ??= await launchBrowser({ viewport: { width: 1280, height: 800 } });
    const base = `http://127.0.0.1:${service!.port}`;
    // The earlier journeys' tabs are closed: with their live pages they would follow (and read the
    // one-time notices of) this person's session, which shares their cookie jar.
    for (const open of browser.context.pages()) await open.close();
    await browser.context.clearCookies();
    const { page, problems, shot } = await openDashboardPage(browser.context, SCREENSHOTS);

    await signIn(page, base, 'omar');

    // Set-up through the API as the same user: a project, deployed to the local install-service stand-in.
    const issuer = readLocalRun(service!.dataDir)?.services.OAUTH_ISSUER;
    expect(issuer).toBeDefined();
    const token = await signInAtDevProvider(issuer!, { name: 'omar', role: 'user' });
    const asOmar = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const fixture = (name: string) => readFileSync(join(import.meta.dirname, '..', 'fixtures', 'reference-payloads', name), 'utf8');
    const created = await fetch(`${base}/project`, { method: 'POST', headers: asOmar, body: fixture('custom-stack-payload.json') });
    expect(created.status).toBe(201);
    const projectId = ((await created.json()) as { item: { id: number } }).item.id;
    const deployed = await fetch(`${base}/project/${projectId}/deploy`, { method: 'POST', headers: asOmar, body: fixture('deploy2.json') });
    expect(deployed.status).toBe(202);
    const { deployment_id: deploymentId, deployment_hash: hash } = ((await deployed.json()) as { item: { deployment_id: number; deployment_hash: string } }).item;

    // The server's agent registers and polls once (its first heartbeat), then keeps polling; it runs
    // a command only when the test lets it, so the page is seen waiting before the result arrives.
    const agent = await NodeAgent.register(base, hash, { version: '0.2.1', capabilities: ['docker', 'compose', 'logs'] });
    expect(await agent.wait(1)).toBeNull();
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    const taken: string[] = [];
    let agentFailure: unknown;
    const daemon = agent.run(async (command) => {
      taken.push(command.type);
      await released;
      const appCode = String(command.parameters?.app_code ?? '');
      return { status: 'success', result: { app_code: appCode, status: 'ok', containers: [{ name: appCode, state: 'running', restarts: 0 }] } };
    });

    try {
      await page.goto(`${base}/projects/${projectId}/deployments/${deploymentId}/agent`);
      await page.getByRole('heading', { name: 'Agent console' }).waitFor();
      const panel = page.locator('#agent-panel');
      await panel.locator('.badge', { hasText: 'online' }).waitFor();
      await panel.getByText('0.2.1', { exact: true }).waitFor();
      expect(await panel.locator('code.chip').allTextContents()).toEqual(['docker', 'compose', 'logs']);
      await page.locator('[data-live-status]', { hasText: 'Live' }).waitFor();
      // The last heartbeat ticks in the page.
      const seen = page.locator('#agent-panel time[data-age-seconds]');
      const firstSeen = (await seen.textContent())!;
      expect(firstSeen).toMatch(/^seen \d+ s ago$/);
      await seen.filter({ hasNotText: new RegExp(`^${firstSeen}$`) }).filter({ hasText: /^seen \d+ s ago$/ }).waitFor();
      await shot('19-agent-console');

      // A health command from the form.
      expect(await page.getByLabel('Type', { exact: true }).inputValue()).toBe('health');
      await page.getByLabel('Parameters', { exact: true }).fill('{"app_code": "web"}');
      await page.getByRole('button', { name: 'Send command' }).click();
      await page.getByRole('status').filter({ hasText: /Command health queued \(cmd_/ }).waitFor();
      const row = page.locator('#agent-commands tr[data-command-id]').first();
      expect(await row.locator('strong').first().textContent()).toBe('health');
      // From here on the page is not reloaded: a mark on this document must survive to the end.
      await page.evaluate('window.__sameDocument = true');
      await row.locator('.badge', { hasText: 'sent' }).waitFor();
      await row.getByText('waiting for the agent').waitFor();

      release();
      await row.locator('.badge', { hasText: 'completed' }).waitFor();
      await row.locator('pre.json code', { hasText: '"status": "ok"' }).waitFor();
      expect(taken).toEqual(['health']);
      expect(await row.locator('td.result pre.json code').textContent()).toContain('"state": "running"');
      // The agent's status report for the app reaches the panel too.
      await panel.locator('tr', { hasText: 'web' }).locator('.badge', { hasText: 'running' }).waitFor();
      expect(await page.evaluate('window.__sameDocument')).toBe(true);
      expect(await row.getByRole('button', { name: 'Cancel' }).count()).toBe(0);
      await shot('20-agent-result');
    } finally {
      release();
      // After the page's checks: a failed poll or report fails the test, but never hides their own failure.
      agentFailure = await daemon.stop().then(
        () => undefined,
        (error: unknown) => error,
      );
    }
    expect(agentFailure).toBeUndefined();
    expect(await page.content()).not.toContain(token);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${base}/`);
    expect(problems).toEqual([]);
  }, 120_000);
});
