import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, unique } from './admin-helpers';
import { apiToken, baseURL, launch, login, newContext, screenshot } from './helpers';

let browser: Browser;

beforeAll(async () => {
  browser = await launch();
});

afterAll(async () => {
  await browser?.close();
});

const loginStatus = async (username: string, password: string) =>
  (
    await fetch(`${baseURL()}/api/user/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username, password }),
    })
  ).status;

describe('profile', () => {
  it('a user changes their name, password, API key and theme, then signs out everywhere', async () => {
    const username = unique('pat');
    const oldPassword = 'pat-password-old';
    const newPassword = 'pat-password-new';
    await createUser(username, oldPassword);
    const otherSession = await apiToken(username, oldPassword);

    const ctx = await newContext(browser);
    const page = await ctx.newPage();
    await login(page, username, oldPassword, '/profile');
    await page.getByRole('heading', { name: 'Your profile' }).waitFor();

    // Name: the top bar follows.
    await page.getByLabel('Display name').fill('Pat Example');
    await page.getByRole('button', { name: 'Save name' }).click();
    await expect.poll(() => page.locator('header').first().textContent()).toContain('Pat Example');

    // A wrong current password is refused with the server's message.
    const pw = page.getByRole('form', { name: 'Password' });
    await pw.getByLabel('Current password').fill('not-my-password');
    await pw.getByLabel('New password', { exact: true }).fill(newPassword);
    await pw.getByLabel('New password again').fill(newPassword);
    await pw.getByRole('button', { name: 'Change password' }).click();
    await expect.poll(() => pw.locator('.adm-error').textContent()).toMatch(/password/i);
    expect(await loginStatus(username, oldPassword)).toBe(200);

    await pw.getByLabel('Current password').fill(oldPassword);
    await pw.getByRole('button', { name: 'Change password' }).click();
    await expect.poll(() => pw.getByLabel('Current password').inputValue()).toBe('');
    expect(await pw.locator('.adm-error').textContent()).toBe('');
    expect(await loginStatus(username, oldPassword)).toBe(401);
    expect(await loginStatus(username, newPassword)).toBe(200);
    // Other sessions ended; this one continues with the fresh token.
    const other = await fetch(`${baseURL()}/api/user/get_self`, { headers: { Authorization: `Bearer ${otherSession}` } });
    expect(other.status).toBe(401);
    await page.reload();
    await page.getByRole('heading', { name: 'Your profile' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/profile');

    // A new API key, shown once, that works.
    await page.getByRole('button', { name: 'Create a new API key' }).click();
    const dlg = page.getByRole('dialog', { name: 'New API key' });
    await dlg.getByRole('button', { name: 'Create new key' }).click();
    const key = await dlg.getByRole('textbox', { name: 'API key' }).inputValue();
    expect(await dlg.textContent()).toContain("You won't see it again");
    const viaKey = await fetch(`${baseURL()}/api/user/get_self`, { headers: { 'X-API-KEY': key } });
    expect(viaKey.status).toBe(200);
    await screenshot(page, 'admin-profile-key');
    await dlg.getByRole('button', { name: 'Done' }).click();

    // Theme.
    await page.getByRole('radio', { name: 'Dark' }).check();
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe('dark');
    await page.getByRole('radio', { name: 'Like my device' }).check();
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBeUndefined();

    // Signing out ends the session on the server too.
    const token = await page.evaluate(() => localStorage.getItem('nook.token'));
    await page.getByRole('button', { name: 'Sign out everywhere' }).click();
    await page.waitForURL((u) => u.pathname === '/auth');
    const after = await fetch(`${baseURL()}/api/user/get_self`, { headers: { Authorization: `Bearer ${token}` } });
    expect(after.status).toBe(401);
    await ctx.close();
  });
});
