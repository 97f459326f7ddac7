// A template from the dashboard (issue 28), as a person does it, in headless Chromium over one `npm
// start` (DEPLOY_ENGINE=builtin): add WordPress, see MariaDB added with it and wired (the host is its
// service, one generated password both sides, named in the compose and never shown there), reveal the
// password on the Secrets page, deploy to an own server (tests/node/own-server.ts runs the copied
// install command) and follow it to healthy; the server's .env holds the password, the page's log
// does not. Screenshots under $TMPDIR/stacker-screenshots/templates/.
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { launchBrowser, openDashboardPage, signIn, type Browser } from '../helpers/browser.ts';
import { sharedLocalService, type SharedStart } from './shared-start.ts';
import { startOwnServer, type OwnServer } from './own-server.ts';

const SCREENSHOTS = join(tmpdir(), 'stacker-screenshots', 'templates');
const SERVER_IP = '203.0.113.11';

let service: SharedStart | undefined;
let browser: Browser | undefined;
let server: OwnServer | undefined;

function filesNamed(dir: string, name: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return filesNamed(path, name);
    return entry === name ? [path] : [];
  });
}

beforeAll(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  service = await sharedLocalService('builtin');
}, 150_000);

afterAll(async () => {
  await server?.stop();
  await browser?.close();
  if (server) rmSync(server.root, { recursive: true, force: true, maxRetries: 5 });
}, 60_000);

describe('a template in the dashboard', () => {
  it('adds WordPress with MariaDB wired to it, keeps the password apart, and deploys it to healthy', async () => {
    browser = await launchBrowser({ viewport: { width: 1280, height: 900 } });
    const base = `http://127.0.0.1:${service!.port}`;
    await browser.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
    const { page, problems, shot, notice } = await openDashboardPage(browser.context, SCREENSHOTS);

    await signIn(page, base, 'wren');
    await page.getByLabel('Project name').fill('blog');
    await page.getByRole('button', { name: 'Create project' }).click();
    await notice('Project “blog” created');

    // One app chosen; the database it requires comes with it.
    await page.getByLabel('App', { exact: true }).selectOption('wordpress');
    await page.getByRole('button', { name: 'Add app' }).click();
    await notice('WordPress added as service “wordpress”; MariaDB (“mariadb”) added for wordpress\'s db.');
    expect(await page.getByRole('heading', { name: 'Apps (2)' }).isVisible()).toBe(true);
    const compose = parse((await page.locator('#compose-yaml').textContent())!) as { services: Record<string, { environment: Record<string, string>; depends_on?: unknown }> };
    expect(Object.keys(compose.services).sort()).toEqual(['mariadb', 'wordpress']);
    expect(compose.services.wordpress!.environment.WORDPRESS_DB_HOST).toBe('mariadb');
    expect(compose.services.wordpress!.environment.WORDPRESS_DB_PASSWORD).toBe('${MARIADB_PASSWORD}');
    expect(compose.services.mariadb!.environment.MARIADB_PASSWORD).toBe('${MARIADB_PASSWORD}');
    expect(compose.services.wordpress!.depends_on).toEqual({ mariadb: { condition: 'service_healthy' } });
    await shot('1-wordpress-and-mariadb');
    // The compose section alone (a full-page shot would repeat the first).
    await page.locator('section[aria-labelledby="compose-title"]').screenshot({ path: join(SCREENSHOTS, '2-compose.png') });

    // The generated password, masked until its owner asks.
    await page.getByRole('link', { name: 'Secrets', exact: true }).click();
    await page.waitForURL(/\/secrets$/);
    const row = page.locator('tr', { hasText: 'MARIADB_PASSWORD' }).filter({ hasNotText: 'ROOT' });
    expect(await row.textContent()).toContain('********');
    expect(await row.textContent()).toContain('wordpress, mariadb');
    await shot('3-secrets-masked');
    await row.getByRole('button', { name: 'Reveal' }).click();
    const password = (await page.locator('#revealed-secret').textContent())!;
    expect(password).toMatch(/^[A-Za-z0-9]{64}$/);
    await shot('4-secret-revealed');

    // Deploy to an own server: the install command the page shows, run there.
    await page.getByRole('link', { name: 'blog' }).click();
    await page.getByRole('button', { name: 'Deploy this stack' }).click();
    await page.waitForURL(/\/deploy$/);
    await page.getByLabel('IP address').fill(SERVER_IP);
    await page.getByRole('button', { name: 'Deploy', exact: true }).click();
    await page.waitForURL(/\/deployments\/\d+$/);
    const command = (await page.locator('#install-command').textContent())!.trim();
    server = await startOwnServer(command);
    await page.locator('[data-deployment-status]').filter({ hasText: 'completed' }).waitFor({ timeout: 90_000 });
    const address = page.locator('[data-deployment-addresses] a');
    await address.first().waitFor();
    expect(await address.first().getAttribute('href')).toBe(`http://${SERVER_IP}:8084`);
    expect(await page.content()).not.toContain(password);
    await shot('5-deployed');

    // On the server: the one password, for both services, in the .env beside the compose.
    const [envFile] = filesNamed(server.root, '.env');
    const values = Object.fromEntries(readFileSync(envFile!, 'utf8').split('\n').map((line) => line.split(/=(.*)/s).slice(0, 2) as [string, string]));
    expect(values.MARIADB_PASSWORD).toBe(password);
    expect(readFileSync(join(envFile!, '..', 'docker-compose.yml'), 'utf8')).not.toContain(password);
    expect(problems).toEqual([]);
  }, 240_000);
});
