// The pages of the Worker as a person sees them, on one `npm start` (embedded database): the API
// reference and the dashboard. /docs opened in headless Chromium (tests/helpers/browser.ts) through playwright-core, the reference rendered from
// /openapi.json, and not one request to any host but 127.0.0.1 (the page must work with no internet).
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, type Browser } from '../helpers/browser.ts';
import { startLocalService, type RunningStart } from './helpers.ts';

const SCREENSHOT = join(tmpdir(), 'stacker-screenshots', 'docs.png');
const SCREENSHOTS = join(tmpdir(), 'stacker-screenshots', 'dashboard');

const dataDir = mkdtempSync(join(tmpdir(), 'stacker-docs-'));
let service: RunningStart | undefined;
let browser: Browser | undefined;

beforeAll(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  service = await startLocalService(dataDir);
}, 150_000);

afterAll(async () => {
  await browser?.close();
  await service?.stop();
  rmSync(dataDir, { recursive: true, force: true });
}, 60_000);

describe('the API reference at /docs', () => {
  it('renders /openapi.json in headless Chromium, loading nothing from any host but 127.0.0.1', async () => {
    const base = `http://127.0.0.1:${service!.port}`;
    const document = (await (await fetch(`${base}/openapi.json`)).json()) as {
      info: { title: string };
      paths: Record<string, Record<string, { summary?: string }>>;
    };
    // A few operations from the start, the middle and the end of the document, by their summary.
    const summaries = Object.values(document.paths)
      .flatMap((item) => Object.values(item).map((operation) => operation.summary))
      .filter((summary): summary is string => typeof summary === 'string' && /^[\w ,.()'-]+$/.test(summary));
    expect(summaries.length).toBeGreaterThan(3);
    const expected = [...new Set([summaries[0]!, summaries[1]!, summaries[Math.floor(summaries.length / 2)]!, summaries.at(-1)!])];

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

    await page.getByText(document.info.title, { exact: true }).first().waitFor({ state: 'visible', timeout: 60_000 });
    for (const summary of expected) {
      await page.getByText(summary, { exact: true }).first().waitFor({ state: 'visible', timeout: 60_000 });
    }
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
// provider's form (code + PKCE), the projects page, sign-out. Screenshots of each page.
describe('the dashboard in a browser', () => {
  it('signs in through the development provider, shows the projects page, and signs out', async () => {
    browser ??= await launchBrowser({ viewport: { width: 1280, height: 800 } });
    const page = await browser.context.newPage();
    await page.setViewportSize({ width: 1280, height: 800 });
    const base = `http://127.0.0.1:${service!.port}`;
    await page.goto(`${base}/`);
    await page.screenshot({ path: join(SCREENSHOTS, '1-welcome.png') });
    await page.getByRole('main').getByRole('button', { name: 'Sign in' }).click();
    await page.getByLabel('User name').fill('dana');
    await page.getByLabel('Role').selectOption('user');
    await page.screenshot({ path: join(SCREENSHOTS, '2-provider.png') });
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${base}/projects`);
    expect(await page.getByRole('heading', { name: 'Projects' }).isVisible()).toBe(true);
    expect(await page.getByText('Signed in as dana').isVisible()).toBe(true);
    await page.screenshot({ path: join(SCREENSHOTS, '3-projects.png') });
    console.log(`screenshots of the dashboard (${browser.picked.source} Chromium): ${SCREENSHOTS}`);

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${base}/`);
    // The session is over on the server too: the projects page sends the browser to sign in again.
    const again = await page.request.get(`${base}/projects`, { maxRedirects: 0 });
    expect(again.status()).toBe(303);
    expect(again.headers().location).toBe('/login');
  }, 120_000);
});
