// Helpers of the admin console's end-to-end tests: unique names, setup through the API as the
// admin, and a page signed in as the admin.

import type { Browser, BrowserContext, Page } from 'playwright-core';
import { inject } from 'vitest';
import { api, apiToken, login, newContext, type ContextOptions } from './helpers';

let adminToken: Promise<string> | null = null;
export const asAdmin = (): Promise<string> => (adminToken ??= apiToken(inject('adminUser'), inject('adminPassword')));

let n = 0;
/** A unique lower-case name for this run: `<prefix>-<time>-<n>`. */
export function unique(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${n++}`;
}

/** Create a top-level folder as the admin; returns its path. */
export async function topFolder(name: string): Promise<string> {
  await api(await asAdmin(), 'POST', '/api/create_folder', { path: '/', folder_name: name });
  return `/${name}`;
}

/** Create a user through the API (role `user` unless told). */
export async function createUser(
  username: string,
  password: string,
  opts: { role?: string; paths?: string[]; paths_write?: string[] } = {},
): Promise<void> {
  await api(await asAdmin(), 'POST', '/api/user/create', {
    username,
    password,
    name: username,
    role: opts.role ?? 'user',
    paths: opts.paths ?? [],
    paths_write: opts.paths_write ?? [],
  });
}

/** A new context and page signed in as the admin at `path`. */
export async function adminPage(browser: Browser, path: string, opts: ContextOptions = {}): Promise<{ ctx: BrowserContext; page: Page }> {
  const ctx = await newContext(browser, opts);
  const page = await ctx.newPage();
  await login(page, inject('adminUser'), inject('adminPassword'), path);
  return { ctx, page };
}

/** The status code and `code` of an API call (for refusals). */
export async function callStatus(token: string, method: string, path: string, body?: unknown): Promise<{ status: number; code: string }> {
  const res = await fetch(`${inject('baseURL')}${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  let code = '';
  try {
    code = (JSON.parse(text) as { code?: string }).code ?? '';
  } catch {
    // not JSON
  }
  return { status: res.status, code };
}

/**
 * A second Nook, for what the shared server cannot show (another config file): same fast
 * settings, its own data dir. It serves its embedded web app, so tests using it need the
 * binary built with the current web app (they are skipped in the NOOK_E2E_DEV loop).
 */
export async function spawnNook(extraToml: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const { spawn } = await import('node:child_process');
  const { mkdtempSync, rmSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join, resolve } = await import('node:path');
  const bin = resolve(process.env.NOOK_BIN ?? join(import.meta.dirname, '../../target/debug/nook'));
  const dir = mkdtempSync(join(tmpdir(), 'nook-e2e-2-'));
  const config = `admin_password = "${inject('adminPassword')}"
log = "warn"
[auth]
argon2_memory_kib = 64
argon2_iterations = 1
argon2_parallelism = 1
failure_delay = "0ms"
rate_per_second = 1000
rate_burst = 1000
[ftp]
listen = "127.0.0.1:0"
${extraToml}`;
  writeFileSync(join(dir, 'nook.toml'), config);
  const child = spawn(bin, ['serve', '--listen', '127.0.0.1:0', '--data-dir', dir, '--config', join(dir, 'nook.toml')], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir },
  });
  const url = await new Promise<string>((ok, fail) => {
    let out = '';
    const t = setTimeout(() => fail(new Error(`second nook did not start: ${out}`)), 30_000);
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /(http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m?.[1]) {
        clearTimeout(t);
        ok(m[1]);
      }
    });
    child.on('exit', (code) => fail(new Error(`second nook exited with ${code}: ${out}`)));
  });
  return {
    url,
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => child.on('exit', r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
