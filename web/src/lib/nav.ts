// Pure helpers for in-app navigation. No DOM access here, so they are easy to test.

const BASE = 'http://nook.invalid';

/** Paths that must never be used as a post-login destination (would loop back to login). */
const NOT_A_DESTINATION = new Set(['/auth']);

/**
 * Sanitise a `?next=` value: only same-origin absolute paths are allowed.
 * Anything else (protocol-relative `//host`, `/\host`, full URLs, control characters,
 * `/auth` itself) falls back to `/`.
 */
export function safeNext(raw: string | null | undefined): string {
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > 2048) return '/';
  if (raw[0] !== '/' || raw[1] === '/' || raw[1] === '\\') return '/';
  // Browsers treat `\` like `/` and strip tabs/newlines, so `/\t/evil.com` becomes `//evil.com`.
  // eslint-disable-next-line no-control-regex
  if (/[\\\u0000-\u001f\u007f]/.test(raw)) return '/';
  let url: URL;
  try {
    url = new URL(raw, BASE);
  } catch {
    return '/';
  }
  if (url.origin !== BASE) return '/';
  if (NOT_A_DESTINATION.has(url.pathname)) return '/';
  return raw;
}

/** The login URL that brings the user back to `current` (a path + query) afterwards. */
export function loginPath(current: string): string {
  const next = safeNext(current);
  return next === '/' ? '/auth' : `/auth?next=${encodeURIComponent(next)}`;
}

/** Read and sanitise `next` from a query string such as `location.search`. */
export function nextFromSearch(search: string): string {
  return safeNext(new URLSearchParams(search).get('next'));
}
