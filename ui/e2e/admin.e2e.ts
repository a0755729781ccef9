/**
 * The admin UI in headless Chromium (Debian's, driven by playwright-core)
 * against the real engine: the first-run wizard, mail showing up in the live
 * log, its trace and the statistics, the queue's retry and delete, a setting
 * that takes effect, and a listener switched off from the dashboard. Every
 * page is saved as a screenshot in e2e/artifacts/.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { Engine } from './engine';

const ARTIFACTS = join(__dirname, 'artifacts');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

let engine: Engine;
let browser: Browser;
let page: Page;

async function shot(name: string) {
  // Not "network idle": the page keeps its event stream open, so that state
  // comes only if the page happened to be quiet for 500 ms before the stream
  // opened. Wait for the page's own loading indicators to go instead.
  await page.waitForLoadState('load');
  await page.locator('.mantine-Loader-root').first().waitFor({ state: 'hidden', timeout: 10000 }).catch(() => undefined);
  await page.waitForTimeout(200);
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

async function go(route: string) {
  await page.goto(`${engine.base}/#${route}`);
}

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  engine = new Engine();
  engine.cli('settings', 'set', 'dns_servers', '127.0.0.1:9'); // remote mail stays queued, no network
  engine.cli('settings', 'set', 'retry_schedule', '1h');
  await engine.start();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 }, locale: 'en-US' });
  page.on('pageerror', (e) => {
    throw e;
  });
  // The link the engine prints on a terminal: logged in with the local token.
  await page.goto(`${engine.base}/#token=${engine.token}`);
});

afterAll(async () => {
  await browser?.close();
  engine?.stop();
});

describe('first run', () => {
  test('the wizard sets the host name, domain, admin password, a mailbox and the certificate, shows DNS, sends a test message and shows client settings', async () => {
    const wizard = page.getByTestId('wizard');
    await wizard.waitFor();
    await shot('01-wizard-host');
    await page.getByTestId('wizard-hostname').fill('mail.example.test');
    await page.getByTestId('wizard-next').click();
    await page.getByTestId('add-domain-name').fill('example.test');
    await shot('02-wizard-domain');
    await page.getByTestId('add-domain-submit').click();
    // The admin password: both entries must match, and then it logs in.
    await page.getByTestId('wizard-password').fill('admin-password-1');
    await page.getByTestId('wizard-password-again').fill('admin-password-2');
    await page.getByTestId('wizard-password-save').click();
    await page.getByText('The two passwords are not the same.').waitFor();
    await page.getByTestId('wizard-password-again').fill('admin-password-1');
    await shot('03a-wizard-password');
    await page.getByTestId('wizard-password-save').click();
    await page.getByTestId('account-address').waitFor();
    const login = await fetch(`${engine.base}/api/v1/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ password: 'admin-password-1' }),
    });
    expect(login.status).toBe(200);
    await page.getByTestId('account-address').fill('alice@example.test');
    await page.getByTestId('account-password').fill('alice-password-1');
    await page.getByTestId('account-submit').click();
    await expect.poll(() => page.getByText('alice@example.test').count()).toBeGreaterThan(0);
    await shot('03-wizard-mailboxes');
    await page.getByTestId('wizard-next').click();
    // The certificate: a new self-signed one for the new host name, used at once.
    await page.getByTestId('certificate-info').waitFor();
    const before = (await engine.api<{ fingerprint_sha256: string }>('GET', '/certificate')).body.fingerprint_sha256;
    await page.getByTestId('certificate-regenerate').click();
    await page.getByTestId('confirm-button').click();
    await page.getByTestId('confirm-button').waitFor({ state: 'hidden' });
    await expect.poll(async () => (await engine.api<{ fingerprint_sha256: string }>('GET', '/certificate')).body.fingerprint_sha256).not.toBe(before);
    const cert = (await engine.api<{ names: string[]; fingerprint_sha256: string }>('GET', '/certificate')).body;
    expect(cert.names).toContain('mail.example.test');
    await expect.poll(() => page.getByTestId('certificate-info').innerText()).toContain(cert.fingerprint_sha256);
    await shot('03b-wizard-certificate');
    await page.getByTestId('wizard-next').click();
    await page.getByTestId('dns-check').first().waitFor();
    await shot('04-wizard-dns');
    await page.getByTestId('wizard-next').click();
    // The test message goes to the first mailbox and its journey shows "delivered".
    await expect.poll(() => page.getByTestId('wizard-test-to').inputValue()).toBe('alice@example.test');
    await page.getByTestId('wizard-test-send').click();
    await expect.poll(() => page.getByTestId('wizard-test-result').innerText()).toContain('Delivered to alice@example.test');
    await expect.poll(() => page.getByTestId('trace-status').innerText()).toMatch(/delivered/i);
    await shot('04b-wizard-test-message');
    await page.getByTestId('wizard-next').click();
    await page.getByTestId('client-settings').waitFor();
    // The ports mail programs need: the real ones (here with the test's port offset).
    await expect.poll(() => page.getByTestId('client-settings').innerText()).toContain(String(engine.port('imaps')));
    expect(await page.getByTestId('client-settings').innerText()).toContain('mail.example.test');
    await shot('05-wizard-clients');
    await page.getByTestId('wizard-finish').click();

    const domains = await engine.api<{ name: string }[]>('GET', '/domains');
    expect(domains.body.map((d) => d.name)).toContain('example.test');
    const accounts = await engine.api<{ address: string }[]>('GET', '/accounts');
    expect(accounts.body.map((a) => a.address)).toContain('alice@example.test');
    const settings = await engine.api<{ key: string; value: string }[]>('GET', '/settings');
    expect(settings.body.find((s) => s.key === 'hostname')?.value).toBe('mail.example.test');
  });
});

describe('daily work', () => {
  test('a message sent over SMTP appears in the live log, its trace and the statistics', async () => {
    await go('/log');
    await page.getByTestId('log-table').waitFor();
    const codes = engine.smtp('friend@remote.test', ['alice@example.test'], 'Seen in the live log');
    expect(JSON.parse(codes)).toEqual([250, 250]);
    const row = page.getByTestId('log-table').getByText('message accepted').first();
    await row.waitFor({ timeout: 5000 });
    await page.getByTestId('log-search').fill('friend@remote.test');
    await shot('06-live-log');
    await page.getByRole('button', { name: /what happened to message/i }).first().click();
    await page.getByTestId('trace-view').waitFor();
    await expect.poll(() => page.getByTestId('trace-status').innerText()).toMatch(/delivered/i);
    await shot('07-trace');
    await page.keyboard.press('Escape');

    await go('/');
    await page.getByTestId('today-stats').waitFor();
    await expect.poll(() => page.getByTestId('today-stats').innerText(), { timeout: 10000 }).toMatch(/[1-9]/);
    await shot('08-dashboard');
  });

  test('a queued message is retried and deleted from the queue page', async () => {
    expect(JSON.parse(engine.smtp('alice@example.test', ['someone@elsewhere.test'], 'Queued'))).toEqual([250, 250]);
    await go('/queue');
    const message = page.locator('[data-testid^="queue-message-"]').first();
    await message.waitFor();
    const id = (await message.getAttribute('data-testid'))!.replace('queue-message-', '');
    // Once the first attempt failed, the page shows the recipient's error in the server's words.
    let lastError = '';
    await expect
      .poll(async () => {
        const q = await engine.api<{ recipients: { last_error: string | null }[] }>('GET', `/queue/${id}`);
        lastError = q.body.recipients[0].last_error ?? '';
        return lastError;
      }, { timeout: 15000 })
      .not.toBe('');
    await page.getByTestId('queue-refresh').click();
    await expect.poll(() => message.innerText()).toContain(lastError.slice(0, 30));
    await shot('09-queue');
    await page.getByTestId(`queue-retry-${id}`).click();
    await expect.poll(async () => (await engine.api<{ recipients: { attempts: number }[] }>('GET', `/queue/${id}`)).body.recipients[0].attempts, { timeout: 15000 }).toBeGreaterThanOrEqual(2);
    await page.getByTestId(`queue-delete-${id}`).click();
    await page.getByTestId('confirm-button').click();
    await page.getByTestId('queue-empty').waitFor();
    expect((await engine.api('GET', `/queue/${id}`)).status).toBe(404);
  });

  test('a changed setting takes effect without a restart', async () => {
    await go('/settings');
    const input = page.getByTestId('setting-max_recipients');
    await input.waitFor();
    await input.fill('2');
    await page.getByTestId('setting-save-max_recipients').click();
    await expect.poll(async () => {
      const s = await engine.api<{ key: string; value: string }[]>('GET', '/settings');
      return s.body.find((x) => x.key === 'max_recipients')?.value;
    }).toBe('2');
    await shot('10-settings');
    const codes = JSON.parse(engine.smtp('friend@remote.test', ['alice@example.test', 'alice@example.test', 'alice@example.test'], 'Too many'));
    expect(codes.slice(0, 3)).toEqual([250, 250, 452]);
  });

  test('a certificate imported in Settings is checked, then used', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mailroom-cert-'));
    const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '90', '-subj', '/CN=mail.example.test',
      '-addext', 'subjectAltName=DNS:mail.example.test', '-keyout', 'key.pem', '-out', 'cert.pem');
    openssl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'other-key.pem');
    const fingerprint = openssl('x509', '-in', 'cert.pem', '-noout', '-fingerprint', '-sha256').split('=')[1].trim();
    await go('/settings');
    await page.getByTestId('certificate-import-open').click();
    await page.getByTestId('certificate-pem').fill(readFileSync(join(dir, 'cert.pem'), 'utf8'));
    // A key that is not the certificate's: refused in plain words, nothing changes.
    await page.getByTestId('certificate-key').fill(readFileSync(join(dir, 'other-key.pem'), 'utf8'));
    await page.getByTestId('certificate-import-save').click();
    await expect.poll(() => page.getByTestId('certificate-error').innerText()).toContain('does not belong');
    expect((await engine.api<{ fingerprint_sha256: string }>('GET', '/certificate')).body.fingerprint_sha256).not.toBe(fingerprint);
    await page.getByTestId('certificate-key').fill(readFileSync(join(dir, 'key.pem'), 'utf8'));
    await page.getByTestId('certificate-import-save').click();
    await expect.poll(async () => (await engine.api<{ fingerprint_sha256: string }>('GET', '/certificate')).body.fingerprint_sha256).toBe(fingerprint);
    await expect.poll(() => page.getByTestId('certificate-info').innerText()).toContain(fingerprint);
    // The next encrypted connection presents it.
    const presented = execFileSync('sh', ['-c', `openssl s_client -connect 127.0.0.1:${engine.port('submissions')} -servername mail.example.test </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256`], { encoding: 'utf8' });
    expect(presented.split('=')[1].trim()).toBe(fingerprint);
    await page.getByTestId('settings-group-certificate').screenshot({ path: join(ARTIFACTS, '10b-settings-certificate.png') });
  });

  test('a listener switched off on the dashboard closes its port', async () => {
    await go('/');
    const sw = page.getByTestId('listener-switch-pop3');
    await sw.waitFor();
    await sw.click();
    await expect.poll(async () => {
      const s = await engine.api<{ listeners: { name: string; running: boolean }[] }>('GET', '/status');
      return s.body.listeners.find((l) => l.name === 'pop3')?.running;
    }).toBe(false);
    await page.getByTestId('warnings').waitFor();
    await shot('11-dashboard-listener-stopped');
    await sw.click();
    await expect.poll(async () => {
      const s = await engine.api<{ listeners: { name: string; running: boolean }[] }>('GET', '/status');
      return s.body.listeners.find((l) => l.name === 'pop3')?.running;
    }).toBe(true);
  });

  test('the other pages render (screenshots for the guide)', async () => {
    for (const [route, id, name] of [
      ['/domains', 'domains-table', '12-domains'],
      ['/accounts', 'accounts-table', '13-accounts'],
      ['/ip-filter', 'ip-table', '14-ip-filter'],
    ] as const) {
      await go(route);
      await page.getByTestId(id).waitFor();
      await shot(name);
    }
    await page.getByTestId('language-switch').click();
    await page.getByRole('option', { name: /Русский/ }).click({ timeout: 3000 }).catch(async () => {
      await page.getByText('Русский').click();
    });
    await go('/');
    await expect.poll(() => page.locator('body').innerText()).toMatch(/[А-Яа-я]{4,}/);
    await shot('15-dashboard-ru');
  });
});
