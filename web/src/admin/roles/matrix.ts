// The role matrix: endpoints (rows, grouped by their OpenAPI tag) × roles (columns). Pure
// functions over the server's role map (`GET /api/role/get`: endpoint → roles), tested in
// matrix.test.ts. The server stays the authority: `admin` may call everything whatever the map
// says, and a few endpoints are open to every signed-in user.

export type RoleMap = Record<string, string[]>;

export const ADMIN = 'admin';
export const USER = 'user';

/** Allowed to every signed-in user by the server, whatever the map says (access/roles.rs). */
export const ALWAYS_ALLOWED: readonly string[] = ['/api/user/logout', '/api/role/self'];

export interface EndpointInfo {
  path: string;
  /** HTTP methods of the operations on this path (`GET`, `POST` …). */
  methods: string[];
  /** First sentence of the operation's doc, when known. */
  summary: string;
}

export interface Group {
  tag: string;
  title: string;
  description: string;
  endpoints: EndpointInfo[];
}

/** The part of an OpenAPI document the matrix reads. */
export interface SpecLike {
  tags?: { name: string; description?: string }[];
  paths?: Record<string, Record<string, { tags?: string[]; summary?: string; description?: string } | undefined>>;
}

const TITLES: Record<string, string> = {
  Files: 'Files and folders',
  Ftp: 'FTP server and accounts',
  V1: 'FTP accounts (SFTPGo v1 API)',
  Logs: 'Audit log',
  Roles: 'Roles',
  Settings: 'Settings',
  System: 'System',
  Users: 'Users and sessions',
  Other: 'Other',
};

const METHODS = ['get', 'post', 'put', 'patch', 'delete', 'head', 'options'];

/** A tag for a path when the spec is not available: by its prefix. */
export function tagByPrefix(path: string): string {
  if (path.startsWith('/api/v1/')) return 'V1';
  if (path.startsWith('/api/ftp/')) return 'Ftp';
  if (path.startsWith('/api/user/')) return 'Users';
  if (path.startsWith('/api/role/')) return 'Roles';
  if (path === '/api/get_logs') return 'Logs';
  if (path.includes('settings')) return 'Settings';
  if (
    /^\/api\/(finder|stat|search|new_file|delete_|edit_file|get_file|rename_|create_folder|move|copy|upload|put_file|tus|download)/.test(
      path,
    )
  ) {
    return 'Files';
  }
  return 'System';
}

/** The first sentence or clause of a doc comment, outside parentheses, without backticks. */
export function firstSentence(text: string): string {
  const t = text.replace(/\s+/g, ' ').replace(/`/g, '').trim();
  let depth = 0;
  for (let i = 0; i < t.length; i++) {
    const c = t[i];
    if (c === '(') depth++;
    else if (c === ')') depth = Math.max(0, depth - 1);
    else if (depth === 0 && (c === '.' || c === ';' || c === ':') && (i + 1 === t.length || t[i + 1] === ' ')) {
      return `${t.slice(0, i)}.`;
    }
  }
  return t;
}

/** Group the map's endpoints by tag (the spec's tag order, then `Other`), paths sorted. */
export function groupEndpoints(map: RoleMap, spec: SpecLike | null): Group[] {
  const byTag = new Map<string, EndpointInfo[]>();
  for (const path of Object.keys(map).sort()) {
    const ops = spec?.paths?.[path];
    let tag = '';
    let summary = '';
    const methods: string[] = [];
    for (const m of METHODS) {
      const op = ops?.[m];
      if (!op) continue;
      methods.push(m.toUpperCase());
      tag ||= op.tags?.[0] ?? '';
      summary ||= firstSentence(op.summary ?? op.description ?? '');
    }
    tag ||= tagByPrefix(path);
    const list = byTag.get(tag) ?? [];
    list.push({ path, methods, summary });
    byTag.set(tag, list);
  }
  const order = [...(spec?.tags?.map((t) => t.name) ?? []), ...Object.keys(TITLES)];
  const tags = [...byTag.keys()].sort((a, b) => rank(order, a) - rank(order, b) || a.localeCompare(b));
  return tags.map((tag) => ({
    tag,
    title: TITLES[tag] ?? tag,
    description: spec?.tags?.find((t) => t.name === tag)?.description ?? '',
    endpoints: byTag.get(tag) ?? [],
  }));
}

function rank(order: string[], tag: string): number {
  const i = order.indexOf(tag);
  return i < 0 ? order.length : i;
}

/** Every role named in the map (plus the built-ins): admin, user, then the rest sorted. */
export function rolesOf(map: RoleMap, extra: readonly string[] = []): string[] {
  const set = new Set<string>([ADMIN, USER, ...extra]);
  for (const roles of Object.values(map)) for (const r of roles) set.add(r);
  const custom = [...set].filter((r) => r !== ADMIN && r !== USER).sort();
  return [ADMIN, USER, ...custom];
}

/** Whether a cell cannot be changed: the admin column, and endpoints open to everyone. */
export function isLocked(endpoint: string, role: string): boolean {
  return role === ADMIN || ALWAYS_ALLOWED.includes(endpoint);
}

/** What the server will do for this cell (locked cells are always allowed). */
export function isAllowed(map: RoleMap, endpoint: string, role: string): boolean {
  return isLocked(endpoint, role) || (map[endpoint]?.includes(role) ?? false);
}

/** Grant or revoke one cell; returns a new map (locked cells do not change). */
export function toggle(map: RoleMap, endpoint: string, role: string, on: boolean): RoleMap {
  if (isLocked(endpoint, role)) return map;
  const cur = map[endpoint] ?? [];
  const next = on ? [...new Set([...cur, role])] : cur.filter((r) => r !== role);
  return { ...map, [endpoint]: next };
}

/** Grant or revoke a role on every endpoint of a group. */
export function toggleMany(map: RoleMap, endpoints: readonly string[], role: string, on: boolean): RoleMap {
  return endpoints.reduce((m, e) => toggle(m, e, role, on), map);
}

const norm = (roles: readonly string[] | undefined) => [...new Set([...(roles ?? []), ADMIN])].sort();

/** The body of `POST /api/role/edit`: only endpoints whose roles changed, `admin` kept. */
export function changes(before: RoleMap, after: RoleMap): RoleMap {
  const out: RoleMap = {};
  for (const e of Object.keys(after)) {
    const a = norm(before[e]);
    const b = norm(after[e]);
    if (a.length !== b.length || a.some((r, i) => r !== b[i])) out[e] = b;
  }
  return out;
}

/** Role names the server accepts: 1–64 of a-z 0-9 _ -, starting with a letter. */
export function roleNameProblem(name: string, existing: readonly string[]): string | null {
  if (name === '') return 'Enter a name.';
  if (name.length > 64) return 'At most 64 characters.';
  if (!/^[a-z][a-z0-9_-]*$/.test(name)) return 'Use a-z, 0-9, _ and -, starting with a letter.';
  if (existing.includes(name)) return 'That role already exists.';
  return null;
}
