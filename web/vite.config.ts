/// <reference types="vitest/config" />
import { defineConfig, loadEnv, type Plugin } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

/**
 * Fail the build if the output would break the server's CSP
 * (`script-src 'self'`, no 'unsafe-inline', no 'unsafe-eval').
 */
function cspGuard(): Plugin {
  return {
    name: 'nook-csp-guard',
    apply: 'build',
    enforce: 'post',
    generateBundle(_options, bundle) {
      const problems: string[] = [];
      for (const [file, out] of Object.entries(bundle)) {
        if (out.type === 'asset' && file.endsWith('.html')) {
          const html = typeof out.source === 'string' ? out.source : new TextDecoder().decode(out.source);
          if (/<script\b(?![^>]*\bsrc\s*=)[^>]*>/i.test(html)) problems.push(`${file}: inline <script>`);
          if (/<[a-z][^>]*\son[a-z]+\s*=/i.test(html)) problems.push(`${file}: inline event handler`);
          if (/javascript:/i.test(html)) problems.push(`${file}: javascript: URL`);
        } else if (out.type === 'chunk') {
          if (/\beval\s*\(|\bnew\s+Function\s*\(/.test(out.code)) problems.push(`${file}: eval/new Function`);
        }
      }
      if (problems.length) this.error(`CSP guard: ${problems.join('; ')}`);
    },
  };
}

export default defineConfig(({ command, mode }) => {
  // Only NOOK_* variables are read (from the environment, or a local .env file).
  const env = loadEnv(mode, '.', 'NOOK_');
  // The Rust build (server/build.rs) sets NOOK_WEB_OUT to a folder inside cargo's OUT_DIR.
  const outDir = env.NOOK_WEB_OUT || 'dist';
  // `npm run dev` forwards /api to a running Nook server.
  const devApi = env.NOOK_DEV_API || 'http://127.0.0.1:8080';

  return {
    // Hashed assets are served by the server from /web/assets/* (immutable). The dev server
    // serves the app at / so in-app paths (/admin/users, /preview) fall back to index.html.
    base: command === 'build' ? '/web/' : '/',
    // NOOK_* must never leak into the client bundle.
    envPrefix: 'NOOK_PUBLIC_',
    plugins: [svelte(), cspGuard()],
    build: {
      outDir,
      emptyOutDir: true,
      assetsDir: 'assets',
      target: 'es2022',
      sourcemap: false,
    },
    server: {
      proxy: {
        '/api': { target: devApi },
      },
    },
    test: {
      include: ['src/**/*.test.ts'],
      environment: 'node',
    },
  };
});
