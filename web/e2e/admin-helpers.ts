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
