// Resources (charts from history + the live stream), the audit log (filters, paging, CSV
// export), settings (saved and kept), the command console and the about page.

import { readFileSync } from 'node:fs';
import type { Browser, Request } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminPage, asAdmin, spawnNook, unique } from './admin-helpers';
import { admin, api, baseURL, launch, screenshot } from './helpers';

let browser: Browser;

beforeAll(async () => {
  browser = await launch();
});

afterAll(async () => {
  await browser?.close();
});

const points = (d: string | null) => (d ?? '').split(/[ML]/).filter((s) => s.trim() !== '').length;

describe('resources', () => {
  it('charts draw the last hour and move with the live stream, which stops when leaving the page', async () => {
    const { ctx, page } = await adminPage(browser, '/admin/users');
    let stream: Request | null = null;
    let streamAborted = false;
    page.on('request', (r) => {
      if (r.url().endsWith('/api/resources/stream')) stream = r;
    });
    page.on('requestfailed', (r) => {
      if (r === stream) streamAborted = true;
    });
    await page.goto('/admin/resources');
    await page.getByTestId('stat-cpu').waitFor();
    expect(await page.getByTestId('live-status').textContent()).toContain('Live');

    const cpu = page.locator('path.line[data-series="busy"]');
    await expect.poll(async () => points(await cpu.getAttribute('d')), { timeout: 10_000 }).toBeGreaterThanOrEqual(2);
    const before = await cpu.getAttribute('d');
    const nBefore = points(before);
    // The sampler runs every 2 s: a new point arrives through the stream without a reload.
    await expect.poll(async () => points(await cpu.getAttribute('d')), { timeout: 10_000 }).toBeGreaterThan(nBefore);
    for (const series of ['in use', 'in', 'out', 'used', 'resident']) {
      expect(points(await page.locator(`path.line[data-series="${series}"]`).getAttribute('d')), series).toBeGreaterThanOrEqual(2);
    }
    const rss = (await page.getByTestId('stat-rss').textContent()) ?? '';
    expect(rss).toMatch(/MiB|GiB/);
    expect(stream).not.toBeNull();
    expect((stream as Request | null)?.headers().authorization).toMatch(/^Bearer /);
    await screenshot(page, 'admin-resources-live');

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users' }).click();
    await page.locator('tr[data-user="admin"]').waitFor();
    await expect.poll(() => streamAborted, { timeout: 5000 }).toBe(true);
    await ctx.close();
  });
});

describe('audit log', () => {
  it('filters by action and user, pages, and exports exactly the filtered rows as CSV', async () => {
    // 55 failed logins by a made-up name that a spreadsheet would take for a formula.
    const actor = `=HYPERLINK("x",${unique('y').replace(/-/g, '')})`;
    for (let i = 0; i < 55; i++) {
      const r = await fetch(`${baseURL()}/api/user/login`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ username: actor, password: `wrong-password-${i}` }),
      });
      expect(r.status).toBe(401);
    }
    const { ctx, page } = await adminPage(browser, '/admin/logs');
    await page.locator('tr[data-log-id]').first().waitFor();
    await page.getByLabel('Action').fill('login');
    await page.getByLabel('User').fill(actor);
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.waitForURL((u) => u.searchParams.get('actor') === actor);
    const rows = page.locator('tr[data-log-id]');
    // The unfiltered page also has 50 rows: wait for the filtered ones, not just the count.
    await expect.poll(async () => (await rows.allTextContents()).filter((t) => t.includes(actor)).length).toBe(50);
    await expect.poll(() => rows.count()).toBe(50);
    for (const text of await rows.allTextContents()) {
      expect(text).toContain(actor);
      expect(text).toContain('failed');
    }
    await page.getByRole('button', { name: 'Older →' }).click();
    await expect.poll(() => rows.count()).toBe(5);
    expect(await page.getByRole('navigation', { name: 'Pages' }).textContent()).toContain('Entries 51–55');
    expect(await page.getByRole('button', { name: 'Older →' }).isDisabled()).toBe(true);
    await screenshot(page, 'admin-logs-filtered');

    // The filter survives a reload (it lives in the address).
    await page.reload();
    await expect.poll(() => rows.count()).toBe(5);
    expect(await page.getByLabel('User').inputValue()).toBe(actor);

    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export CSV' }).click()]);
    expect(download.suggestedFilename()).toMatch(/^nook-audit-\d{8}-\d{4}\.csv$/);
    const csv = readFileSync((await download.path()) ?? '', 'utf8').replace(/^\ufeff/, '');
    const lines = csv.trimEnd().split('\r\n');
    expect(lines[0]).toBe('id,timestamp,action,actor,ip,outcome,detail');
    expect(lines).toHaveLength(56);
    for (const line of lines.slice(1)) {
      // The formula is neutralised with a leading apostrophe, and quoted for its comma and quotes.
      expect(line).toContain(`,login,"'${actor.replace(/"/g, '""')}",`);
      expect(line).toContain(',failed,');
    }

    // A time filter in the future matches nothing, and says so.
    await page.getByLabel('Since').fill('2099-01-01T00:00');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.getByText('No entries match these filters.').waitFor();
    await ctx.close();
  });
});

describe('settings', () => {
  it('saves, shows where each value comes from, validates, and keeps values after a reload', async () => {
    const site = `Nook ${unique('home')}`;
    const { ctx, page } = await adminPage(browser, '/admin/settings');
    const general = page.getByRole('form', { name: 'General' });
    await general.getByLabel('Site name', { exact: true }).fill(site);
    await general.getByLabel('Keep audit log entries (days)', { exact: true }).fill('99999999');
    await general.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => general.locator('[data-setting="audit_retention_days"] .adm-error').textContent()).toContain('0 to 36500');
    let saved = await api<Record<string, unknown>>(await asAdmin(), 'GET', '/api/get_settings');
    expect(saved.site_name).not.toBe(site);

    await general.getByLabel('Keep audit log entries (days)', { exact: true }).fill('30');
    await general.getByRole('button', { name: 'Save' }).click();
    await expect.poll(async () => (await api<Record<string, unknown>>(await asAdmin(), 'GET', '/api/get_settings')).site_name).toBe(site);
    saved = await api<Record<string, unknown>>(await asAdmin(), 'GET', '/api/get_settings');
    expect(saved.audit_retention_days).toBe(30);

    // FTP overrides: unset ones show the config file's value; a set one says "set here".
    const ftp = page.getByRole('form', { name: 'FTP server' });
    const idle = ftp.locator('[data-setting="ftp.idle_timeout_seconds"]');
    expect(await idle.textContent()).toContain('In force: 600 — from the config file');
    await ftp.getByLabel('Idle timeout (seconds)', { exact: true }).fill('900');
    await ftp.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => idle.textContent()).toContain('In force: 900 — set here');

    await page.reload();
    const again = page.getByRole('form', { name: 'General' });
    await again.getByLabel('Site name', { exact: true }).waitFor();
    expect(await again.getByLabel('Site name', { exact: true }).inputValue()).toBe(site);
    expect(await again.getByLabel('Keep audit log entries (days)', { exact: true }).inputValue()).toBe('30');
    expect(await page.getByLabel('Idle timeout (seconds)', { exact: true }).inputValue()).toBe('900');
    await screenshot(page, 'admin-settings-saved');

    // What only the config file decides is shown read-only.
    expect(await page.getByTestId('config-command').textContent()).toContain('on — 2 programs allowed');

    // Clearing hands the value back to the config file.
    await page.getByRole('button', { name: 'Clear Idle timeout (seconds)' }).click();
    await page.getByRole('form', { name: 'FTP server' }).getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => page.locator('[data-setting="ftp.idle_timeout_seconds"]').textContent()).toContain('In force: 600 — from the config file');
    await ctx.close();
  });
});

describe('command console', () => {
  it('runs an allowed program, shows its output and exit code, shows refusals, and keeps a history', async () => {
    const { ctx, page } = await adminPage(browser, '/admin/users');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Command' }).click();
    const input = page.locator('#cmd-input');
    await input.fill('/bin/echo hello "from nook"; $(touch x)');
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    const first = page.getByRole('article').first();
    await expect.poll(() => first.getByLabel('Output').textContent()).toBe('hello from nook; $(touch x)\n');
    expect(await first.getByTestId('exit-code').textContent()).toBe('exit 0');
    expect(await first.textContent()).toMatch(/\d+ ms/);

    await input.fill('/bin/ls /');
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    await expect.poll(() => page.getByRole('article').first().textContent()).toContain('not on the allowlist');
    expect(await page.getByRole('article').count()).toBe(2);

    // ↑ recalls the previous commands.
    await input.fill('');
    await input.press('ArrowUp');
    expect(await input.inputValue()).toBe('/bin/ls /');
    await input.press('ArrowUp');
    expect(await input.inputValue()).toBe('/bin/echo hello "from nook"; $(touch x)');
    await screenshot(page, 'admin-command-runs');

    // The history stays while moving around the app.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users' }).click();
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Command' }).click();
    await expect.poll(() => page.getByRole('article').count()).toBe(2);
    await ctx.close();
  });
});

describe('about', () => {
  it('shows the running version and explains that updates are not set up', async () => {
    const version = await api<{ version: string; commit: string }>(await asAdmin(), 'GET', '/api/get_version');
    const { ctx, page } = await adminPage(browser, '/about');
    await page.getByTestId('version').waitFor();
    expect(await page.getByTestId('version').textContent()).toBe(version.version);
    expect(await page.locator('main').textContent()).toContain(version.commit);
    expect(await page.getByTestId('update-off').textContent()).toContain('[update] url and public_key');
    await ctx.close();
  });
});

describe('command runner switched off', () => {
  // Another server without [command] in its config file (its embedded app, so not in the dev loop).
  it.skipIf(process.env.NOOK_E2E_DEV === '1')('hides Command from the navigation and explains how to turn it on', async () => {
    const other = await spawnNook('');
    try {
      const ctx = await browser.newContext({ baseURL: other.url, viewport: { width: 1280, height: 800 } });
      const page = await ctx.newPage();
      await page.goto('/auth?next=%2Fadmin%2Fusers');
      await page.getByLabel('Username').fill('admin');
      await page.getByLabel('Password').fill(admin().password);
      await page.getByRole('button', { name: 'Sign in' }).click();
      const nav = page.getByRole('navigation', { name: 'Main' });
      await nav.getByRole('link', { name: 'Users' }).waitFor();
      expect(await nav.getByRole('link', { name: 'About' }).count()).toBe(1);
      expect(await nav.getByRole('link', { name: 'Command' }).count()).toBe(0);
      await page.goto('/admin/command');
      await page.getByText('The command runner is off.').waitFor();
      expect(await page.locator('#cmd-input').count()).toBe(0);
      await screenshot(page, 'admin-command-off');
      await ctx.close();
    } finally {
      await other.stop();
    }
  });
});
