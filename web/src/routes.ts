// Every page of the app. Pages load lazily (each is its own chunk), so the first load carries
// only the shell and the login page. `endpoint`: the page is offered only when the caller's
// role may call it (from /api/role/self).

import type { Component } from 'svelte';
import { session } from './lib/session.svelte';

export type Group = 'files' | 'admin' | 'account';

export interface Page {
  path: string;
  title: string;
  group: Group;
  /** Offered in the navigation only when the caller may call this endpoint. */
  endpoint?: string;
  /** Not in the navigation (reached by links). */
  hidden?: boolean;
  /** Offered in the navigation only when this also holds (a feature the server has on). */
  visible?: () => boolean;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  load: () => Promise<{ default: Component<any> }>;
}

export const pages: Page[] = [
  { path: '/', title: 'Files', group: 'files', endpoint: '/api/finder', load: () => import('./files/FilesPage.svelte') },
  { path: '/preview', title: 'Preview', group: 'files', hidden: true, load: () => import('./files/PreviewPage.svelte') },
  { path: '/admin/users', title: 'Users', group: 'admin', endpoint: '/api/user/get_all', load: () => import('./admin/UsersPage.svelte') },
  { path: '/admin/roles', title: 'Roles', group: 'admin', endpoint: '/api/role/get', load: () => import('./admin/RolesPage.svelte') },
  { path: '/admin/ftp', title: 'FTP', group: 'admin', endpoint: '/api/ftp/status', load: () => import('./admin/FtpPage.svelte') },
  { path: '/admin/resources', title: 'Resources', group: 'admin', endpoint: '/api/resources', load: () => import('./admin/ResourcesPage.svelte') },
  { path: '/admin/logs', title: 'Audit log', group: 'admin', endpoint: '/api/get_logs', load: () => import('./admin/LogsPage.svelte') },
  { path: '/admin/settings', title: 'Settings', group: 'admin', endpoint: '/api/get_settings', load: () => import('./admin/SettingsPage.svelte') },
  {
    path: '/admin/command',
    title: 'Command',
    group: 'admin',
    endpoint: '/api/command',
    visible: () => session.commandRunner,
    load: () => import('./admin/CommandPage.svelte'),
  },
  { path: '/profile', title: 'Profile', group: 'account', load: () => import('./profile/ProfilePage.svelte') },
  // Everyone may see which version runs; installing updates stays with whoever may call /api/update.
  { path: '/about', title: 'About', group: 'account', endpoint: '/api/get_version', load: () => import('./admin/AboutPage.svelte') },
];

/** The page for a location path (`/auth` is not a page of the shell). Unknown paths: none. */
export function pageFor(path: string): Page | undefined {
  const p = path.length > 1 ? path.replace(/\/+$/, '') : path;
  return pages.find((page) => page.path === p);
}
