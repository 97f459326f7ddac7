// The builder's "Import docker-compose.yml" box (issue 28 point 3), as a person uses it, in headless
// Chromium over one `npm start`: a real compose file (awesome-compose's wordpress-mysql) pasted into a new
// project comes back in the page's compose with its service named db and every value; what Stacker
// cannot carry is said; an environment value naming no service is a warning on its app. Screenshots
// under $TMPDIR/stacker-screenshots/import/.
import { mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, openDashboardPage, signIn, type Browser } from '../helpers/browser.ts';
import { composeDifferences } from '../helpers/compose-compare.ts';
import { sharedLocalService, type SharedStart } from './shared-start.ts';

const SCREENSHOTS = join(tmpdir(), 'stacker-screenshots', 'import');
const wordpress = readFileSync(join(import.meta.dirname, '..', 'fixtures', 'compose', 'wordpress-mysql.yaml'), 'utf8');
let service: SharedStart | undefined;
let browser: Browser | undefined;

beforeAll(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  service = await sharedLocalService('builtin');
}, 150_000);

afterAll(async () => {
  await browser?.close();
}, 60_000);

describe('Import docker-compose.yml in the dashboard', () => {
  it('brings a compose file from the wild in as it is, and says what it could not carry', async () => {
    browser = await launchBrowser({ viewport: { width: 1280, height: 900 } });
    const base = `http://127.0.0.1:${service!.port}`;
    const { page, problems, shot, notice } = await openDashboardPage(browser.context, SCREENSHOTS);

    await signIn(page, base, 'ivy');
    await page.getByLabel('Project name').fill('press');
    await page.getByRole('button', { name: 'Create project' }).click();
    await notice('Project “press” created');

    await page.locator('#field-compose').fill(wordpress);
    await shot('1-pasted');
    await page.getByRole('button', { name: 'Import services' }).click();
    await notice('Imported 2 services (db, wordpress).');
    expect(await page.getByRole('heading', { name: 'Apps (2)' }).isVisible()).toBe(true);
    const compose = (await page.locator('#compose-yaml').textContent())!;
    expect(composeDifferences(wordpress, compose)).toEqual([]);
    await page.locator('#compose-title').scrollIntoViewIfNeeded();
    await shot('2-imported');

    // A second import: a build-only service is refused at the box, naming it.
    await page.locator('#field-compose').fill('services:\n  api:\n    build: .\n');
    await page.getByRole('button', { name: 'Import services' }).click();
    await page.locator('#field-compose-help', { hasText: 'service "api" has no image but build:' }).waitFor();
    await shot('3-build-refused');

    // An app whose environment names a host that is no service carries a warning.
    await page.locator('#field-compose').fill('services:\n  ghost:\n    image: ghost:5.96\n    environment:\n      database__connection__host: mysql\n      DB_HOST: mysql\n');
    await page.getByRole('button', { name: 'Import services' }).click();
    await notice('Imported 1 service (ghost).');
    await page.locator('#app-ghost', { hasText: 'Warning: service "ghost": DB_HOST names host "mysql", which is no service of this stack' }).waitFor();
    await page.locator('#app-ghost').scrollIntoViewIfNeeded();
    await shot('4-warning');
    // The refused import above is answered 400 (the form with its error), which Chromium logs; nothing else.
    expect(problems).toEqual(['console error: Failed to load resource: the server responded with a status of 400 (Bad Request)']);
  }, 120_000);
});
