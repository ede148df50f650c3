import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminPage, asAdmin, callStatus, createUser, topFolder, unique } from './admin-helpers';
import { api, apiToken, baseURL, launch, login, newContext, screenshot } from './helpers';

let browser: Browser;

beforeAll(async () => {
  browser = await launch();
});

afterAll(async () => {
  await browser?.close();
});

interface UserRow {
  id: number;
  username: string;
  role: string;
  paths: string;
  paths_write: string;
  disabled: boolean;
}

async function userRow(username: string): Promise<UserRow | undefined> {
  const all = await api<UserRow[]>(await asAdmin(), 'GET', '/api/user/get_all');
  return all.find((u) => u.username === username);
}

describe('users', () => {
  it('an admin creates a user with readable and writable folders, and that user sees only those', async () => {
    const tag = unique('uf');
    const readable = await topFolder(`${tag}-read`);
    const writable = await topFolder(`${tag}-write`);
    const hidden = await topFolder(`${tag}-hidden`);
    const username = unique('alice');
    const password = 'alice-password-1';

    const { ctx, page } = await adminPage(browser, '/admin/users');
    await page.getByRole('button', { name: 'New user' }).click();
    const form = page.getByRole('dialog', { name: 'New user' });
    await form.getByLabel('Username').fill(username);
    await form.getByLabel('Display name').fill('Alice Example');
    await form.getByLabel('Password', { exact: true }).fill(password);
    await form.getByLabel('Role').selectOption('user');

    // Readable: browse to the folder in the picker and add it.
    await form.getByRole('group', { name: 'Readable folders' }).getByRole('button', { name: 'Add folder…' }).click();
    let picker = page.getByRole('dialog', { name: 'Add to readable folders' });
    await picker.getByRole('button', { name: readable.slice(1), exact: true }).click();
    await expect.poll(() => picker.locator('.chosen').textContent()).toBe(readable);
    await picker.getByRole('button', { name: 'Add this folder' }).click();
    await form.getByRole('group', { name: 'Writable folders' }).getByRole('button', { name: 'Add folder…' }).click();
    picker = page.getByRole('dialog', { name: 'Add to writable folders' });
    await picker.getByRole('button', { name: writable.slice(1), exact: true }).click();
    await expect.poll(() => picker.locator('.chosen').textContent()).toBe(writable);
    await picker.getByRole('button', { name: 'Add this folder' }).click();
    await expect.poll(() => form.getByRole('list', { name: 'Readable folders' }).textContent()).toContain(readable);
    await screenshot(page, 'admin-users-form');
    await form.getByRole('button', { name: 'Create user' }).click();

    // The API key is shown once, with a copy button.
    const keyDialog = page.getByRole('dialog', { name: `API key for ${username}` });
    await keyDialog.waitFor();
    expect(await keyDialog.textContent()).toContain("You won't see it again");
    const key = await keyDialog.getByRole('textbox', { name: 'API key' }).inputValue();
    expect(key.length).toBeGreaterThan(20);
    await keyDialog.getByRole('button', { name: 'Copy' }).click();
    await expect.poll(() => keyDialog.getByRole('status').textContent()).toContain('Copied');
    const self = await fetch(`${baseURL()}/api/user/get_self`, { headers: { 'X-API-KEY': key } });
    expect(self.status).toBe(200);
    expect(((await self.json()) as { username: string }).username).toBe(username);
    await keyDialog.getByRole('button', { name: 'Done' }).click();

    // Stored as chosen, and listed.
    const row = await userRow(username);
    expect(row?.role).toBe('user');
    expect(JSON.parse(row?.paths ?? '[]')).toEqual([readable]);
    expect(JSON.parse(row?.paths_write ?? '[]')).toEqual([writable]);
    const tr = page.locator(`tr[data-user="${username}"]`);
    expect(await tr.textContent()).toContain(readable);
    await screenshot(page, 'admin-users');
    await ctx.close();

    // The user, signing in, sees only those folders and no administration.
    const uctx = await newContext(browser);
    const upage = await uctx.newPage();
    await login(upage, username, password);
    const main = upage.getByRole('main');
    await expect.poll(() => main.textContent(), { timeout: 10_000 }).toContain(readable.slice(1));
    const text = (await main.textContent()) ?? '';
    expect(text).toContain(writable.slice(1));
    expect(text).not.toContain(hidden.slice(1));
    const nav = upage.getByRole('navigation', { name: 'Main' });
    expect(await nav.getByRole('link', { name: 'Users' }).count()).toBe(0);
    await upage.goto('/admin/users');
    await upage.getByRole('heading', { name: 'Not available' }).waitFor();
    const token = await apiToken(username, password);
    expect(await callStatus(token, 'GET', '/api/user/get_all')).toEqual({ status: 403, code: 'role_forbidden' });
    await uctx.close();
  });

  it('refusals show the server message: weak password, bad name, deleting the last admin', async () => {
    const { ctx, page } = await adminPage(browser, '/admin/users');
    await page.getByRole('button', { name: 'New user' }).click();
    const form = page.getByRole('dialog', { name: 'New user' });
    await form.getByLabel('Username').fill(unique('weak'));
    await form.getByLabel('Password', { exact: true }).fill('short');
    await form.getByRole('button', { name: 'Create user' }).click();
    await expect.poll(() => form.getByRole('alert').textContent()).toMatch(/password/i);
    await form.getByLabel('Username').fill('bad name!');
    await form.getByLabel('Password', { exact: true }).fill('long-enough-password');
    await form.getByRole('button', { name: 'Create user' }).click();
    await expect.poll(() => form.getByRole('alert').textContent()).toMatch(/name/i);
    await screenshot(page, 'admin-users-refusal');
    await form.getByRole('button', { name: 'Cancel' }).click();

    // The admin is the only enabled admin: deleting it is refused with the server's message.
    await page.locator('tr[data-user="admin"]').getByRole('button', { name: 'Delete admin' }).click();
    const confirm = page.getByRole('dialog', { name: 'Delete admin?' });
    await confirm.getByRole('button', { name: 'Delete user' }).click();
    await expect.poll(() => confirm.getByRole('alert').textContent()).toMatch(/admin/i);
    expect(await userRow('admin')).toBeDefined();
    await ctx.close();
  });

  it('edits, disables, regenerates the key of, and deletes a user', async () => {
    const username = unique('bob');
    await createUser(username, 'bob-password-1');
    const { ctx, page } = await adminPage(browser, '/admin/users');
    const tr = page.locator(`tr[data-user="${username}"]`);

    await tr.getByRole('button', { name: `Edit ${username}` }).click();
    const form = page.getByRole('dialog', { name: `Edit ${username}` });
    await form.getByLabel('Display name').fill('Bob Builder');
    await form.getByRole('button', { name: 'Save changes' }).click();
    await expect.poll(() => tr.textContent()).toContain('Bob Builder');

    await tr.getByRole('button', { name: `Disable ${username}` }).click();
    await expect.poll(async () => (await userRow(username))?.disabled).toBe(true);
    await expect.poll(() => tr.textContent()).toContain('Disabled');
    const refused = await fetch(`${baseURL()}/api/user/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username, password: 'bob-password-1' }),
    });
    expect(refused.status).toBe(401);
    await tr.getByRole('button', { name: `Enable ${username}` }).click();
    await expect.poll(async () => (await userRow(username))?.disabled).toBe(false);

    await tr.getByRole('button', { name: `New key for ${username}` }).click();
    await page.getByRole('dialog', { name: `New API key for ${username}?` }).getByRole('button', { name: 'Create new key' }).click();
    const keyDialog = page.getByRole('dialog', { name: `API key for ${username}` });
    const key = await keyDialog.getByRole('textbox', { name: 'API key' }).inputValue();
    const self = await fetch(`${baseURL()}/api/user/get_self`, { headers: { 'X-API-KEY': key } });
    expect(self.status).toBe(200);
    await keyDialog.getByRole('button', { name: 'Done' }).click();

    await tr.getByRole('button', { name: `Delete ${username}` }).click();
    await page.getByRole('dialog', { name: `Delete ${username}?` }).getByRole('button', { name: 'Delete user' }).click();
    await tr.waitFor({ state: 'detached' });
    expect(await userRow(username)).toBeUndefined();
    await ctx.close();
  });
});
