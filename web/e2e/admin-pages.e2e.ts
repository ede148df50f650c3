// Every admin page and the profile, on a desktop and a 375 px phone, in light and dark: each
// renders its content, nothing scrolls the page sideways, and a screenshot is saved to look at.

import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminPage } from './admin-helpers';
import { horizontalOverflow, launch, screenshot } from './helpers';

let browser: Browser;

beforeAll(async () => {
  browser = await launch();
});

afterAll(async () => {
  await browser?.close();
});

/** Each page and what shows it has loaded its data. */
const PAGES: { path: string; name: string; ready: (p: Page) => Promise<unknown> }[] = [
  { path: '/admin/users', name: 'users', ready: (p) => p.locator('tr[data-user="admin"]').waitFor() },
  { path: '/admin/roles', name: 'roles', ready: (p) => p.locator('tr[data-capability="files.browse"]').waitFor() },
  { path: '/admin/ftp', name: 'ftp', ready: (p) => p.getByTestId('ftp-state').waitFor() },
  { path: '/admin/resources', name: 'resources', ready: (p) => p.getByTestId('stat-cpu').waitFor() },
  { path: '/admin/logs', name: 'logs', ready: (p) => p.locator('tr[data-log-id]').first().waitFor() },
  { path: '/admin/settings', name: 'settings', ready: (p) => p.locator('[data-setting="site_name"]').waitFor() },
  { path: '/admin/command', name: 'command', ready: (p) => p.locator('#cmd-input').waitFor() },
  { path: '/about', name: 'about', ready: (p) => p.getByTestId('version').waitFor() },
  { path: '/profile', name: 'profile', ready: (p) => p.getByRole('heading', { name: 'Password' }).waitFor() },
];

for (const scheme of ['light', 'dark'] as const) {
  describe(`every admin page, ${scheme}`, () => {
    it('renders on a desktop', async () => {
      const { ctx, page } = await adminPage(browser, '/admin/users', { colorScheme: scheme });
      for (const p of PAGES) {
        await page.goto(p.path);
        await p.ready(page);
        expect(await page.getByRole('heading', { level: 1 }).count()).toBe(1);
        expect(await horizontalOverflow(page), `${p.path} overflows`).toBe(0);
        await screenshot(page, `admin-${p.name}-${scheme}`);
      }
      await ctx.close();
    });

    it('fits a 375 px (and a 360 px) phone without sideways scrolling', async () => {
      const { ctx, page } = await adminPage(browser, '/admin/users', { colorScheme: scheme, width: 375, height: 740 });
      for (const p of PAGES) {
        await page.goto(p.path);
        await p.ready(page);
        expect(await horizontalOverflow(page), `${p.path} overflows at 375 px`).toBe(0);
        await screenshot(page, `admin-${p.name}-${scheme}-phone`);
        // The smallest phones we aim for.
        await page.setViewportSize({ width: 360, height: 740 });
        expect(await horizontalOverflow(page), `${p.path} overflows at 360 px`).toBe(0);
        await page.setViewportSize({ width: 375, height: 740 });
      }
      // The two biggest forms, in their dialogs.
      for (const [path, button, dialog, name] of [
        ['/admin/users', 'New user', 'New user', 'users-form'],
        ['/admin/ftp', 'New account', 'New FTP account', 'ftp-form'],
      ] as const) {
        await page.goto(path);
        await page.getByRole('button', { name: button }).click();
        await page.getByRole('dialog', { name: dialog }).waitFor();
        expect(await horizontalOverflow(page), `${dialog} overflows`).toBe(0);
        const box = await page.getByRole('dialog', { name: dialog }).boundingBox();
        expect((box?.x ?? -1) >= 0 && (box?.x ?? 0) + (box?.width ?? 0) <= 375).toBe(true);
        await screenshot(page, `admin-${name}-${scheme}-phone`);
      }
      await ctx.close();
    });
  });
}
