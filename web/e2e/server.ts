// Global setup of the end-to-end suite: starts the real `nook` binary on 127.0.0.1:0 with a
// fresh data dir, and hands its URL and the admin's credentials to the tests.
//
// NOOK_BIN picks the binary (default: ../target/debug/nook, built by `cargo build` or the Rust
// test run with the web app embedded).
//
// NOOK_E2E_DEV=1 is the quick loop while building the UI: the browser talks to Vite's dev
// server (this checkout's web/src, no rebuild of the binary), which forwards /api to the
// binary. The suite as CI runs it always tests the embedded app.

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { TestProject } from 'vitest/node';

export const ADMIN = 'admin';
export const ADMIN_PASSWORD = 'admin-password-e2e';

// Cheap hashing and no login throttling, so the suite is quick (never the defaults of a real
// install); FTP on a free port of its own; the command runner on with a tiny allowlist.
const CONFIG = `
admin_password = "${ADMIN_PASSWORD}"
log = "warn"

[auth]
argon2_memory_kib = 64
argon2_iterations = 1
argon2_parallelism = 1
failure_delay = "0ms"
rate_per_second = 1000
rate_burst = 1000
max_failures_per_ip = 1000
max_failures_per_user = 1000

[ftp]
listen = "127.0.0.1:0"
passive_ports = "39100-39109"

# The admin console's command page runs these, and only these.
[command]
enabled = true
allow = ["/bin/echo", "/bin/uname"]
`;

declare module 'vitest' {
  export interface ProvidedContext {
    baseURL: string;
    dataDir: string;
    adminUser: string;
    adminPassword: string;
  }
}

export default async function setup(project: TestProject) {
  const bin = resolve(process.env.NOOK_BIN ?? join(import.meta.dirname, '../../target/debug/nook'));
  if (!existsSync(bin)) {
    throw new Error(`nook binary not found at ${bin}: run \`cargo build\` first or set NOOK_BIN`);
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'nook-e2e-'));
  const configPath = join(dataDir, 'e2e.toml');
  writeFileSync(configPath, CONFIG);

  const child: ChildProcess = spawn(bin, ['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--config', configPath], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dataDir },
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (process.env.NOOK_E2E_SERVER_LOG) process.stderr.write(d);
  });

  const baseURL = await new Promise<string>((ok, fail) => {
    let out = '';
    const timer = setTimeout(() => fail(new Error(`nook did not start in 30 s:\n${out}\n${stderr}`)), 30_000);
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /(http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m?.[1]) {
        clearTimeout(timer);
        ok(m[1]);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`nook exited with ${code} before listening:\n${out}\n${stderr}`));
    });
  });

  let url = baseURL;
  let closeVite: (() => Promise<void>) | null = null;
  if (process.env.NOOK_E2E_DEV === '1') {
    process.env.NOOK_DEV_API = baseURL;
    const { createServer } = await import('vite');
    const vite = await createServer({
      root: resolve(import.meta.dirname, '..'),
      configFile: resolve(import.meta.dirname, '../vite.config.ts'),
      mode: 'development',
      logLevel: 'warn',
      server: { host: '127.0.0.1', port: 5173, strictPort: false },
    });
    await vite.listen();
    const local = vite.resolvedUrls?.local[0];
    if (!local) throw new Error('vite dev server has no local URL');
    url = local.replace(/\/$/, '');
    closeVite = () => vite.close();
  }

  project.provide('baseURL', url);
  project.provide('dataDir', dataDir);
  project.provide('adminUser', ADMIN);
  project.provide('adminPassword', ADMIN_PASSWORD);

  return async () => {
    await closeVite?.();
    child.kill('SIGTERM');
    await new Promise((r) => {
      const t = setTimeout(() => {
        child.kill('SIGKILL');
        r(null);
      }, 10_000);
      child.on('exit', () => {
        clearTimeout(t);
        r(null);
      });
    });
    rmSync(dataDir, { recursive: true, force: true });
  };
}
