// The built-in engine from the dashboard, as a person with a server of their own uses it, in headless
// Chromium (tests/helpers/browser.ts) over one `npm start` with DEPLOY_ENGINE=builtin: sign in, build a
// project, deploy it to an own server, copy the install command with the page's Copy button, run it on
// a stand-in server (tests/node/own-server.ts: the real install script, the docker and agent stand-ins),
// watch the checklist reach healthy live and the addresses appear, redeploy, roll back, remove. Then a
// new server "at Hetzner" (npm start's stand-in), chosen from the offers the form lists with their
// prices, which boots, runs its stack and is deleted on Remove. A screenshot of each step under
// $TMPDIR/stacker-screenshots/engine/.
import { mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, openDashboardPage, signIn, type Browser } from '../helpers/browser.ts';
import { sharedLocalService, type SharedStart } from './shared-start.ts';
import { startOwnServer, type OwnServer } from './own-server.ts';

const SCREENSHOTS = join(tmpdir(), 'stacker-screenshots', 'engine');
const SERVER_IP = '203.0.113.10';

let service: SharedStart | undefined;
let browser: Browser | undefined;
let server: OwnServer | undefined;

beforeAll(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  // The cloud providers' settings unset: npm start stands in for both (scripts/stand-ins/local-cloud.ts).
  service = await sharedLocalService('builtin');
}, 150_000);

afterAll(async () => {
  await server?.stop();
  await browser?.close();
  if (server) rmSync(server.root, { recursive: true, force: true, maxRetries: 5 });
}, 60_000);

describe('the built-in engine in the dashboard', () => {
  it('deploys a project to an own server with the install command the page shows, follows it to healthy, redeploys, rolls back and removes it', async () => {
    browser = await launchBrowser({ viewport: { width: 1280, height: 800 } });
    const base = `http://127.0.0.1:${service!.port}`;
    await browser.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
    const { page, problems, shot, notice } = await openDashboardPage(browser.context, SCREENSHOTS);
    const status = page.locator('[data-deployment-status]');
    const step = (name: string, state: string) => page.locator(`[data-deployment-steps] li[data-step="${name}"][data-state="${state}"]`);
    const current = (revision: number) => page.locator(`tr[data-revision="${revision}"]`, { hasText: 'current' });
    /** The log's rows by seq, each once and in order however the page got them (render or live feed). */
    const expectLogOnce = async () => {
      const seqs = await page.locator('[data-deployment-log] tr').evaluateAll((rows) => rows.map((row) => Number(row.getAttribute('data-seq'))));
      expect(seqs).toEqual(seqs.map((_, index) => index + 1));
    };

    await signIn(page, base, 'olga');
    await page.getByLabel('Project name').fill('own-stack');
    await page.getByRole('button', { name: 'Create project' }).click();
    await notice('Project “own-stack” created');
    await page.getByLabel('App', { exact: true }).selectOption('nginx');
    await page.getByRole('button', { name: 'Add app' }).click();
    await notice('Nginx added as service “nginx”');

    // The deploy form: an own server first, and no cloud key needed.
    await page.getByRole('button', { name: 'Deploy this stack' }).click();
    await page.waitForURL(/\/deploy$/);
    expect(await page.getByLabel(/^Own server/).isChecked()).toBe(true);
    await page.getByText('No cloud key yet').waitFor();
    await page.getByLabel('IP address').fill(SERVER_IP);
    await shot('1-deploy-form');
    await page.getByRole('button', { name: 'Deploy', exact: true }).click();
    await page.waitForURL(/\/deployments\/\d+$/);
    await notice(/^Deployment \d+ started\.$/);
    await page.locator('[data-live-status]', { hasText: 'Live' }).waitFor();

    // The install command, copied with the page's button as a person does.
    const shown = (await page.locator('#install-command').textContent())!.trim();
    expect(shown).toMatch(new RegExp(`^curl -fsSL '${base.replace(/[.]/g, '\\.')}/install/[A-Za-z0-9_-]{32,}' \\| sh$`));
    await page.getByText(/^Works once, until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\.$/).waitFor();
    await step('server', 'running').waitFor();
    for (const name of ['agent', 'stack', 'healthy']) await step(name, 'pending').waitFor();
    await shot('2-install-command');
    await page.getByRole('button', { name: 'Copy', exact: true }).click();
    await page.getByRole('button', { name: 'Copied' }).waitFor();
    const copied = String(await page.evaluate('navigator.clipboard.readText()'));
    expect(copied).toBe(shown);

    // On the server: the page follows the agent's enrolment and the stack to healthy, with no reload.
    server = await startOwnServer(copied);
    await status.filter({ hasText: 'completed' }).waitFor({ timeout: 90_000 });
    for (const name of ['server', 'agent', 'stack', 'healthy']) await step(name, 'done').waitFor();
    const address = page.locator('[data-deployment-addresses] a');
    await address.first().waitFor();
    expect(await address.first().getAttribute('href')).toBe(`http://${SERVER_IP}:8080`);
    expect(await page.locator('#install-command').count()).toBe(0);
    await current(1).waitFor();
    await expectLogOnce();
    await shot('3-completed');

    // Redeploy: a new revision on the same server.
    await page.getByRole('button', { name: 'Redeploy', exact: true }).click();
    await notice('Redeploying: revision 2 is being applied.');
    await current(2).waitFor({ timeout: 90_000 });
    await status.filter({ hasText: 'completed' }).waitFor({ timeout: 90_000 });
    await shot('4-redeployed');

    // Roll back to the first revision from the history.
    await page.getByRole('button', { name: 'Roll back to 1' }).click();
    await notice('Rolling back: revision 1 is being applied again.');
    await current(1).waitFor({ timeout: 90_000 });
    await status.filter({ hasText: 'completed' }).waitFor({ timeout: 90_000 });
    await expectLogOnce();

    // Remove: after a confirm, the stack goes, and with it the addresses and the buttons.
    await page.getByRole('button', { name: 'Remove', exact: true }).click();
    await notice('Removing the stack from the server.');
    await status.filter({ hasText: 'removed' }).waitFor({ timeout: 90_000 });
    expect(await page.locator('[data-deployment-addresses]').count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Redeploy', exact: true }).count()).toBe(0);
    await expectLogOnce();
    await shot('5-removed');
    expect(problems).toEqual([]);
    console.log(`screenshots of the built-in engine's pages (${browser.picked.source} Chromium): ${SCREENSHOTS}`);
  }, 300_000);

  it('deploys to a new Hetzner server chosen from the offers the form lists with prices, shows it with a console link, and deletes it on Remove', async () => {
    browser ??= await launchBrowser({ viewport: { width: 1280, height: 800 } });
    const base = `http://127.0.0.1:${service!.port}`;
    const { page, problems, shot, notice } = await openDashboardPage(browser.context, SCREENSHOTS);
    const status = page.locator('[data-deployment-status]');

    // Another person: the first test's session ends first.
    await browser.context.clearCookies();
    await signIn(page, base, 'hanna');
    await page.goto(`${base}/keys`);
    await page.getByLabel('Provider').selectOption('htz');
    await page.getByLabel('API token').fill('any-token-a-newcomer-saved');
    await page.getByRole('button', { name: 'Save key' }).click();
    await notice('Cloud key for Hetzner Cloud saved.');
    await page.goto(`${base}/projects`);
    await page.getByLabel('Project name').fill('cloud-stack');
    await page.getByRole('button', { name: 'Create project' }).click();
    await notice('Project “cloud-stack” created');
    await page.getByLabel('App', { exact: true }).selectOption('nginx');
    await page.getByRole('button', { name: 'Add app' }).click();
    await notice(/^Nginx added as service/);

    await page.getByRole('button', { name: 'Deploy this stack' }).click();
    await page.waitForURL(/\/deploy$/);
    await page.getByLabel(/^A new server in a cloud/).check();
    const types = page.getByLabel('Server type');
    expect(await types.locator('option', { hasText: /^cx23 · 2 vCPU · 4 GB RAM · 40 GB disk · [\d.]+ EUR\/month$/ }).count()).toBe(1);
    await types.selectOption('cx23');
    await page.getByLabel('Location').selectOption('fsn1');
    await page.getByLabel('System image').selectOption('ubuntu-24.04');
    await page.getByLabel('Your SSH public key (optional)').fill('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBrowserKeyOfHannaAbcdefghijklmnopqrstuvwxyz01 hanna@laptop');
    await shot('6-cloud-deploy-form');
    await page.getByRole('button', { name: 'Deploy', exact: true }).click();
    await page.waitForURL(/\/deployments\/\d+$/);
    await notice(/^Deployment \d+ started\.$/);
    // The created server runs its install command itself (the stand-in boots it as try-server does).
    await status.filter({ hasText: 'completed' }).waitFor({ timeout: 120_000 });
    const server = page.locator('[data-cloud-server="htz"]');
    await server.getByText(/^A server Stacker created in your Hetzner Cloud account, ID \d+, at [\d.]+\./).waitFor();
    expect(await server.getByRole('link', { name: 'Open it in the Hetzner Cloud console' }).getAttribute('href')).toBe('https://console.hetzner.cloud/projects');
    expect(await page.locator('#install-command').count()).toBe(0);
    await page.locator('[data-deployment-addresses] a').first().waitFor();
    await shot('7-cloud-completed');

    await page.getByRole('button', { name: 'Remove', exact: true }).click();
    await status.filter({ hasText: 'removed' }).waitFor({ timeout: 90_000 });
    await server.getByText(/deleted at Hetzner Cloud on /).waitFor();
    await shot('8-cloud-removed');
    expect(problems).toEqual([]);
  }, 300_000);
});
