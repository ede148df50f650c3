// What a role may do, in words: the server's role map is per endpoint (`/api/copy`), which an
// administrator should not have to read. Each capability here is one thing a person does
// ("Upload files") and the endpoints it takes; the matrix shows capabilities, with the
// endpoints as detail. Pure, tested in capabilities.test.ts — which also fails when the API
// grows an endpoint no capability names.

import { firstSentence, isAllowed, isLocked, type RoleMap, type SpecLike } from './matrix';

export interface Capability {
  /** Stable id (`files.upload`), for tests and keys. */
  id: string;
  /** What it allows, as a person would say it. */
  label: string;
  /** Endpoint templates (`/api/tus/{id}`) as the role map names them. */
  endpoints: string[];
}

export interface CapabilityGroup {
  id: string;
  title: string;
  description: string;
  capabilities: Capability[];
}

interface Def {
  id: string;
  title: string;
  description: string;
  capabilities: [id: string, label: string, endpoints: string[]][];
}

/** Every endpoint of the role map, grouped. Path parameters may have any name here. */
export const DEFS: readonly Def[] = [
  {
    id: 'files',
    title: 'Files and folders',
    description: 'Only in the folders each user may read or change (set on the Users page).',
    capabilities: [
      ['files.browse', 'Browse folders and see file details', ['/api/finder', '/api/stat']],
      ['files.search', 'Search for files by name', ['/api/search']],
      ['files.read', 'Read text files in the preview', ['/api/get_file']],
      ['files.download', 'Download, and view photos, videos and PDFs', ['/api/download', '/api/download_ticket', '/api/download_zip']],
      ['files.size', 'Count how much a folder holds', ['/api/dir_size']],
      ['files.upload', 'Upload files', ['/api/upload', '/api/put_file', '/api/tus', '/api/tus/{id}']],
      ['files.create', 'Create files and folders', ['/api/new_file', '/api/create_folder']],
      ['files.edit', 'Edit text files', ['/api/edit_file']],
      ['files.rename', 'Rename files and folders', ['/api/rename_file', '/api/rename_folder']],
      ['files.move', 'Move files and folders', ['/api/move']],
      ['files.copy', 'Copy files and folders', ['/api/copy']],
      ['files.delete', 'Delete files and folders', ['/api/delete_file', '/api/delete_folder']],
      // Not an API operation: the role map's key for WebDAV at /dav/ (web users only).
      ['files.webdav', 'Connect over WebDAV, with the same folders and permissions', ['/dav']],
    ],
  },
  {
    id: 'self',
    title: 'Their own account',
    description: '',
    capabilities: [
      ['self.view', 'See their own account', ['/api/user/get_self']],
      ['self.edit', 'Change their own name, password and API key', ['/api/user/edit_self']],
      ['self.always', 'Sign out, and see what their role allows (always allowed)', ['/api/user/logout', '/api/role/self']],
    ],
  },
  {
    id: 'users',
    title: 'Users and roles',
    description: '',
    capabilities: [
      ['users.view', 'See all users', ['/api/user/get_all']],
      ['users.create', 'Add users', ['/api/user/create']],
      ['users.edit', 'Change users: details, passwords, folders, roles, disabling', ['/api/user/edit']],
      ['users.delete', 'Delete users', ['/api/user/delete']],
      ['roles.view', 'See what each role allows', ['/api/role/get']],
      ['roles.edit', 'Change what roles allow', ['/api/role/edit']],
    ],
  },
  {
    id: 'ftp',
    title: 'FTP',
    description: 'The FTP server and its accounts (also through the SFTPGo-compatible API).',
    capabilities: [
      ['ftp.status', 'See whether FTP runs, and where', ['/api/ftp/status']],
      ['ftp.switch', 'Start and stop the FTP server', ['/api/ftp/start', '/api/ftp/stop']],
      [
        'ftp.accounts',
        'Manage FTP accounts',
        ['/api/ftp/get_users', '/api/ftp/create_user', '/api/ftp/edit_user', '/api/ftp/delete_user', '/api/v1/user', '/api/v1/user/{id}'],
      ],
      ['ftp.quota', 'Recount the storage FTP accounts use', ['/api/v1/quota_scan']],
      ['ftp.connections', 'See who is connected over FTP', ['/api/v1/connection', '/api/v1/sftp_connection']],
      ['ftp.disconnect', 'Disconnect FTP sessions', ['/api/v1/connection/{id}', '/api/v1/sftp_connection/{id}']],
    ],
  },
  {
    id: 'system',
    title: 'System',
    description: '',
    capabilities: [
      ['system.version', 'See which version runs', ['/api/get_version', '/api/v1/version']],
      ['system.resources', 'See resource use: processor, memory, disks, network', ['/api/resources', '/api/resources/history', '/api/resources/stream', '/metrics']],
      ['system.logs', 'Read the audit log', ['/api/get_logs']],
      ['system.settings', 'See the settings', ['/api/get_settings', '/api/settings/info']],
      ['system.settings.edit', 'Change the settings', ['/api/update_settings']],
      ['system.command', 'Run the allowed commands on the server', ['/api/command', '/api/command/info']],
      ['system.power', 'Shut down and restart the server', ['/api/shutdown', '/api/restart', '/update_start_exit_program']],
      ['system.update', 'Install updates', ['/api/update', '/api/update/status']],
    ],
  },
];

/** `/api/v1/user/{userID}` and `/api/v1/user/{id}` are the same endpoint. */
const shape = (path: string) => path.replace(/\{[^}]*\}/g, '{}');

const OTHER: Omit<CapabilityGroup, 'capabilities'> = {
  id: 'other',
  title: 'Other',
  description: 'Endpoints this version of the app has no words for yet.',
};

/**
 * The capabilities that cover the map's endpoints, with the map's own spelling of each
 * endpoint. Endpoints no capability names get one each in "Other" (labelled from the spec's
 * summary); capabilities none of whose endpoints the server has are left out.
 */
export function capabilityGroups(map: RoleMap, spec: SpecLike | null = null): CapabilityGroup[] {
  const present = new Map<string, string>();
  for (const path of Object.keys(map)) present.set(shape(path), path);
  const claimed = new Set<string>();
  const groups: CapabilityGroup[] = [];
  for (const def of DEFS) {
    const capabilities: Capability[] = [];
    for (const [id, label, templates] of def.capabilities) {
      const endpoints = templates.map((t) => present.get(shape(t))).filter((p): p is string => p !== undefined);
      for (const e of endpoints) claimed.add(e);
      if (endpoints.length) capabilities.push({ id, label, endpoints });
    }
    if (capabilities.length) groups.push({ id: def.id, title: def.title, description: def.description, capabilities });
  }
  const rest = Object.keys(map)
    .filter((p) => !claimed.has(p))
    .sort();
  if (rest.length) {
    groups.push({
      ...OTHER,
      capabilities: rest.map((path) => ({ id: `other:${path}`, label: labelFromSpec(path, spec), endpoints: [path] })),
    });
  }
  return groups;
}

/** A label for an endpoint nobody named: its spec summary without notes in parentheses. */
function labelFromSpec(path: string, spec: SpecLike | null): string {
  const ops = spec?.paths?.[path];
  const op = ops && Object.values(ops).find((o) => o?.summary || o?.description);
  const text = firstSentence(op?.summary ?? op?.description ?? '')
    .replace(/\s*\([^)]*\)/g, '')
    .replace(/\.$/, '')
    .trim();
  return text || path;
}

/** Every capability of the groups, flat. */
export const allCapabilities = (groups: readonly CapabilityGroup[]): Capability[] => groups.flatMap((g) => g.capabilities);

/** Whether a role may do all, some or none of a capability (what its box shows). */
export function capabilityState(map: RoleMap, endpoints: readonly string[], role: string): 'all' | 'some' | 'none' {
  const n = endpoints.filter((e) => isAllowed(map, e, role)).length;
  return n === endpoints.length ? 'all' : n === 0 ? 'none' : 'some';
}

/** Whether no box of the capability can change for this role (admin, always-allowed). */
export const capabilityLocked = (endpoints: readonly string[], role: string): boolean => endpoints.every((e) => isLocked(e, role));

/** How many capabilities a pending change (endpoint → roles) touches. */
export function changedCapabilities(groups: readonly CapabilityGroup[], pending: RoleMap): number {
  return allCapabilities(groups).filter((c) => c.endpoints.some((e) => e in pending)).length;
}

/** Whether a capability matches the filter text: its words, its group, or one of its endpoints. */
export function matches(c: Capability, group: CapabilityGroup, q: string): boolean {
  const text = q.trim().toLowerCase();
  if (!text) return true;
  return `${c.label} ${group.title} ${c.endpoints.join(' ')}`.toLowerCase().includes(text);
}
