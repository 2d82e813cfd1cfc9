/**
 * Debian's chromium driven by playwright-core for the web console's tests: one browser per test
 * file (a persistent context on a fresh profile folder), launched so that it makes no connection
 * of its own (the CI network refuses them), with every console error and uncaught exception of
 * every page recorded so a test can insist there were none. Screenshots go to
 * test-artifacts/console/ (gitignored).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BrowserContext, chromium, type Page } from 'playwright-core';

export const chromiumPath = '/usr/bin/chromium';

export const screenshotFolder = fileURLToPath(
  new URL('../../test-artifacts/console/', import.meta.url),
);

/** What went wrong in a page's console: its errors and uncaught exceptions. */
export type PageProblem = { page: string; text: string; url: string };

export type ConsoleBrowser = {
  context: BrowserContext;
  /** A new tab (its own sessionStorage: a separate sign-in), watched for console errors. */
  newTab(name: string): Promise<Page>;
  problems: PageProblem[];
  close(): Promise<void>;
};

export async function launchConsoleBrowser(options: {
  locale: string;
  timezoneId: string;
}): Promise<ConsoleBrowser> {
  const profile = mkdtempSync(join(tmpdir(), 'tokenbank-chromium-'));
  mkdirSync(screenshotFolder, { recursive: true });
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    locale: options.locale,
    timezoneId: options.timezoneId,
    viewport: { width: 1280, height: 900 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const problems: PageProblem[] = [];
  return {
    context,
    problems,
    async newTab(name) {
      const page = await context.newPage();
      page.on('console', (message) => {
        if (message.type() === 'error') {
          problems.push({ page: name, text: message.text(), url: message.location().url });
        }
      });
      page.on('pageerror', (error) => problems.push({ page: name, text: error.message, url: '' }));
      return page;
    },
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export async function screenshot(page: Page, name: string): Promise<string> {
  const path = join(screenshotFolder, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** The inputs, selects and text areas on the page that no label names. */
export async function unlabelledControls(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    [...document.querySelectorAll('input, select, textarea')]
      .filter((control) => {
        const labelled = control as HTMLInputElement;
        return (
          (labelled.labels === null || labelled.labels.length === 0) &&
          !control.hasAttribute('aria-label')
        );
      })
      .map((control) => control.outerHTML.slice(0, 120)),
  );
}

/** Whether the page is wider than its window (a phone would have to scroll sideways). */
export async function overflowsSideways(page: Page): Promise<boolean> {
  return page.evaluate(
    () => document.documentElement.scrollWidth > document.documentElement.clientWidth + 1,
  );
}
