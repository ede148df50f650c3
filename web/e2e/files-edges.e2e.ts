// The file manager's rough edges, each checked in a real Chromium against the real binary:
// names shown as they are, Move here where it would do nothing, the search box's text, the
// upload count, a phone's long press, zip names, and what stays in view in a long folder.

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admin, launch, login, newContext, SCREENSHOTS, screenshot } from './helpers';
import { bytesOf, entry, freshDir, mkdir, names, open, put, writeDirect, zipNames } from './files-helpers';

let browser: Browser;

beforeAll(async () => {
  browser = await launch();
});

afterAll(async () => {
  await browser?.close();
});

async function signedIn(opts: Parameters<typeof newContext>[1] = {}): Promise<Page> {
  const ctx = await newContext(browser, opts);
  const page = await ctx.newPage();
  await login(page, admin().username, admin().password);
  return page;
}

/** The entry of `path` (by its data attribute, so names with odd spaces match exactly). */
const at = (page: Page, path: string) => page.locator(`#entries [data-path="${path.replace(/"/g, '\\"')}"]`);

describe('names', () => {
  it('names with leading and doubled spaces are shown as they are, not collapsed', async () => {
    const dir = await freshDir('spaces');
    const file = '  a   b.txt';
    const folder = 'x  y';
    await put(`${dir}/${file}`, 'spaced');
    await mkdir(`${dir}/${folder}`);
    expect((await names(dir)).sort()).toEqual([file, folder].sort());
    const page = await signedIn();
    await open(page, dir);
    const row = at(page, `${dir}/${file}`);
    await row.waitFor();
    // innerText is what is rendered: collapsed spaces would show there.
    expect(await row.locator('.name').innerText()).toBe(file);
    // The menu's title, and the preview's.
    await row.click({ button: 'right' });
    expect(await page.getByRole('menu').locator('.title').innerText()).toBe(file);
    await page.keyboard.press('Escape');
    await row.dblclick();
    const viewer = page.locator('.viewer');
    await viewer.waitFor();
    expect(await viewer.locator('h2').innerText()).toBe(file);
    await page.keyboard.press('Escape');
    await expect.poll(() => page.locator('.viewer').count()).toBe(0);
    // The grid's tiles.
    await page.getByRole('button', { name: 'Grid view' }).click();
    await expect.poll(() => page.locator('#entries.grid').count()).toBe(1);
    expect(await at(page, `${dir}/${file}`).locator('.name').innerText()).toBe(file);
    await page.getByRole('button', { name: 'List view' }).click();
    // The breadcrumbs of a folder with doubled spaces.
    await at(page, `${dir}/${folder}`).dblclick();
    await page.getByText('This folder is empty.').waitFor();
    const crumb = page.getByRole('navigation', { name: 'Folder path' }).locator('a[aria-current="page"]');
    expect(await crumb.innerText()).toBe(folder);
    await page.context().close();
  });
});

describe('move and copy', () => {
  it('“Move here” is disabled where the items already are, and inside a folder being moved', async () => {
    const dir = await freshDir('movehere');
    await mkdir(`${dir}/sub`);
    await mkdir(`${dir}/sub/inner`);
    await put(`${dir}/a.txt`, 'a');
    await put(`${dir}/b.txt`, 'b');
    const page = await signedIn();
    await open(page, dir);
    await entry(page, 'a.txt').click();
    await entry(page, 'b.txt').click({ modifiers: ['Control'] });
    await entry(page, 'b.txt').click({ button: 'right' });
    await page.getByRole('menuitem', { name: 'Move to…' }).click();
    const dlg = page.getByRole('dialog', { name: 'Move 2 items to…' });
    const moveHere = dlg.getByRole('button', { name: 'Move here' });
    await expect.poll(() => dlg.textContent()).toContain('sub');
    // The picker opens on the items' own folder: moving there would do nothing.
    expect(await moveHere.isDisabled()).toBe(true);
    expect(await dlg.textContent()).toContain('They are already in this folder.');
    await screenshot(page, 'files-move-here-disabled');
    await dlg.getByRole('button', { name: 'sub', exact: true }).click();
    await expect.poll(() => moveHere.isDisabled()).toBe(false);
    await moveHere.click();
    await expect.poll(() => names(`${dir}/sub`)).toEqual(expect.arrayContaining(['a.txt', 'b.txt']));

    // A folder cannot go into itself or below itself.
    await entry(page, 'sub').click({ button: 'right' });
    await page.getByRole('menuitem', { name: 'Move to…' }).click();
    const one = page.getByRole('dialog', { name: 'Move “sub” to…' });
    const here = one.getByRole('button', { name: 'Move here' });
    await expect.poll(() => one.textContent()).toContain('sub');
    expect(await here.isDisabled()).toBe(true);
    await one.getByRole('button', { name: 'sub', exact: true }).click();
    await expect.poll(() => one.textContent()).toContain('A folder cannot be moved into itself.');
    expect(await here.isDisabled()).toBe(true);
    await one.getByRole('button', { name: 'inner', exact: true }).click();
    await expect.poll(() => one.textContent()).toContain(`${dir}/sub/inner`);
    expect(await here.isDisabled()).toBe(true);
    // Copying into the same folder stays possible (it makes “name (copy)”).
    await page.keyboard.press('Escape');
    await entry(page, 'sub').click({ button: 'right' });
    await page.getByRole('menuitem', { name: 'Copy to…' }).click();
    const copy = page.getByRole('dialog', { name: 'Copy “sub” to…' });
    await expect.poll(() => copy.textContent()).toContain('sub');
    expect(await copy.getByRole('button', { name: 'Copy here' }).isDisabled()).toBe(false);
    await page.context().close();
  });
});

describe('search box', () => {
  it('says that it searches subfolders too, and its placeholder fits at every width with the full admin toolbar', async () => {
    const dir = await freshDir('placeholder');
    await put(`${dir}/x.txt`, 'x');
    const page = await signedIn({ width: 1440, height: 900 });
    await open(page, dir);
    await entry(page, 'x.txt').waitFor();
    const box = page.getByRole('searchbox');
    expect(await box.getAttribute('placeholder')).toMatch(/subfolders/);
    expect(await box.getAttribute('placeholder')).not.toMatch(/in this folder/);
    expect(await page.getByRole('searchbox', { name: /subfolders/ }).count()).toBe(1);
    // The admin sees every toolbar button (upload, folder, new folder, new file).
    for (const name of ['Upload', 'Upload a folder', 'New folder', 'New file']) {
      expect(await page.getByRole('button', { name, exact: true }).count()).toBe(1);
    }
    const room = () =>
      page.locator('#files-search').evaluate((el) => {
        const input = el as HTMLInputElement;
        const cs = getComputedStyle(input);
        const c = document.createElement('canvas').getContext('2d');
        if (!c) return { text: 0, room: 0 };
        c.font = `${cs.fontStyle} ${cs.fontWeight} ${cs.fontSize} ${cs.fontFamily}`;
        return { text: Math.ceil(c.measureText(input.placeholder).width), room: Math.floor(input.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight)) };
      });
    for (const width of [1440, 1280, 1100, 1024, 900, 800, 761, 760, 600, 390, 360]) {
      await page.setViewportSize({ width, height: 900 });
      await page.waitForTimeout(50);
      const r = await room();
      expect(r.text, `placeholder clipped at ${width} px: ${r.text} px of text in ${r.room} px`).toBeLessThanOrEqual(r.room);
      if (width === 1440 || width === 1024 || width === 390) await page.screenshot({ path: join(SCREENSHOTS, `files-toolbar-${width}.png`) });
    }
    await page.context().close();
  });
});

describe('upload panel', () => {
  it('counts the files done: “3 of 4” while the last one still runs', async () => {
    const dir = await freshDir('count');
    const page = await signedIn();
    await open(page, dir);
    await page.getByText('This folder is empty.').waitFor();
    // Hold the fourth upload request until the panel has been read.
    let seen = 0;
    let release: () => void = () => {};
    const held = new Promise<void>((r) => (release = r));
    await page.route('**/api/upload', async (route) => {
      seen += 1;
      if (seen === 4) await held;
      await route.continue();
    });
    await page.locator('input[type=file][multiple]').setInputFiles(
      ['a', 'b', 'c', 'd'].map((n) => ({ name: `${n}.txt`, mimeType: 'text/plain', buffer: Buffer.from(`file ${n}`) })),
    );
    const panel = page.getByRole('region', { name: 'Uploads' });
    await expect.poll(() => panel.getByText('Done', { exact: true }).count(), { timeout: 20_000 }).toBe(3);
    await expect.poll(() => panel.locator('header strong').textContent()).toBe('Uploading: 3 of 4 files done');
    await screenshot(page, 'files-upload-count');
    release();
    await expect.poll(() => panel.locator('header strong').textContent(), { timeout: 20_000 }).toBe('Uploads: 4 done');
    expect((await names(dir)).sort()).toEqual(['a.txt', 'b.txt', 'c.txt', 'd.txt']);
    await page.context().close();
  });
});

describe('phone', () => {
  /** A finger held on the middle of `el` for `ms`, then lifted (real touch events). */
  async function press(page: Page, el: ReturnType<Page['locator']>, ms: number) {
    const b = await el.boundingBox();
    if (!b) throw new Error('not visible');
    const cdp = await page.context().newCDPSession(page);
    const point = { x: b.x + b.width / 2, y: b.y + b.height / 2 };
    await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: [point] });
    await page.waitForTimeout(ms);
    await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
    await cdp.detach();
  }

  it('a long press on a folder selects it and shows its actions instead of opening it; a tap still opens', async () => {
    const dir = await freshDir('longpress');
    await mkdir(`${dir}/Holiday`);
    await put(`${dir}/Holiday/inside.txt`, 'i');
    await put(`${dir}/notes.txt`, 'n');
    const page = await signedIn({ width: 390, height: 844, touch: true });
    await open(page, dir);
    const folder = entry(page, 'Holiday');
    await folder.waitFor();
    await press(page, folder, 800);
    await page.waitForTimeout(400);
    // Still here, the folder selected, its menu open.
    expect(new URL(page.url()).searchParams.get('path')).toBe(dir);
    expect(await folder.getAttribute('aria-selected')).toBe('true');
    const menu = page.getByRole('menu', { name: 'Holiday' });
    await menu.getByRole('menuitem', { name: 'Open' }).waitFor();
    await screenshot(page, 'files-phone-long-press');
    await page.keyboard.press('Escape');
    await expect.poll(() => page.getByRole('menu').count()).toBe(0);
    // In selection mode a tap adds to the selection.
    await press(page, entry(page, 'notes.txt'), 60);
    await expect.poll(() => entry(page, 'notes.txt').getAttribute('aria-selected')).toBe('true');
    expect(await folder.getAttribute('aria-selected')).toBe('true');
    expect(new URL(page.url()).searchParams.get('path')).toBe(dir);
    // Without a selection, a short tap opens the folder.
    await page.getByRole('button', { name: 'Clear the selection' }).click();
    await press(page, folder, 60);
    await entry(page, 'inside.txt').waitFor();
    expect(new URL(page.url()).searchParams.get('path')).toBe(`${dir}/Holiday`);
    await page.context().close();
  });
});

describe('zip names', () => {
  it('a zip of several entries is named after their folder', async () => {
    const dir = await freshDir('zipname');
    await mkdir(`${dir}/Trip 2024`);
    await put(`${dir}/Trip 2024/a.txt`, 'A');
    await put(`${dir}/Trip 2024/b.txt`, 'B');
    const page = await signedIn();
    await open(page, `${dir}/Trip 2024`);
    await entry(page, 'a.txt').click();
    await entry(page, 'b.txt').click({ modifiers: ['Control'] });
    const [zip] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('region', { name: 'Selection' }).getByRole('button', { name: 'Download as zip' }).click(),
    ]);
    expect(zip.suggestedFilename()).toBe('Trip 2024.zip');
    const file = join(mkdtempSync(join(tmpdir(), 'nook-zipname-')), 'z.zip');
    await zip.saveAs(file);
    expect(zipNames(file)).toEqual(['a.txt', 'b.txt']);
    await page.context().close();
  });
});

describe('long folders', () => {
  it('the toolbar and the list’s column header stay in view while a long folder scrolls', async () => {
    const dir = await freshDir('sticky');
    const files: Record<string, string> = {};
    for (let i = 0; i < 400; i++) files[`row-${String(i).padStart(3, '0')}.txt`] = 'x';
    writeDirect(dir, files);
    for (const [width, height] of [
      [1440, 900],
      [390, 844],
    ] as const) {
      const page = await signedIn({ width, height });
      await open(page, dir);
      await entry(page, 'row-000.txt').waitFor();
      await page.evaluate(() => scrollTo(0, 6000));
      await expect.poll(() => page.evaluate(() => scrollY)).toBeGreaterThan(5000);
      await page.waitForTimeout(100);
      const topbar = await page.locator('header.topbar').boundingBox();
      const below = (topbar?.y ?? 0) + (topbar?.height ?? 0) - 1;
      // What must stay: the actions and the status row; on a desktop also the search box and
      // the sortable column header (a phone lets them scroll away: less of a small screen).
      // Nothing of the list is painted over them.
      const kept = [
        page.getByRole('button', { name: 'Upload', exact: true }),
        page.getByText(/shown of 400 items/),
        ...(width > 760 ? [page.getByRole('searchbox'), page.getByRole('toolbar', { name: 'Sort by column' })] : []),
      ];
      for (const el of kept) {
        const b = await el.boundingBox();
        expect(b, `${width} px`).not.toBeNull();
        expect(b && b.y >= below && b.y + b.height < height * 0.3, `${width} px: at ${b?.y}`).toBe(true);
        const onTop = await el.evaluate((n) => {
          const r = n.getBoundingClientRect();
          const hit = document.elementFromPoint(r.left + 4, r.top + r.height / 2);
          return !!hit && (n === hit || n.contains(hit));
        });
        expect(onTop, `${width} px: covered`).toBe(true);
      }
      await page.screenshot({ path: join(SCREENSHOTS, `files-sticky-toolbar-${width}.png`) });
      await page.context().close();
    }
  });

  it('leaving unsaved changes asks in the app’s own dialog, for the close button, Back and links', async () => {
    const dir = await freshDir('guard');
    await put(`${dir}/todo.txt`, 'milk\n');
    const page = await signedIn();
    const native: string[] = [];
    page.on('dialog', (d) => {
      native.push(d.type());
      void d.dismiss();
    });
    const editor = page.locator('.cm-content');
    const typeSome = async (text: string) => {
      await expect.poll(() => editor.getAttribute('contenteditable')).toBe('true');
      await editor.click();
      await page.keyboard.press('Control+End');
      await page.keyboard.type(text);
    };
    const ask = page.getByRole('dialog', { name: 'Leave without saving?' });

    // The editor over the folder.
    await open(page, dir);
    await entry(page, 'todo.txt').dblclick();
    await page.getByRole('button', { name: 'Edit' }).click();
    await typeSome('eggs');
    // The close button: Stay keeps the editor and the text.
    await page.getByRole('button', { name: 'Close' }).first().click();
    await ask.waitFor();
    expect(await ask.textContent()).toContain('todo.txt');
    await screenshot(page, 'files-unsaved-dialog');
    await ask.getByRole('button', { name: 'Stay' }).click();
    await ask.waitFor({ state: 'hidden' });
    expect(await editor.textContent()).toContain('eggs');
    expect(new URL(page.url()).searchParams.get('edit')).toBe('1');
    // The browser's Back: asked too; leaving closes the editor, the text not saved.
    await page.goBack();
    await ask.waitFor();
    expect(await editor.textContent()).toContain('eggs');
    await ask.getByRole('button', { name: 'Leave without saving' }).click();
    await expect.poll(() => page.locator('.cm-content').count()).toBe(0);
    await entry(page, 'todo.txt').waitFor();
    expect(new URL(page.url()).searchParams.get('view')).toBeNull();

    // The editor as a page of its own: a link of the app's navigation asks, Stay stays.
    await page.goto(`/preview?path=${encodeURIComponent(`${dir}/todo.txt`)}&edit=1`);
    await typeSome('bread');
    const profile = page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Profile' });
    await profile.click();
    await ask.waitFor();
    await ask.getByRole('button', { name: 'Stay' }).click();
    await ask.waitFor({ state: 'hidden' });
    expect(new URL(page.url()).pathname).toBe('/preview');
    expect(await editor.textContent()).toContain('bread');
    // Escape answers Stay too.
    await profile.click();
    await ask.waitFor();
    await page.keyboard.press('Escape');
    await ask.waitFor({ state: 'hidden' });
    expect(new URL(page.url()).pathname).toBe('/preview');
    await profile.click();
    await ask.getByRole('button', { name: 'Leave without saving' }).click();
    await page.waitForURL((u) => u.pathname === '/profile');
    expect((await bytesOf(`${dir}/todo.txt`))?.toString()).toBe('milk\n');
    // None of it was the browser's own dialog.
    expect(native).toEqual([]);
    await page.context().close();
  });
});
