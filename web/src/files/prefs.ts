// View preferences remembered per browser: list or grid, sort, order, hidden files.

import type { SortKey, SortOrder } from './ops';

export type ViewMode = 'list' | 'grid';

export interface Prefs {
  view: ViewMode;
  sort: SortKey;
  order: SortOrder;
  showHidden: boolean;
}

const KEY = 'nook.files.prefs';
export const DEFAULT_PREFS: Prefs = { view: 'list', sort: 'name', order: 'asc', showHidden: false };

const SORTS: SortKey[] = ['name', 'size', 'modified', 'type'];

/** Parse stored preferences, ignoring anything unknown or broken. */
export function parsePrefs(raw: string | null): Prefs {
  let v: Record<string, unknown> = {};
  try {
    const parsed: unknown = raw ? JSON.parse(raw) : {};
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) v = parsed as Record<string, unknown>;
  } catch {
    // keep defaults
  }
  return {
    view: v.view === 'grid' ? 'grid' : 'list',
    sort: SORTS.includes(v.sort as SortKey) ? (v.sort as SortKey) : 'name',
    order: v.order === 'desc' ? 'desc' : 'asc',
    showHidden: v.showHidden === true,
  };
}

export function loadPrefs(): Prefs {
  try {
    return parsePrefs(localStorage.getItem(KEY));
  } catch {
    return { ...DEFAULT_PREFS };
  }
}

export function savePrefs(p: Prefs): void {
  try {
    localStorage.setItem(KEY, JSON.stringify(p));
  } catch {
    // storage disabled
  }
}

/** Clicking a column header: the same key flips the order, another key starts ascending. */
export function nextSort(p: Pick<Prefs, 'sort' | 'order'>, key: SortKey): Pick<Prefs, 'sort' | 'order'> {
  if (p.sort === key) return { sort: key, order: p.order === 'asc' ? 'desc' : 'asc' };
  return { sort: key, order: key === 'modified' || key === 'size' ? 'desc' : 'asc' };
}
