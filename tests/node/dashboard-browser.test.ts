// The dashboard as a person uses it: `npm start`, headless Chromium, sign-in through the development
// OpenID provider's form (code + PKCE), the projects page, sign-out. Screenshots of each page.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, type Browser } from '../helpers/browser.ts';
import { startLocalService, type RunningStart } from './helpers.ts';

const SCREENSHOTS = join(tmpdir(), 'stacker-screenshots', 'dashboard');
const dataDir = mkdtempSync(join(tmpdir(), 'stacker-dashboard-'));
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

describe('the dashboard in a browser', () => {
  it('signs in through the development provider, shows the projects page, and signs out', async () => {
    browser = await launchBrowser({ viewport: { width: 1280, height: 800 } });
    const page = await browser.context.newPage();
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
