// Minimal client-side routing on location.pathname (no router library).

function readLocation() {
  return { path: location.pathname, search: location.search };
}

export const router = $state(readLocation());

/** Current path plus query, e.g. `/?path=%2Fphotos`. */
export function currentTarget(): string {
  return router.path + router.search;
}

/** One query parameter of the current location. */
export function queryParam(name: string): string | null {
  return new URLSearchParams(router.search).get(name);
}

let leaveGuard: (() => boolean) | null = null;

/**
 * Ask before leaving the current location (unsaved changes): `guard` returns true to allow.
 * One guard at a time; pass null to remove it. Returns a function that removes this guard.
 */
export function setLeaveGuard(guard: (() => boolean) | null): () => void {
  leaveGuard = guard;
  return () => {
    if (leaveGuard === guard) leaveGuard = null;
  };
}

/** Navigate within the app (same-origin paths only). Returns false when a guard said no. */
export function navigate(to: string, opts: { replace?: boolean; force?: boolean } = {}): boolean {
  if (!opts.force && leaveGuard && !leaveGuard()) return false;
  if (opts.replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  Object.assign(router, readLocation());
  return true;
}

addEventListener('popstate', () => {
  // Back/forward cannot be cancelled: when the guard says no, go back to where we were.
  if (leaveGuard && !leaveGuard()) {
    history.pushState(null, '', currentTarget());
    return;
  }
  Object.assign(router, readLocation());
});

/**
 * Let plain `<a href="/...">` links navigate inside the app: same-origin, left click, no
 * modifier keys, no `download` or `target`. Installed once by the app.
 */
export function interceptLinks(root: HTMLElement): () => void {
  const onClick = (e: MouseEvent) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    const a = (e.target as Element | null)?.closest?.('a');
    if (!a || a.hasAttribute('download') || (a.target && a.target !== '_self')) return;
    const url = new URL(a.href, location.href);
    if (url.origin !== location.origin) return;
    if (url.pathname.startsWith('/api/') || url.pathname.startsWith('/web/')) return;
    e.preventDefault();
    navigate(url.pathname + url.search + url.hash);
  };
  root.addEventListener('click', onClick);
  return () => root.removeEventListener('click', onClick);
}
