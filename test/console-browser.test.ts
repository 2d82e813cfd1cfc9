/**
 * The web console in a real browser (Debian's chromium through playwright-core) against a real
 * gateway on a SQLite file and two fast simulated backends in two regions: each kind of user
 * signs in with their own credential; a wrong one is refused; the tenant sees its balance move
 * after a request made with the official OpenAI SDK; the operator tops the tenant up and the
 * tenant's page shows it; the provider drains a backend and the operator's pool shows it. Every
 * page is checked for console errors and unlabelled inputs, the sign-in and navigation are done
 * with the keyboard alone, and each page is photographed into test-artifacts/console/.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConsole } from '../scripts/build-console.ts';
import { parseConfig } from '../src/config.ts';
import { messages } from '../src/console/messages.ts';
import { type ServedSimulator, serveSimulator } from '../src/runtime/node/serve-simulator.ts';
import { type RunningGateway, startGateway } from '../src/runtime/node/start-gateway.ts';
import {
  type ConsoleBrowser,
  launchConsoleBrowser,
  overflowsSideways,
  screenshot,
  unlabelledControls,
} from './support/console-browser.ts';
import {
  createTenantWithKey,
  expectOk,
  type HttpCaller,
  httpCaller,
  priceModels,
  registerProvider,
  topUp,
} from './support/demo-pool.ts';
import { gatewayClient } from './support/openai-client.ts';
import { pollUntil } from './support/poll-until.ts';

const adminToken = 'tba-console-browser-test-0123456789abcdef';
const model = 'console-chat';
/** The screenshots the README shows, copied when UPDATE_DOCS_SCREENSHOTS=1. */
const docsImages = fileURLToPath(new URL('../docs/images/', import.meta.url));

let directory: string;
let simulators: ServedSimulator[] = [];
let gateway: RunningGateway;
let browser: ConsoleBrowser;
let call: HttpCaller;
let tenant: { tenantId: string; apiKey: string };
let provider: { providerToken: string; backendIds: string[] };

beforeAll(async () => {
  await buildConsole();
  directory = mkdtempSync(join(tmpdir(), 'tokenbank-console-'));
  for (const region of ['cn-east', 'cn-north']) {
    simulators.push(
      await serveSimulator({
        simulator: {
          models: [model],
          region,
          prefillTokensPerSecond: 1_000_000,
          decodeTokensPerSecond: 20_000,
        },
      }),
    );
  }
  const parsed = parseConfig(
    {},
    {
      port: 0,
      host: '127.0.0.1',
      database: join(directory, 'gateway.db'),
      adminToken,
      logLevel: 'error',
      allowPrivateBackends: true,
      autoApproveBackends: true,
    },
  );
  if (!parsed.ok) {
    throw new Error(parsed.message);
  }
  gateway = await startGateway(parsed.config, { writeLog: () => {} });
  call = httpCaller(gateway.url);
  provider = await registerProvider(
    call,
    adminToken,
    simulators.map((simulator, index) => ({
      url: simulator.url,
      region: index === 0 ? 'cn-east' : 'cn-north',
      models: [model],
      slots: 4,
    })),
  );
  await priceModels(call, adminToken, [model], { input: '100.00', output: '200.00' });
  tenant = await createTenantWithKey(call, adminToken, { name: 'Acme Robotics' });
  await topUp(call, adminToken, tenant.tenantId, '10.00');
  await expectOk(call, 'POST', `/admin/v1/tenants/${tenant.tenantId}/coupons`, adminToken, {
    kind: 'compute',
    amount: '3.00',
    coverage_bps: 5000,
    program: 'sme-2026',
    reference: 'console-test-coupon',
  });
  await expectOk(call, 'PATCH', `/admin/v1/tenants/${tenant.tenantId}`, adminToken, {
    allow_key_management: true,
  });
  browser = await launchConsoleBrowser({ locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
});

afterAll(async () => {
  await browser?.close();
  await gateway?.close();
  for (const simulator of simulators) {
    await simulator.close();
  }
  simulators = [];
  rmSync(directory, { recursive: true, force: true });
});

async function balanceOf(apiKey: string): Promise<string> {
  const account = await expectOk(call, 'GET', '/v1/account', apiKey);
  return String(account.balance);
}

/** Signs in on a fresh tab with the keyboard only: Tab to the field, type, Enter. */
async function signIn(name: string, credential: string): Promise<Page> {
  const page = await browser.newTab(name);
  await page.goto(`${gateway.url}/console`);
  const field = page.locator('input[name="credential"]');
  await field.waitFor();
  for (let presses = 0; presses < 10; presses += 1) {
    if (await field.evaluate((input) => input === document.activeElement)) {
      break;
    }
    await page.keyboard.press('Tab');
  }
  await expect(field.evaluate((input) => input === document.activeElement)).resolves.toBe(true);
  await page.keyboard.type(credential);
  await page.keyboard.press('Enter');
  return page;
}

/** Waits until the page shows its content (not "loading"), then checks its basics. */
async function settledPage(page: Page, sectionId: string, shot: string): Promise<void> {
  await page.locator(`#${sectionId}`).first().waitFor();
  await page.waitForFunction(
    () => document.querySelector('main')?.getAttribute('aria-busy') === 'false',
  );
  expect(await unlabelledControls(page)).toEqual([]);
  await screenshot(page, shot);
}

/** Copies a screenshot into docs/images/ for the README, when asked to (UPDATE_DOCS_SCREENSHOTS=1). */
function docsScreenshot(path: string, shot: string): void {
  if (process.env.UPDATE_DOCS_SCREENSHOTS === '1') {
    mkdirSync(docsImages, { recursive: true });
    copyFileSync(path, join(docsImages, `console-${shot}.png`));
  }
}

/** The page's text for a message id in the language the browser asked for (zh-CN). */
function zh(id: keyof typeof messages): string {
  return messages[id].zh;
}

/** The page's text for a message id once the user has switched to English. */
function en(id: keyof typeof messages): string {
  return messages[id].en;
}

describe('the web console in a browser', () => {
  it('serves its shell and its built client from the package', async () => {
    const shell = await fetch(`${gateway.url}/console`);
    expect(shell.status).toBe(200);
    expect(shell.headers.get('content-security-policy')).toContain("script-src 'self'");
    const script = await fetch(`${gateway.url}/console/assets/console.js`);
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toContain('text/javascript');
  });

  it('refuses a wrong credential with the gateway message, in Chinese by default, keeping nothing', async () => {
    const page = await signIn('wrong-credential', 'tbk-not-a-real-key-0123456789');
    const alert = page.locator('#sign-in-error');
    await expect.poll(() => alert.textContent()).toContain(zh('credentialRefused').split('{')[0]);
    expect(await alert.textContent()).toContain('tbk-');
    expect(await page.evaluate(() => document.documentElement.lang)).toBe('zh-CN');
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    expect(await unlabelledControls(page)).toEqual([]);
    await screenshot(page, 'sign-in-refused');

    // Switched to English, the choice holds for every tab after (the README's screenshots).
    await page.getByLabel(zh('language')).selectOption('en');
    await expect.poll(() => page.locator('form.sign-in h2').textContent()).toBe(messages.signIn.en);
    expect(await page.evaluate(() => document.documentElement.lang)).toBe('en');
    docsScreenshot(await screenshot(page, 'sign-in'), 'sign-in');
    await page.close();
  });

  it('shows the tenant its money and coupons, and the balance after an SDK request', async () => {
    const page = await signIn('tenant', tenant.apiKey);
    await settledPage(page, 'account', 'tenant-before');
    const balance = page.locator('#account-balance');
    expect(await balance.textContent()).toBe(`${await balanceOf(tenant.apiKey)} CNY`);
    expect(await page.locator('#coupons').textContent()).toContain('sme-2026');

    const client = gatewayClient({
      baseURL: `${gateway.url}/v1`,
      apiKey: tenant.apiKey,
      timeoutMs: 15_000,
    });
    await client.chat.completions.create({
      model,
      max_tokens: 64,
      messages: [{ role: 'user', content: 'Tell me about the computing power bank.' }],
    });
    const after = await balanceOf(tenant.apiKey);
    expect(after).not.toBe('10.00');
    await page.reload();
    await settledPage(page, 'account', 'tenant');
    expect(await balance.textContent()).toBe(`${after} CNY`);
    // The request shows in today's bar of the spend chart, by model and by region.
    expect(await page.locator('#usage figure').count()).toBe(3);
    expect(await page.locator('#usage rect').count()).toBeGreaterThanOrEqual(3);
    expect(await page.locator('#usage').textContent()).toContain(model);
    docsScreenshot(await screenshot(page, 'tenant'), 'tenant');

    // The tenant may manage its keys: it issues one (shown once, and it works) and revokes it.
    await page.locator('input[name="key-name"]').fill('ci');
    await page.locator(`form[aria-label="${en('createKey')}"] button[type="submit"]`).click();
    const secret = (await page.locator('#issued-key pre').textContent({ timeout: 10_000 })) ?? '';
    expect(secret).toMatch(/^tbk-/);
    await balanceOf(secret);
    const keys = await expectOk(call, 'GET', '/v1/account/keys', tenant.apiKey);
    const issued = (keys.data as { id: string; name: string }[]).find((key) => key.name === 'ci');
    await page.reload();
    await settledPage(page, 'keys', 'tenant-keys');
    await page.locator(`button[data-key="${issued?.id}"]`).click();
    await expect.poll(() => page.locator(`button[data-key="${issued?.id}"]`).count()).toBe(0);
    expect((await call('GET', '/v1/account', secret)).status).toBe(401);

    await page.setViewportSize({ width: 390, height: 844 });
    await page.reload();
    await settledPage(page, 'account', 'tenant-phone');
    expect(await overflowsSideways(page)).toBe(false);
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it('lets the operator find the tenant and top it up, and the tenant page shows it', async () => {
    const page = await signIn('operator', adminToken);
    await settledPage(page, 'tenants', 'operator-tenants');
    await page.getByLabel(en('search')).fill('acme');
    await page.locator(`button[data-tenant="${tenant.tenantId}"]`).click();
    await page.locator('#tenant-detail').waitFor();
    const before = await balanceOf(tenant.apiKey);
    expect(await page.locator('#tenant-balance').textContent()).toBe(`${before} CNY`);
    await page.locator('input[name="topup-amount"]').fill('5.25');
    await page.locator(`form[aria-label="${en('topUp')}"] button[type="submit"]`).click();
    const expected = await pollUntil(async () => {
      const now = await balanceOf(tenant.apiKey);
      return now === before ? undefined : now;
    }, 'the top-up to land');
    await expect.poll(() => page.locator('#tenant-balance').textContent()).toBe(`${expected} CNY`);
    expect(await unlabelledControls(page)).toEqual([]);
    docsScreenshot(await screenshot(page, 'operator-tenant'), 'operator-tenant');

    // The operator withdraws the tenant's key management with the switch; the API says so.
    const management = page.getByLabel(en('allowKeyManagement'));
    expect(await management.isChecked()).toBe(true);
    await management.uncheck();
    await pollUntil(async () => {
      const keys = await expectOk(call, 'GET', '/v1/account/keys', tenant.apiKey);
      return keys.allow_key_management === false ? true : undefined;
    }, 'key management withdrawn');

    const tenantPage = browser.context.pages().find((open) => open.url().includes('#tenant'));
    expect(tenantPage).toBeDefined();
    await tenantPage?.reload();
    await expect
      .poll(() => tenantPage?.locator('#account-balance').textContent())
      .toBe(`${expected} CNY`);
  });

  it('lets the provider drain a backend, and the operator pool page shows it draining', async () => {
    const page = await signIn('provider', provider.providerToken);
    await settledPage(page, 'backends', 'provider');
    const drained = provider.backendIds[0] ?? '';
    await page.locator(`button[data-backend="${drained}"]`).click();
    await expect
      .poll(() => page.locator(`button[data-backend="${drained}"]`).isDisabled())
      .toBe(true);
    await settledPage(page, 'earnings', 'provider');
    docsScreenshot(await screenshot(page, 'provider'), 'provider');

    const operator = browser.context.pages().find((open) => open.url().includes('#tenants'));
    if (operator === undefined) {
      throw new Error('the operator tab is gone');
    }
    await operator.keyboard.press('Tab');
    await operator.locator('nav a[href="#pool"]').focus();
    await operator.keyboard.press('Enter');
    await settledPage(operator, 'pool', 'operator-pool');
    const state = operator.locator(`.state[data-backend="${drained}"]`);
    expect(await state.textContent()).toBe('draining');
    expect(await operator.locator('.region').count()).toBe(2);
    docsScreenshot(await screenshot(operator, 'operator-pool'), 'operator-pool');
  });

  it('shows the operator the price book, programs with a statement, the ledger check and the audit log', async () => {
    const operator = browser.context.pages().find((open) => open.url().includes('#pool'));
    if (operator === undefined) {
      throw new Error('the operator tab is gone');
    }
    await operator.locator('nav a[href="#prices"]').click();
    await settledPage(operator, 'prices', 'operator-prices');
    expect(await operator.locator('#prices').textContent()).toContain('100.00 CNY');

    await operator.locator('nav a[href="#programs"]').click();
    await settledPage(operator, 'programs', 'operator-programs');
    await operator.locator('#programs button[type="submit"]').click();
    await operator.locator('#statement-output .statement').waitFor();
    expect(await operator.locator('#statement-output').textContent()).toContain('3.00 CNY');
    await screenshot(operator, 'operator-statement');

    await operator.locator('nav a[href="#ledger"]').click();
    await settledPage(operator, 'ledger-check', 'operator-ledger');
    await operator.locator('#ledger-check button').click();
    await expect.poll(() => operator.locator('#ledger-check .ok').count()).toBe(1);
    expect(await operator.locator('#audit').textContent()).toContain('topup');
    await screenshot(operator, 'operator-ledger');
  });

  it('switches back to Chinese and shows the API reference, or says the gateway has none', async () => {
    const operator = browser.context.pages().find((open) => open.url().includes('#ledger'));
    if (operator === undefined) {
      throw new Error('the operator tab is gone');
    }
    await operator.getByLabel(en('language')).selectOption('zh');
    await expect.poll(() => operator.locator('nav').textContent()).toContain(zh('navApi'));
    await operator.locator('nav a[href="#api"]').click();
    await settledPage(operator, 'api-reference', 'api-reference');
    const documentStatus = (await fetch(`${gateway.url}/openapi.json`)).status;
    if (documentStatus === 404) {
      expect(await operator.locator('#openapi-missing').textContent()).toBe(zh('apiMissing'));
    } else {
      expect(documentStatus).toBe(200);
      expect(await operator.locator('details.operation').count()).toBeGreaterThan(0);
    }
  });

  it('logged no console error on any page but the refusals it asked for', () => {
    // Chromium logs every non-2xx fetch: the refused sign-in and a gateway without /openapi.json.
    const asked = (problem: (typeof browser.problems)[number]) =>
      (problem.page === 'wrong-credential' &&
        problem.url.endsWith('/v1/account') &&
        problem.text.includes('401')) ||
      (problem.url.endsWith('/openapi.json') && problem.text.includes('404'));
    expect(browser.problems.filter((problem) => !asked(problem))).toEqual([]);
  });
});
