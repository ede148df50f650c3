// FTP account permissions as the v1 API names them, quota and limit helpers. Pure, tested in
// permissions.test.ts.

export type Permission = '*' | 'list' | 'download' | 'upload' | 'delete' | 'rename' | 'create_dirs' | 'create_symlinks';

export const PERMISSIONS: readonly { name: Exclude<Permission, '*'>; label: string; help: string }[] = [
  { name: 'list', label: 'List', help: 'See folder contents' },
  { name: 'download', label: 'Download', help: 'Read files' },
  { name: 'upload', label: 'Upload', help: 'Create and overwrite files' },
  { name: 'delete', label: 'Delete', help: 'Remove files and folders' },
  { name: 'rename', label: 'Rename', help: 'Rename and move' },
  { name: 'create_dirs', label: 'Create folders', help: 'Make new folders' },
  { name: 'create_symlinks', label: 'Create symlinks', help: 'Make symbolic links' },
];

/** A canonical permission list: `*` alone when it is there, else the names in table order. */
export function normalize(perms: readonly Permission[]): Permission[] {
  if (perms.includes('*')) return ['*'];
  return PERMISSIONS.map((p) => p.name).filter((n) => perms.includes(n));
}

/** Whether a permission is granted (everything is, under `*`). */
export function has(perms: readonly Permission[], p: Permission): boolean {
  return perms.includes('*') || perms.includes(p);
}

/**
 * Check or uncheck one box. Checking `*` grants everything; unchecking one name while `*` is
 * set keeps every other name; checking the last missing name does not become `*` by itself
 * (`*` also covers permissions added later, so it stays an explicit choice).
 */
export function setPermission(perms: readonly Permission[], p: Permission, on: boolean): Permission[] {
  if (p === '*') return on ? ['*'] : PERMISSIONS.map((x) => x.name);
  const expanded: Permission[] = perms.includes('*') ? PERMISSIONS.map((x) => x.name) : [...perms];
  const next = on ? [...expanded, p] : expanded.filter((x) => x !== p);
  return normalize(next);
}

/** Short text for a list of permissions, e.g. `all` or `list, download`. */
export function describe(perms: readonly Permission[]): string {
  const n = normalize(perms);
  if (n[0] === '*') return 'all';
  if (n.length === 0) return 'none';
  return n.map((x) => PERMISSIONS.find((p) => p.name === x)?.label.toLowerCase() ?? x).join(', ');
}

/** Share of a quota in use, 0–100, or null when unlimited (0). */
export function quotaPercent(used: number, total: number): number | null {
  if (!(total > 0)) return null;
  return Math.min(100, Math.max(0, Math.round((Math.max(0, used) / total) * 100)));
}

/** A limit for display: `unlimited` for 0. */
export function limitText(n: number, unit: (n: number) => string): string {
  return n > 0 ? unit(n) : 'unlimited';
}

/** Parse a whole, non-negative number typed into a limit field ('' means 0, unlimited). */
export function parseLimit(raw: string | number | null | undefined, max = Number.MAX_SAFE_INTEGER): number | null {
  if (raw === null || raw === undefined) return 0;
  const s = String(raw).trim();
  if (s === '') return 0;
  if (!/^\d+$/.test(s)) return null;
  const n = Number(s);
  return n <= max ? n : null;
}

export type SizeUnit = 'MiB' | 'GiB';
const UNIT_BYTES: Record<SizeUnit, number> = { MiB: 1024 ** 2, GiB: 1024 ** 3 };

/** A byte count as a number in the largest unit that divides it exactly (GiB, else MiB). */
export function splitBytes(bytes: number): { n: number; unit: SizeUnit } {
  if (bytes > 0 && bytes % UNIT_BYTES.GiB === 0) return { n: bytes / UNIT_BYTES.GiB, unit: 'GiB' };
  return { n: Math.round(bytes / UNIT_BYTES.MiB), unit: 'MiB' };
}

export function toBytes(n: number, unit: SizeUnit): number {
  return n * UNIT_BYTES[unit];
}
