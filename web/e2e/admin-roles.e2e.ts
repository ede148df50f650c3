import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminPage, asAdmin, callStatus, createUser, unique } from './admin-helpers';
import { api, apiToken, launch, login, newContext, screenshot } from './helpers';

let browser: Browser;

beforeAll(async () => {
  browser = await launch();
});

afterAll(async () => {
  await browser?.close();
});

type RoleMap = Record<string, string[]>;
const roleMap = async () => api<RoleMap>(await asAdmin(), 'GET', '/api/role/get');

describe('roles', () => {
  it('removing an endpoint from role user in the matrix takes effect in the API and in the user’s UI', async () => {
    const username = unique('rita');
    const password = 'rita-password-1';
    await createUser(username, password);
    const EP = '/api/user/edit_self';
    expect((await roleMap())[EP]).toContain('user');

    // The user can change their profile now.
    const uctx = await newContext(browser);
    const upage = await uctx.newPage();
    await login(upage, username, password, '/profile');
    await upage.getByRole('heading', { name: 'Password' }).waitFor();

    const { ctx, page } = await adminPage(browser, '/admin/roles');
    try {
      await page.getByLabel('Find an endpoint').fill('edit_self');
      const box = page.getByRole('checkbox', { name: `user may call ${EP}` });
      expect(await box.isChecked()).toBe(true);
      // The admin column is locked.
      expect(await page.getByRole('checkbox', { name: `admin may call ${EP}` }).isDisabled()).toBe(true);
      await box.uncheck();
      expect(await page.getByRole('status').filter({ hasText: 'changed' }).textContent()).toContain('1 endpoint changed');
      await screenshot(page, 'admin-roles-edit');
      await page.getByRole('button', { name: 'Save changes' }).click();
      await expect.poll(async () => (await roleMap())[EP]).toEqual(['admin']);
      await expect.poll(() => page.getByRole('status').filter({ hasText: 'unsaved' }).textContent()).toContain('No unsaved changes');

      // The API refuses it, and the user's profile no longer offers it.
      const token = await apiToken(username, password);
      expect(await callStatus(token, 'POST', EP, { name: 'x' })).toEqual({ status: 403, code: 'role_forbidden' });
      await upage.reload();
      await upage.getByTestId('profile-readonly').waitFor();
      expect(await upage.getByRole('heading', { name: 'Password' }).count()).toBe(0);
      await screenshot(upage, 'admin-roles-user-profile-readonly');
    } finally {
      await api(await asAdmin(), 'POST', '/api/role/edit', { [EP]: ['admin', 'user'] });
      await ctx.close();
      await uctx.close();
    }
  });

  it('a new role gets endpoints in the matrix and becomes a choice for users', async () => {
    const role = unique('ops');
    const { ctx, page } = await adminPage(browser, '/admin/roles');
    await page.getByLabel('New role').fill('Not Valid');
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    await expect.poll(() => page.locator('#roles-new-error').textContent()).toMatch(/a-z/);
    await page.getByLabel('New role').fill(role);
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    await page.getByRole('columnheader', { name: role }).waitFor();

    // Grant the whole FTP group at once, plus one endpoint.
    await page.getByRole('checkbox', { name: `${role} may call everything in FTP server and accounts` }).check();
    await page.getByRole('checkbox', { name: `${role} may call /api/get_version` }).check();
    await page.getByRole('button', { name: 'Save changes' }).click();
    await expect.poll(async () => (await roleMap())['/api/ftp/status']).toContain(role);
    const map = await roleMap();
    expect(map['/api/ftp/start']).toContain(role);
    expect(map['/api/get_version']).toContain(role);
    expect(map['/api/user/create']).not.toContain(role);

    await page.goto('/admin/users');
    await page.getByRole('button', { name: 'New user' }).click();
    const options = await page.getByRole('dialog', { name: 'New user' }).getByLabel('Role').locator('option').allTextContents();
    expect(options).toContain(role);
    await ctx.close();
  });
});
