import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admin, api, apiToken, baseURL, horizontalOverflow, launch, login, newContext, screenshot } from './helpers';

let browser: Browser;

beforeAll(async () => {
  browser = await launch();
});

afterAll(async () => {
  await browser?.close();
});

describe('sign in and the app shell', () => {
  it('a wrong password shows the server message and stays on the login page', async () => {
    const ctx = await newContext(browser);
    const page = await ctx.newPage();
    await page.goto('/');
    await page.waitForURL(/\/auth/);
    await page.getByLabel('Username').fill(admin().username);
    await page.getByLabel('Password').fill('not-the-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    const alert = page.locator('#login-error');
    await expect.poll(() => alert.textContent()).not.toBe('');
    expect(new URL(page.url()).pathname).toBe('/auth');
    await screenshot(page, 'login-error');
    await ctx.close();
  });

  it('signing in returns to the page asked for, and an expired session comes back there', async () => {
    const ctx = await newContext(browser);
    const page = await ctx.newPage();
    await login(page, admin().username, admin().password, '/profile');
    expect(new URL(page.url()).pathname).toBe('/profile');

    // The token dies server-side (logout from elsewhere); the next call sends the user to /auth.
    const token = await page.evaluate(() => localStorage.getItem('nook.token'));
    const res = await fetch(`${baseURL()}/api/user/logout`, { method: 'POST', headers: { Authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    await page.goto('/admin/users');
    await page.waitForURL(/\/auth\?next=%2Fadmin%2Fusers/);
    await page.getByLabel('Username').fill(admin().username);
    await page.getByLabel('Password').fill(admin().password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL((u) => u.pathname === '/admin/users');
    await ctx.close();
  });

  it('Back after logging out stays on the plain sign-in page, not one that would return to the last session’s pages', async () => {
    const ctx = await newContext(browser);
    const page = await ctx.newPage();
    await login(page, admin().username, admin().password);
    const nav = page.getByRole('navigation', { name: 'Main' });
    await nav.getByRole('link', { name: 'Command' }).click();
    await page.locator('#cmd-input').waitFor();
    await nav.getByRole('link', { name: 'Users' }).click();
    await page.waitForURL((u) => u.pathname === '/admin/users');
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL((u) => u.pathname === '/auth');
    expect(new URL(page.url()).search).toBe('');
    // Back through /admin/command and / (the pages of the session that ended).
    for (let i = 1; i <= 2; i++) {
      await page.goBack();
      await page.getByLabel('Username').waitFor();
      await page.waitForTimeout(200);
      const u = new URL(page.url());
      expect(`${u.pathname}${u.search}`, `after ${i} × Back`).toBe('/auth');
    }
    // The next person to sign in lands on the files, not on the last session's page.
    await page.getByLabel('Username').fill(admin().username);
    await page.getByLabel('Password').fill(admin().password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Log out' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/');
    await ctx.close();
  });

  it('the theme choice applies and survives a reload', async () => {
    const ctx = await newContext(browser);
    const page = await ctx.newPage();
    await login(page, admin().username, admin().password);
    await page.getByLabel('Theme').selectOption('dark');
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe('dark');
    await page.reload();
    await page.getByRole('button', { name: 'Log out' }).waitFor();
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe('dark');
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    expect(bg).toBe('rgb(17, 19, 24)');
    await screenshot(page, 'shell-dark');
    await ctx.close();
  });

  it('a 375 px phone viewport has no horizontal overflow and a working menu', async () => {
    const ctx = await newContext(browser, { width: 375, height: 740 });
    const page = await ctx.newPage();
    await login(page, admin().username, admin().password);
    expect(await horizontalOverflow(page)).toBe(0);
    const nav = page.getByRole('navigation', { name: 'Main' });
    await page.getByRole('button', { name: 'Menu' }).click();
    await nav.getByRole('link', { name: 'Profile' }).click();
    await page.waitForURL((u) => u.pathname === '/profile');
    expect(await horizontalOverflow(page)).toBe(0);
    await screenshot(page, 'shell-phone');
    await ctx.close();
  });

  it('the site name an administrator sets shows on the login page, in the title bar and the tab', async () => {
    const token = await apiToken(admin().username, admin().password);
    await api(token, 'POST', '/api/update_settings', { site_name: 'Family files' });
    try {
      const ctx = await newContext(browser);
      const page = await ctx.newPage();
      await page.goto('/auth');
      await page.getByRole('heading', { name: 'Sign in to Family files' }).waitFor();
      expect(await page.title()).toBe('Sign in · Family files');
      await login(page, admin().username, admin().password);
      await expect.poll(() => page.locator('.brand .name').textContent()).toBe('Family files');
      await expect.poll(() => page.title()).toMatch(/· Family files$/);
      await ctx.close();
    } finally {
      await api(token, 'POST', '/api/update_settings', { site_name: '' });
    }
  });
});
