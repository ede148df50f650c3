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

/** Asks whether to leave (unsaved changes), in the app's own dialog: resolves true to leave. */
export type LeaveGuard = () => Promise<boolean>;

let leaveGuard: LeaveGuard | null = null;
/** The question being asked: a second navigation meanwhile waits for the same answer. */
let asking: Promise<boolean> | null = null;
/** The next popstate comes from `back()`, asked already. */
let skipGuardOnce = false;

/**
 * Ask before leaving the current location (unsaved changes). One guard at a time; pass null to
 * remove it. Returns a function that removes this guard.
 */
export function setLeaveGuard(guard: LeaveGuard | null): () => void {
  leaveGuard = guard;
  return () => {
    if (leaveGuard === guard) leaveGuard = null;
  };
}

/** Whether leaving is fine: true at once without a guard, else the guard's answer. */
export function confirmLeave(): Promise<boolean> {
  const guard = leaveGuard;
  if (!guard) return Promise.resolve(true);
  asking ??= guard().finally(() => (asking = null));
  return asking;
}

function go(to: string, replace: boolean): void {
  if (replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  Object.assign(router, readLocation());
}

/**
 * Navigate within the app (same-origin paths only). With a leave guard set (and no `force`),
 * the guard asks first and the move happens only once it is answered yes; the result is then
 * false ("not moved yet"). Otherwise it moves at once and returns true.
 */
export function navigate(to: string, opts: { replace?: boolean; force?: boolean } = {}): boolean {
  if (!opts.force && leaveGuard) {
    void confirmLeave().then((yes) => yes && go(to, opts.replace ?? false));
    return false;
  }
  go(to, opts.replace ?? false);
  return true;
}

/** `history.back()` for a move the guard has already agreed to (or that needs no asking). */
export function back(): void {
  skipGuardOnce = true;
  history.back();
}

addEventListener('popstate', () => {
  if (skipGuardOnce) {
    skipGuardOnce = false;
    Object.assign(router, readLocation());
    return;
  }
  if (leaveGuard) {
    // Back/forward cannot be cancelled: return to where we were, then ask; yes goes back again.
    history.pushState(null, '', currentTarget());
    void confirmLeave().then((yes) => yes && back());
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
