import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admin, horizontalOverflow, launch, login, newContext, screenshot } from './helpers';
import { entry, freshDir, mkdir, open, put } from './files-helpers';

let browser: Browser;

beforeAll(async () => {
  browser = await launch();
});

afterAll(async () => {
  await browser?.close();
});

describe('browsing', () => {
  it('opens folders, shows their entries, and goes back with the breadcrumbs', async () => {
    const dir = await freshDir('browse');
    await mkdir(`${dir}/Photos`);
    await mkdir(`${dir}/Photos/2024`);
    await put(`${dir}/notes.txt`, 'hello');
    await put(`${dir}/Photos/2024/readme.md`, '# Trip\n\nSome *words*.');
    const ctx = await newContext(browser);
    const page = await ctx.newPage();
    await login(page, admin().username, admin().password);
    await open(page, dir);
    await entry(page, 'Photos').waitFor();
    await expect.poll(() => entry(page, 'notes.txt').isVisible()).toBe(true);
    await entry(page, 'Photos').dblclick();
    await entry(page, '2024').waitFor();
    expect(new URL(page.url()).searchParams.get('path')).toBe(`${dir}/Photos`);
    await entry(page, '2024').dblclick();
    await entry(page, 'readme.md').waitFor();
    await screenshot(page, 'files-list-light');
    const crumbs = page.getByRole('navigation', { name: 'Folder path' });
    await crumbs.getByRole('link', { name: dir.slice(1) }).click();
    await entry(page, 'notes.txt').waitFor();
    expect(new URL(page.url()).searchParams.get('path')).toBe(dir);
    expect(await horizontalOverflow(page)).toBe(0);
    await ctx.close();
  });
});
