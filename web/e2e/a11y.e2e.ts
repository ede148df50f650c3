// Accessibility: axe-core (from npm, injected into the page) on every page of the app and on
// its main dialogs, in the light and the dark theme, on a desktop. Any serious or critical
// violation fails, with what and where. Also: a skip link, and one h1 on the Files page.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admin, launch, login, newContext } from './helpers';
import { entry, freshDir, mkdir, open, put } from './files-helpers';

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

let browser: Browser;

beforeAll(async () => {
  browser = await launch();
});

afterAll(async () => {
  await browser?.close();
});

interface Violation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[]; failureSummary?: string }[];
}

/** Serious and critical violations axe finds in the page as it is now, as readable lines. */
async function audit(page: Page, what: string): Promise<string[]> {
  // Let transitions and lazy content settle: contrast is measured on what is painted.
  await page.waitForTimeout(300);
  if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ content: axeSource });
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (ctx: Document, opts: object) => Promise<{ violations: unknown[] }> } }).axe;
    return (await axe.run(document, { resultTypes: ['violations'] })).violations;
  });
  return (violations as Violation[])
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .flatMap((v) =>
      v.nodes.map((n) => `${what}: ${v.impact} ${v.id} (${v.help}) at ${n.target.join(' ')}: ${(n.failureSummary ?? '').replace(/\s+/g, ' ').trim()}`),
    );
}

/** Each page, how to know it has loaded, and what to open on it too. */
const PAGES: { path: string; ready: (p: Page) => Promise<unknown> }[] = [
  { path: '/admin/users', ready: (p) => p.locator('tr[data-user="admin"]').waitFor() },
  { path: '/admin/roles', ready: (p) => p.locator('tr[data-capability="files.browse"]').waitFor() },
  { path: '/admin/ftp', ready: (p) => p.getByTestId('ftp-state').waitFor() },
  { path: '/admin/resources', ready: (p) => p.getByTestId('stat-cpu').waitFor() },
  { path: '/admin/logs', ready: (p) => p.locator('tr[data-log-id]').first().waitFor() },
  { path: '/admin/settings', ready: (p) => p.locator('[data-setting="site_name"]').waitFor() },
  { path: '/admin/command', ready: (p) => p.locator('#cmd-input').waitFor() },
  { path: '/about', ready: (p) => p.getByTestId('version').waitFor() },
  { path: '/profile', ready: (p) => p.getByRole('heading', { name: 'Password' }).waitFor() },
  { path: '/no-such-page', ready: (p) => p.getByRole('heading', { name: 'Page not found' }).waitFor() },
];

for (const scheme of ['light', 'dark'] as const) {
  describe(`axe-core, ${scheme} theme`, () => {
    it('finds no serious or critical violation on any page or main dialog', async () => {
      const dir = await freshDir(`a11y-${scheme}`);
      await mkdir(`${dir}/Photos`);
      await put(`${dir}/notes.txt`, 'some notes\n');
      await put(`${dir}/readme.md`, '# Read me\n\nA [link](https://example.invalid) and `code`.\n');
      await put(`${dir}/report.pdf`, '%PDF-1.4\n');
      const found: string[] = [];
      // bypassCSP: the app's CSP (script-src 'self') would refuse the injected axe script.
      const ctx = await newContext(browser, { width: 1440, height: 900, colorScheme: scheme, bypassCSP: true });
      const page = await ctx.newPage();

      await page.goto('/auth');
      await page.getByLabel('Username').waitFor();
      found.push(...(await audit(page, '/auth')));
      await page.getByLabel('Username').fill(admin().username);
      await page.getByLabel('Password').fill('wrong password');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await expect.poll(() => page.locator('#login-error').textContent()).not.toBe('');
      found.push(...(await audit(page, '/auth with an error')));
      await login(page, admin().username, admin().password);

      // The file manager: list, a selection with its bar, the menu, grid, preview, dialogs.
      await open(page, dir);
      await entry(page, 'notes.txt').waitFor();
      found.push(...(await audit(page, 'files list')));
      await entry(page, 'notes.txt').click();
      found.push(...(await audit(page, 'files with a selection')));
      await entry(page, 'notes.txt').click({ button: 'right' });
      await page.getByRole('menu').waitFor();
      found.push(...(await audit(page, 'files menu')));
      await page.keyboard.press('Escape');
      await page.keyboard.press('Delete');
      await page.getByRole('dialog', { name: 'Delete this item?' }).waitFor();
      found.push(...(await audit(page, 'delete dialog')));
      await page.keyboard.press('Escape');
      await page.getByRole('button', { name: 'New folder' }).click();
      await page.getByRole('dialog', { name: 'New folder' }).waitFor();
      found.push(...(await audit(page, 'new folder dialog')));
      await page.keyboard.press('Escape');
      await page.getByRole('button', { name: 'Grid view' }).click();
      await expect.poll(() => page.locator('#entries.grid').count()).toBe(1);
      found.push(...(await audit(page, 'files grid')));
      await page.getByRole('button', { name: 'List view' }).click();
      await entry(page, 'readme.md').dblclick();
      await page.getByRole('heading', { name: 'Read me' }).waitFor();
      found.push(...(await audit(page, 'markdown preview')));
      await page.keyboard.press('Escape');
      await page.goto(`/preview?path=${encodeURIComponent(`${dir}/notes.txt`)}`);
      await expect.poll(() => page.locator('.cm-content').textContent()).toContain('some notes');
      found.push(...(await audit(page, '/preview')));
      await page.getByRole('button', { name: 'Edit' }).click();
      await expect.poll(() => page.locator('.cm-content').getAttribute('contenteditable')).toBe('true');
      found.push(...(await audit(page, 'editor')));

      for (const p of PAGES) {
        await page.goto(p.path);
        await p.ready(page);
        found.push(...(await audit(page, p.path)));
      }
      // The biggest forms, in their dialogs.
      for (const [path, button, dialog] of [
        ['/admin/users', 'New user', 'New user'],
        ['/admin/ftp', 'New account', 'New FTP account'],
      ] as const) {
        await page.goto(path);
        await page.getByRole('button', { name: button }).click();
        await page.getByRole('dialog', { name: dialog }).waitFor();
        found.push(...(await audit(page, `${dialog} dialog`)));
      }
      await page.goto('/admin/users');
      await page.locator('tr[data-user="admin"]').waitFor();
      await page.getByRole('button', { name: 'New key for admin' }).click();
      await page.getByRole('dialog', { name: /New API key for admin/ }).waitFor();
      found.push(...(await audit(page, 'new key dialog')));
      await ctx.close();
      expect(found, `\n${found.join('\n')}\n`).toEqual([]);
    });
  });
}

/** Puts the keyboard's starting point at the top of the document (as after a page load). */
function focusStart() {
  document.body.tabIndex = -1;
  document.body.focus();
  document.body.removeAttribute('tabindex');
}

describe('keyboard', () => {
  it('a skip link is the first Tab stop and jumps to the content: the Files toolbar is a few Tabs away', async () => {
    const dir = await freshDir('skip');
    await put(`${dir}/a.txt`, 'a');
    const ctx = await newContext(browser, { width: 1440, height: 900 });
    const page = await ctx.newPage();
    await login(page, admin().username, admin().password);
    await open(page, dir);
    await entry(page, 'a.txt').waitFor();
    // The Files page has its one h1.
    expect(await page.getByRole('heading', { level: 1 }).count()).toBe(1);
    await page.evaluate(focusStart);
    await page.keyboard.press('Tab');
    const skip = page.getByRole('link', { name: 'Skip to content' });
    expect(await skip.evaluate((el) => el === document.activeElement)).toBe(true);
    // Visible while focused.
    const box = await skip.boundingBox();
    expect(box && box.width > 20 && box.height > 10 && box.y >= 0).toBe(true);
    await page.keyboard.press('Enter');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('main');
    let tabs = 0;
    for (; tabs < 20; tabs++) {
      if (await page.evaluate(() => document.activeElement?.textContent?.trim() === 'Upload')) break;
      await page.keyboard.press('Tab');
    }
    expect(tabs, 'Tabs from the skip link to the Upload button').toBeLessThanOrEqual(4);
    // The same link on an admin page.
    await page.goto('/admin/users');
    await page.locator('tr[data-user="admin"]').waitFor();
    await page.evaluate(focusStart);
    await page.keyboard.press('Tab');
    expect(await skip.evaluate((el) => el === document.activeElement)).toBe(true);
    await page.keyboard.press('Enter');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('main');
    await ctx.close();
  });
});
