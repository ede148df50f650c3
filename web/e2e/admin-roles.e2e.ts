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
    const SELF_EDIT = 'Change their own name, password and API key';
    expect((await roleMap())[EP]).toContain('user');

    // The user can change their profile now.
    const uctx = await newContext(browser);
    const upage = await uctx.newPage();
    await login(upage, username, password, '/profile');
    await upage.getByRole('heading', { name: 'Password' }).waitFor();

    const { ctx, page } = await adminPage(browser, '/admin/roles');
    try {
      await page.getByLabel('Find a permission').fill('edit_self');
      const box = page.getByRole('checkbox', { name: `user: ${SELF_EDIT}` });
      expect(await box.isChecked()).toBe(true);
      // The admin column is locked.
      expect(await page.getByRole('checkbox', { name: `admin: ${SELF_EDIT}` }).isDisabled()).toBe(true);
      await box.uncheck();
      expect(await page.getByRole('status').filter({ hasText: 'unsaved' }).textContent()).toContain('1 unsaved change');
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

    // Grant the whole FTP group at once, plus one capability, plus one single endpoint.
    await page.getByRole('checkbox', { name: `${role}: everything in FTP` }).check();
    await page.getByRole('checkbox', { name: `${role}: See which version runs` }).check();
    await page.getByLabel('Fine-tune single endpoints').check();
    await page.getByRole('checkbox', { name: `${role} may call /api/stat` }).check();
    await page.getByRole('button', { name: 'Save changes' }).click();
    await expect.poll(async () => (await roleMap())['/api/ftp/status']).toContain(role);
    const map = await roleMap();
    expect(map['/api/ftp/start']).toContain(role);
    expect(map['/api/v1/connection']).toContain(role);
    expect(map['/api/get_version']).toContain(role);
    expect(map['/api/v1/version']).toContain(role);
    expect(map['/api/stat']).toContain(role);
    expect(map['/api/finder']).not.toContain(role);
    expect(map['/api/user/create']).not.toContain(role);

    await page.goto('/admin/users');
    await page.getByRole('button', { name: 'New user' }).click();
    const options = await page.getByRole('dialog', { name: 'New user' }).getByLabel('Role').locator('option').allTextContents();
    expect(options).toContain(role);
    await ctx.close();
  });
  it('the matrix names what a role may do in plain words, grouped, with the endpoints only as detail', async () => {
    const map = await roleMap();
    const { ctx, page } = await adminPage(browser, '/admin/roles');
    try {
      const upload = page.locator('tr[data-capability="files.upload"]');
      await upload.waitFor();
      // Rows are capabilities, not endpoints: far fewer rows, labels in words, no seed notes.
      const rows = page.locator('tr[data-capability]');
      const count = await rows.count();
      expect(count).toBeGreaterThan(15);
      expect(count).toBeLessThan(Object.keys(map).length * 0.75);
      for (const label of await rows.locator('th .label').allTextContents()) {
        expect(label).not.toMatch(/\/api|seed|_/);
        expect(label).toMatch(/^[A-Z]/);
      }
      const text = await page.locator('main').innerText();
      expect(text).not.toMatch(/seed 00\d/i);
      for (const group of ['Files and folders', 'Their own account', 'Users and roles', 'FTP', 'System']) {
        expect(await page.getByRole('rowheader', { name: new RegExp(`^${group}`) }).count(), group).toBe(1);
      }
      // Every endpoint of the server's role map sits in exactly one capability, shown as detail.
      const listed = (await rows.evaluateAll((trs) => trs.flatMap((tr) => (tr.getAttribute('data-endpoints') ?? '').split(' ')))).filter(Boolean);
      expect([...listed].sort()).toEqual(Object.keys(map).sort());
      expect(new Set(listed).size).toBe(listed.length);
      expect(await upload.innerText()).toMatch(/Upload files/);
      expect(await upload.locator('.endpoints').innerText()).toContain('/api/tus/{id}');
      expect(await page.locator('tr[data-endpoint]').count()).toBe(0);
      await screenshot(page, 'admin-roles-capabilities');

      // One box grants or revokes every endpoint of a capability.
      const box = page.getByRole('checkbox', { name: 'user: Upload files' });
      expect(await box.isChecked()).toBe(true);
      await box.uncheck();
      await expect.poll(() => page.getByRole('status').filter({ hasText: 'unsaved' }).textContent()).toContain('1 unsaved change');
      await page.getByRole('button', { name: 'Save changes' }).click();
      const uploadEndpoints = ['/api/upload', '/api/put_file', '/api/tus', '/api/tus/{id}'];
      await expect.poll(async () => (await roleMap())['/api/tus']).toEqual(['admin']);
      const after = await roleMap();
      for (const e of uploadEndpoints) expect(after[e], e).toEqual(['admin']);
      expect(after['/api/download']).toContain('user');

      // Searching finds a capability by its words or by an endpoint.
      await page.getByLabel('Find a permission').fill('put_file');
      await expect.poll(() => rows.count()).toBe(1);
      await page.getByLabel('Find a permission').fill('delete');
      await page.locator('tr[data-capability="files.delete"]').waitFor();
      expect(await page.locator('tr[data-capability="files.upload"]').count()).toBe(0);
    } finally {
      await api(await asAdmin(), 'POST', '/api/role/edit', Object.fromEntries(['/api/upload', '/api/put_file', '/api/tus', '/api/tus/{id}'].map((e) => [e, map[e] ?? ['admin']])));
      await ctx.close();
    }
    // And on a phone.
    const phone = await adminPage(browser, '/admin/roles', { width: 390, height: 844 });
    await phone.page.locator('tr[data-capability="files.upload"]').waitFor();
    await screenshot(phone.page, 'admin-roles-capabilities-phone');
    await phone.ctx.close();
  });
});
