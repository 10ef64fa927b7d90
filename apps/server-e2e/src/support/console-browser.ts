/**
 * The machine's Chromium (Debian's /usr/bin/chromium, never a downloaded one) driven by
 * playwright-core, for the web console's tests; and where their screenshots go (docs/console,
 * committed and shown in the README).
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CHAINVAULT_CHROMIUM ?? '/usr/bin/chromium';
export const SCREENSHOTS = join(__dirname, '..', '..', '..', '..', 'docs', 'console');

/** Headless, with the flags that keep Chromium off the network it would otherwise call home to. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
}

/** A page at 1280 × 800 whose tab already holds `token`, as after a sign-in. */
export async function signedInPage(browser: Browser, token: string | null, viewport = { width: 1280, height: 800 }): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
  const context = await browser.newContext({ viewport });
  if (token) await context.addInitScript((t) => sessionStorage.setItem('chainvault-token', t), token);
  const page = await context.newPage();
  // Script errors and Content-Security-Policy refusals would show here.
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' && !/401|Unauthorized/.test(message.text())) problems.push(`console: ${message.text()}`);
  });
  return { context, page, problems };
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await mkdir(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: false });
}
