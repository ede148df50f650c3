// Shared helpers of the end-to-end tests: a headless Debian Chromium (never a downloaded
// browser), login through the real form, API calls for setup, and screenshots to look at.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { inject } from 'vitest';

export const baseURL = (): string => inject('baseURL');
export const admin = () => ({ username: inject('adminUser'), password: inject('adminPassword') });

const CHROMIUM = process.env.NOOK_CHROMIUM ?? '/usr/bin/chromium';

export const SCREENSHOTS = join(import.meta.dirname, '..', 'e2e-artifacts', 'screenshots');

export async function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // The machine's network is closed: keep Chromium from phoning home.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
}

export interface ContextOptions {
  width?: number;
  height?: number;
  colorScheme?: 'light' | 'dark';
  /** A phone: touch events and a mobile viewport. */
  touch?: boolean;
  /** Ignore the app's CSP (to inject axe-core; never for testing the app's own behaviour). */
  bypassCSP?: boolean;
}

export async function newContext(browser: Browser, opts: ContextOptions = {}): Promise<BrowserContext> {
  return browser.newContext({
    baseURL: baseURL(),
    viewport: { width: opts.width ?? 1280, height: opts.height ?? 800 },
    colorScheme: opts.colorScheme ?? 'light',
    acceptDownloads: true,
    ...(opts.touch ? { hasTouch: true, isMobile: true } : {}),
    ...(opts.bypassCSP ? { bypassCSP: true } : {}),
  });
}

/** Log in through the real login form and wait for the app shell (its Log out button). */
export async function login(page: Page, username: string, password: string, next = '/'): Promise<void> {
  await page.goto(next === '/' ? '/auth' : `/auth?next=${encodeURIComponent(next)}`);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Log out' }).waitFor();
}

/** Save a full-page screenshot under web/e2e-artifacts/screenshots (not committed). */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** A token for API setup calls (creating users, files) outside the browser. */
export async function apiToken(username: string, password: string): Promise<string> {
  const res = await fetch(`${baseURL()}/api/user/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (!res.ok) throw new Error(`login ${username}: HTTP ${res.status} ${await res.text()}`);
  return ((await res.json()) as { token: string }).token;
}

/** Call the API as `token`; throws with the body on a non-2xx answer. */
export async function api<T = unknown>(token: string, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${baseURL()}${path}`, {
    method,
    headers: {
      Authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

/** Page width that scrolls horizontally beyond the viewport (0 when nothing overflows). */
export async function horizontalOverflow(page: Page): Promise<number> {
  return page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
}
