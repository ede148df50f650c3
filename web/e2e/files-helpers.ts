// Helpers of the file manager's end-to-end tests: unique folders per test, files written
// through the API (or straight into the data dir for very large folders), and reads back.

import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { inject } from 'vitest';
import { api, apiToken, baseURL } from './helpers';

let adminToken: Promise<string> | null = null;
export const asAdmin = (): Promise<string> => (adminToken ??= apiToken(inject('adminUser'), inject('adminPassword')));

let n = 0;
/** A fresh top folder for one test: `/e2e-<name>-<time>-<n>`. */
export async function freshDir(name: string): Promise<string> {
  const folder = `e2e-${name}-${Date.now().toString(36)}-${n++}`;
  await api(await asAdmin(), 'POST', '/api/create_folder', { path: '/', folder_name: folder });
  return `/${folder}`;
}

export async function mkdir(path: string): Promise<void> {
  const i = path.lastIndexOf('/');
  await api(await asAdmin(), 'POST', '/api/create_folder', { path: path.slice(0, i) || '/', folder_name: path.slice(i + 1) });
}

/** Store bytes at `path` through PUT /api/put_file. */
export async function put(path: string, body: string | Uint8Array, token?: string): Promise<void> {
  const t = token ?? (await asAdmin());
  const res = await fetch(`${baseURL()}/api/put_file?path=${encodeURIComponent(path)}&overwrite=true`, {
    method: 'PUT',
    headers: { Authorization: `Bearer ${t}` },
    body: typeof body === 'string' ? body : Buffer.from(body),
  });
  if (!res.ok) throw new Error(`put ${path}: ${res.status} ${await res.text()}`);
}

/** The bytes of `path` as the server has them, or null when it does not exist. */
export async function bytesOf(path: string): Promise<Buffer | null> {
  const res = await fetch(`${baseURL()}/api/download?file_path=${encodeURIComponent(path)}`, {
    headers: { Authorization: `Bearer ${await asAdmin()}` },
  });
  if (res.status === 404) return null;
  if (!res.ok) throw new Error(`download ${path}: ${res.status}`);
  return Buffer.from(await res.arrayBuffer());
}

export async function names(dir: string): Promise<string[]> {
  const l = await api<{ items: string[] }>(await asAdmin(), 'GET', `/api/finder?path=${encodeURIComponent(dir)}&show_hidden=true`);
  return l.items;
}

/** Write files straight into the storage root (for folders too big to create one request each). */
export function writeDirect(dir: string, files: Record<string, string>): void {
  const root = join(inject('dataDir'), 'files', dir);
  mkdirSync(root, { recursive: true });
  for (const [name, content] of Object.entries(files)) writeFileSync(join(root, name), content);
}

/** The names in a zip file (`unzip -l`). */
export function zipNames(file: string): string[] {
  const out = execFileSync('unzip', ['-Z1', file], { encoding: 'utf8' });
  return out.split('\n').filter(Boolean).sort();
}

/** Deterministic pseudo-random bytes (incompressible, so transfers are real). */
export function randomBytes(size: number, seed = 1): Uint8Array {
  const b = new Uint8Array(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

/** The entry row/tile of `name` in the open folder. */
export const entry = (page: Page, name: string) => page.getByRole('option', { name, exact: true });

export const open = (page: Page, dir: string) => page.goto(dir === '/' ? '/' : `/?path=${encodeURIComponent(dir)}`);
