// The one place browser tests get their Chromium: Debian's /usr/bin/chromium where it is installed
// (or CHROMIUM_PATH), otherwise the headless Chromium that `npm ci` brings inside @sparticuz/chromium
// (unpacked to the temporary folder on first use). Driven by playwright-core; never a browser that
// Playwright downloads (that needs the internet).
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

const DEBIAN_CHROMIUM = '/usr/bin/chromium';

// Without the background-networking flags Chromium calls Google's hosts at start, which a closed
// network refuses. The profile is always a new empty --user-data-dir.
const COMMON_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

export interface PickedBrowser {
  executablePath: string;
  source: 'CHROMIUM_PATH' | 'debian' | '@sparticuz/chromium';
  args: string[];
}

/** Which Chromium to drive, and with which flags. */
export async function pickBrowser(): Promise<PickedBrowser> {
  const configured = process.env.CHROMIUM_PATH;
  if (configured) {
    if (!existsSync(configured)) throw new Error(`CHROMIUM_PATH=${configured} does not exist; unset it to use Debian's or the npm package's Chromium.`);
    return { executablePath: configured, source: 'CHROMIUM_PATH', args: COMMON_FLAGS };
  }
  if (existsSync(DEBIAN_CHROMIUM)) return { executablePath: DEBIAN_CHROMIUM, source: 'debian', args: COMMON_FLAGS };
  const { default: packaged } = await import('@sparticuz/chromium');
  // The package's build is a headless shell meant for one process without a zygote.
  return { executablePath: await packaged.executablePath(), source: '@sparticuz/chromium', args: [...COMMON_FLAGS, '--no-zygote', '--single-process'] };
}

export interface Browser {
  context: BrowserContext;
  picked: PickedBrowser;
  close(): Promise<void>;
}

/**
 * Starts headless Chromium with a fresh profile. Fails (never skips) with what to do when no
 * browser can start.
 */
export async function launchBrowser(options: { viewport?: { width: number; height: number } } = {}): Promise<Browser> {
  let picked: PickedBrowser;
  try {
    picked = await pickBrowser();
  } catch (error) {
    throw new Error(`${howToGetOne()}\n(cause: ${(error as Error).message})`);
  }
  const profileDir = mkdtempSync(join(tmpdir(), 'stacker-chromium-'));
  try {
    const context = await chromium.launchPersistentContext(profileDir, {
      executablePath: picked.executablePath,
      headless: true,
      args: picked.args,
      viewport: options.viewport ?? { width: 1400, height: 900 },
    });
    return {
      context,
      picked,
      async close() {
        await context.close().catch(() => undefined);
        rmSync(profileDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(profileDir, { recursive: true, force: true });
    throw new Error(`Chromium (${picked.source}, ${picked.executablePath}) did not start.\n${howToGetOne()}\n(cause: ${(error as Error).message})`);
  }
}

export interface DashboardPage {
  page: Page;
  /** Page errors and console errors (CSP violations land there), for `expect(problems).toEqual([])`. */
  problems: string[];
  /** A full-page screenshot, `<screenshots>/<name>.png`. */
  shot(name: string): Promise<unknown>;
  /** Waits for a status message (the notice after a form) with this text. */
  notice(text: string | RegExp): Promise<void>;
}

/** A new page of the context, recording its errors; confirm dialogs are accepted, as a person who means it does. */
export async function openDashboardPage(context: BrowserContext, screenshots: string): Promise<DashboardPage> {
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console error: ${message.text()}`);
  });
  page.on('dialog', (dialog) => void dialog.accept());
  return {
    page,
    problems,
    shot: (name) => page.screenshot({ path: join(screenshots, `${name}.png`), fullPage: true }),
    notice: (text) => page.getByRole('status').filter({ hasText: text }).waitFor(),
  };
}

/** Signs in through npm start's development provider (any name; role user or admin), landing on the projects. */
export async function signIn(page: Page, base: string, name: string, role: 'user' | 'admin' = 'user'): Promise<void> {
  await page.goto(`${base}/login`);
  await page.getByLabel('User name').fill(name);
  await page.getByLabel('Role').selectOption(role);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${base}/projects`);
}

function howToGetOne(): string {
  return (
    'This test needs a headless Chromium. `npm ci` installs one (@sparticuz/chromium); if it cannot run here, ' +
    "install Debian's (`apt-get install -y --no-install-recommends chromium`) or point CHROMIUM_PATH at a Chromium binary. " +
    'Do not use `npx playwright install`: its download needs the internet.'
  );
}
