// Audit log filters live in the page's query string (`?action=&actor=&ip=&since=&offset=`), so a
// filtered view survives a reload and can be shared. Pure, tested in filters.test.ts.

export interface LogFilter {
  action: string;
  actor: string;
  ip: string;
  /** A `datetime-local` value (local time, `YYYY-MM-DDTHH:MM`), '' for none. */
  since: string;
}

export const EMPTY: LogFilter = { action: '', actor: '', ip: '', since: '' };

export function readFilter(search: string): { filter: LogFilter; offset: number } {
  const q = new URLSearchParams(search);
  const offset = Number(q.get('offset') ?? '0');
  return {
    filter: { action: q.get('action') ?? '', actor: q.get('actor') ?? '', ip: q.get('ip') ?? '', since: q.get('since') ?? '' },
    offset: Number.isInteger(offset) && offset > 0 ? offset : 0,
  };
}

export function writeFilter(f: LogFilter, offset = 0): string {
  const q = new URLSearchParams();
  for (const k of ['action', 'actor', 'ip', 'since'] as const) {
    const v = f[k].trim();
    if (v) q.set(k, v);
  }
  if (offset > 0) q.set('offset', String(offset));
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** A `datetime-local` value as RFC 3339 UTC for the API; null when empty or unreadable. */
export function sinceToRfc3339(local: string): string | null {
  if (!local) return null;
  const t = new Date(local).getTime();
  return Number.isNaN(t) ? null : new Date(t).toISOString();
}

/** The query of `/api/get_logs` for a filter (empty fields left out). */
export function apiQuery(f: LogFilter): { action?: string; actor?: string; ip?: string; since?: string } {
  const out: { action?: string; actor?: string; ip?: string; since?: string } = {};
  if (f.action.trim()) out.action = f.action.trim();
  if (f.actor.trim()) out.actor = f.actor.trim();
  if (f.ip.trim()) out.ip = f.ip.trim();
  const since = sinceToRfc3339(f.since);
  if (since) out.since = since;
  return out;
}

/** A file name for an export made at `now`: `nook-audit-20260102-0304.csv`. */
export function exportName(now: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `nook-audit-${now.getFullYear()}${p(now.getMonth() + 1)}${p(now.getDate())}-${p(now.getHours())}${p(now.getMinutes())}.csv`;
}
