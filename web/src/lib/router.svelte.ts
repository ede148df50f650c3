// Minimal client-side routing on location.pathname (no router library).

export type Route = 'auth' | 'shell';

function readLocation() {
  return { path: location.pathname, search: location.search };
}

export const router = $state(readLocation());

export function routeOf(path: string): Route {
  return path === '/auth' ? 'auth' : 'shell';
}

/** Current path plus query, e.g. `/files?x=1`. */
export function currentTarget(): string {
  return router.path + router.search;
}

/** Navigate within the app (same-origin paths only). */
export function navigate(to: string, opts: { replace?: boolean } = {}): void {
  if (opts.replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  Object.assign(router, readLocation());
}

addEventListener('popstate', () => Object.assign(router, readLocation()));
