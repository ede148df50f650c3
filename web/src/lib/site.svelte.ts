// Public facts about this installation (no sign-in needed): the site's name, an administrator's
// `site_name` setting, shown in the title bar, the login page and the browser tab.

import { client, ok } from './api';

export const site = $state({ name: 'Nook' });

/** Fetch the site's name; on any failure the current name stays. */
export async function loadSite(): Promise<void> {
  try {
    site.name = (await ok(client.GET('/api/site'))).site_name;
  } catch {
    // Offline or an old server: keep the name we have.
  }
}

/** A browser tab title: `Files · Family files`. */
export function tabTitle(page?: string): string {
  return page ? `${page} · ${site.name}` : site.name;
}
