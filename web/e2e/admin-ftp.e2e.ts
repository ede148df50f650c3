import { connect, type Socket } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminPage, asAdmin, topFolder, unique } from './admin-helpers';
import { api, baseURL, launch, screenshot } from './helpers';

let browser: Browser;

beforeAll(async () => {
  browser = await launch();
});

afterAll(async () => {
  await browser?.close();
});

/** A raw FTP control connection: send lines, wait for replies. */
class Ftp {
  private buf = '';
  private waiters: (() => void)[] = [];
  closed = false;
  private constructor(readonly sock: Socket) {
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      this.buf += d;
      for (const w of this.waiters.splice(0)) w();
    });
    sock.on('close', () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w();
    });
  }

  static open(host: string, port: number): Promise<Ftp> {
    return new Promise((ok, fail) => {
      const s = connect(port, host, () => ok(new Ftp(s)));
      s.once('error', fail);
    });
  }

  /** The next reply line starting with a code, within 5 s. */
  async reply(): Promise<string> {
    const deadline = Date.now() + 5000;
    for (;;) {
      const m = /^(\d{3}) .*\r?\n/m.exec(this.buf);
      if (m) {
        this.buf = this.buf.slice(m.index + m[0].length);
        return m[0].trim();
      }
      if (this.closed || Date.now() > deadline) throw new Error(`no FTP reply (buffer: ${this.buf})`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 200);
      });
    }
  }

  async send(line: string): Promise<string> {
    this.sock.write(`${line}\r\n`);
    return this.reply();
  }

  async waitClosed(ms: number): Promise<boolean> {
    const end = Date.now() + ms;
    while (!this.closed && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    return this.closed;
  }
}

describe('FTP', () => {
  it('the switch starts the server (a real 220 greeting), accounts and live connections are managed, and it stops', async () => {
    const { ctx, page } = await adminPage(browser, '/admin/ftp');
    const sw = page.getByRole('switch', { name: 'FTP server' });
    await sw.waitFor();
    if ((await sw.getAttribute('aria-checked')) === 'true') {
      await sw.click();
      await expect.poll(() => sw.getAttribute('aria-checked')).toBe('false');
    }

    // Start: status says running and where.
    await sw.click();
    await expect.poll(() => sw.getAttribute('aria-checked'), { timeout: 10_000 }).toBe('true');
    await expect.poll(() => page.getByTestId('ftp-state').textContent()).toContain('Running');
    const listen = ((await page.getByTestId('ftp-listen').textContent()) ?? '').trim();
    const m = /^([\d.]+):(\d+)$/.exec(listen);
    expect(m, `listen address: ${listen}`).not.toBeNull();
    const host = m?.[1] ?? '';
    const port = Number(m?.[2]);
    expect(port).toBeGreaterThan(0);
    const probe = await Ftp.open(host, port);
    expect(await probe.reply()).toMatch(/^220 /);
    probe.sock.destroy();

    // An account through the form: home picked in the folder picker, permissions, limits.
    const home = await topFolder(unique('ftp-home'));
    const name = unique('ftpuser');
    await page.getByRole('button', { name: 'New account' }).click();
    const form = page.getByRole('dialog', { name: 'New FTP account' });
    await form.getByLabel('FTP username').fill(name);
    await form.getByLabel('Password', { exact: true }).fill('ftp-password-1');
    await form.getByRole('button', { name: 'Browse…' }).click();
    const picker = page.getByRole('dialog', { name: 'Home folder' });
    await picker.getByRole('button', { name: home.slice(1), exact: true }).click();
    await expect.poll(() => picker.locator('.chosen').textContent()).toBe(home);
    await picker.getByRole('button', { name: 'Use this folder' }).click();
    expect(await form.getByLabel('Home folder').inputValue()).toBe(home);
    await form.getByRole('checkbox', { name: /^Upload/ }).check();
    await form.getByRole('checkbox', { name: /^Create folders/ }).check();
    await form.getByLabel('Storage quota').fill('10');
    await form.getByLabel('Quota unit').selectOption('MiB');
    await form.getByLabel('Files quota').fill('10');
    await form.getByLabel('Upload speed (KB/s)').fill('100');
    await form.getByLabel('Download speed (KB/s)').fill('50');
    await form.getByLabel('Simultaneous sessions').fill('2');
    await screenshot(page, 'admin-ftp-account-form');
    await form.getByRole('button', { name: 'Create account' }).click();
    const row = page.locator(`tr[data-account="${name}"]`);
    await row.waitFor();
    const [acct] = await api<
      { home_dir: string; permissions: string[]; quota_size: number; quota_files: number; upload_bandwidth: number; download_bandwidth: number; max_sessions: number }[]
    >(await asAdmin(), 'GET', `/api/v1/user?username=${name}`);
    expect(acct).toMatchObject({
      home_dir: home,
      permissions: ['list', 'download', 'upload', 'create_dirs'],
      quota_size: 10 * 1024 * 1024,
      quota_files: 10,
      upload_bandwidth: 100,
      download_bandwidth: 50,
      max_sessions: 2,
    });
    expect(await row.textContent()).toMatch(/Upload 100 KB\/s.*Download 50 KB\/s.*Sessions 2/);

    // A 1 MiB file in the home, downloaded over FTP at 50 KB/s: the connection and its transfer
    // show up live, and Close ends them.
    const res = await fetch(`${baseURL()}/api/put_file?path=${encodeURIComponent(`${home}/data.bin`)}`, {
      method: 'PUT',
      headers: { Authorization: `Bearer ${await asAdmin()}` },
      body: new Uint8Array(1024 * 1024),
    });
    expect(res.ok).toBe(true);
    const ftp = await Ftp.open(host, port);
    expect(await ftp.reply()).toMatch(/^220 /);
    expect(await ftp.send(`USER ${name}`)).toMatch(/^331 /);
    expect(await ftp.send('PASS ftp-password-1')).toMatch(/^230 /);
    expect(await ftp.send('TYPE I')).toMatch(/^200 /);
    const pasv = /\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)/.exec(await ftp.send('PASV'));
    expect(pasv).not.toBeNull();
    const data = connect(Number(pasv?.[5]) * 256 + Number(pasv?.[6]), host);
    let received = 0;
    data.on('data', (b: Buffer) => (received += b.length));
    data.on('error', () => {});
    await new Promise((r) => data.once('connect', r));
    expect(await ftp.send('RETR data.bin')).toMatch(/^1[25]0 /);
    const conn = page.locator('tr[data-connection]').filter({ hasText: name });
    await conn.waitFor({ timeout: 10_000 });
    await expect.poll(() => conn.textContent(), { timeout: 10_000 }).toContain(`${home}/data.bin`);
    expect(await conn.textContent()).toContain('download');
    await screenshot(page, 'admin-ftp-running');
    await conn.getByRole('button', { name: `Close the connection of ${name}` }).click();
    expect(await ftp.waitClosed(5000)).toBe(true);
    await conn.waitFor({ state: 'detached', timeout: 10_000 });
    data.destroy();
    expect(received).toBeGreaterThan(0);
    expect(received).toBeLessThan(1024 * 1024);

    // A quota scan counts what is in the home folder.
    await row.getByRole('button', { name: `Recount the quota of ${name}` }).click();
    await expect.poll(() => row.textContent(), { timeout: 15_000 }).toContain('1.00 MiB of 10.0 MiB');
    expect(await row.getByRole('img', { name: '10% of the storage quota used' }).count()).toBe(1);
    expect(await row.textContent()).toContain('1 of 10 files');

    // Stop: status says stopped and the port no longer answers.
    await sw.click();
    await expect.poll(() => sw.getAttribute('aria-checked'), { timeout: 10_000 }).toBe('false');
    await expect.poll(() => page.getByTestId('ftp-state').textContent()).toContain('Stopped');
    await expect(Ftp.open(host, port)).rejects.toThrow(/ECONNREFUSED/);

    // Delete the account (confirm).
    await row.getByRole('button', { name: `Delete ${name}` }).click();
    await page.getByRole('dialog', { name: `Delete FTP account ${name}?` }).getByRole('button', { name: 'Delete account' }).click();
    await row.waitFor({ state: 'detached' });
    expect(await api<unknown[]>(await asAdmin(), 'GET', `/api/v1/user?username=${name}`)).toEqual([]);
    await ctx.close();
  });
  it('before it starts, the page shows the address FTP will listen on, and warns when that is every interface', async () => {
    const token = await asAdmin();
    const { ctx, page } = await adminPage(browser, '/admin/ftp');
    const sw = page.getByRole('switch', { name: 'FTP server' });
    await sw.waitFor();
    if ((await sw.getAttribute('aria-checked')) === 'true') {
      await sw.click();
      await expect.poll(() => sw.getAttribute('aria-checked'), { timeout: 10_000 }).toBe('false');
    }
    const listen = page.getByTestId('ftp-listen');
    const warning = page.getByTestId('ftp-all-interfaces');
    // The e2e config's own address: one interface, no warning.
    await expect.poll(() => listen.textContent()).toContain('127.0.0.1:0');
    expect(await page.getByText('Will listen on', { exact: true }).count()).toBe(1);
    expect(await warning.count()).toBe(0);
    try {
      for (const addr of ['0.0.0.0:2121', '[::]:2121']) {
        await api(token, 'POST', '/api/update_settings', { 'ftp.listen': addr });
        await page.reload();
        await expect.poll(() => listen.textContent()).toContain(addr);
        await warning.waitFor();
        expect(await warning.textContent()).toMatch(/every network interface/);
        expect(await sw.getAttribute('aria-checked')).toBe('false');
        if (addr.startsWith('0')) await screenshot(page, 'admin-ftp-all-interfaces');
      }
      // A specific address again: no warning.
      await api(token, 'POST', '/api/update_settings', { 'ftp.listen': '127.0.0.1:2121' });
      await page.reload();
      await expect.poll(() => listen.textContent()).toContain('127.0.0.1:2121');
      expect(await warning.count()).toBe(0);
    } finally {
      await api(token, 'POST', '/api/update_settings', { 'ftp.listen': null });
    }
    await ctx.close();
  });
});
