// Selection of entries in a folder view: click, Ctrl/Cmd-click, Shift-click, keyboard moves
// and Ctrl+A. Pure functions over an immutable state, so the page can keep it in `$state.raw`
// and tests can drive it without a DOM. Keys are entry paths in display order.

export interface SelState {
  readonly selected: ReadonlySet<string>;
  /** Where a Shift range starts. */
  readonly anchor: string | null;
  /** The entry with keyboard focus. */
  readonly focus: string | null;
}

export const emptySelection = (): SelState => ({ selected: new Set(), anchor: null, focus: null });

export interface ClickMods {
  /** Shift: select the range from the anchor. */
  shift?: boolean;
  /** Ctrl/Cmd (or a tap on the check mark): add or remove one entry. */
  toggle?: boolean;
}

function range(keys: readonly string[], a: string | null, b: string): string[] {
  const j = keys.indexOf(b);
  const i = a === null ? -1 : keys.indexOf(a);
  if (j < 0) return [];
  if (i < 0) return [b];
  const [lo, hi] = i <= j ? [i, j] : [j, i];
  return keys.slice(lo, hi + 1);
}

/** A pointer click on `key`. */
export function click(s: SelState, keys: readonly string[], key: string, mods: ClickMods = {}): SelState {
  if (!keys.includes(key)) return s;
  if (mods.shift) {
    const anchor = s.anchor !== null && keys.includes(s.anchor) ? s.anchor : key;
    const set = new Set(mods.toggle ? s.selected : []);
    for (const k of range(keys, anchor, key)) set.add(k);
    return { selected: set, anchor, focus: key };
  }
  if (mods.toggle) {
    const set = new Set(s.selected);
    if (set.has(key)) set.delete(key);
    else set.add(key);
    return { selected: set, anchor: key, focus: key };
  }
  return { selected: new Set([key]), anchor: key, focus: key };
}

export type Move = number | 'home' | 'end';

/**
 * Move the focus by `delta` entries (1 down, -1 up, ±columns in a grid) or to the first/last.
 * Without Shift the focused entry becomes the selection; with Shift the range from the anchor.
 */
export function move(s: SelState, keys: readonly string[], by: Move, extend = false): SelState {
  if (keys.length === 0) return s;
  const cur = s.focus === null ? -1 : keys.indexOf(s.focus);
  let next: number;
  if (by === 'home') next = 0;
  else if (by === 'end') next = keys.length - 1;
  else if (cur < 0) next = by > 0 ? 0 : keys.length - 1;
  else next = Math.min(keys.length - 1, Math.max(0, cur + by));
  const key = keys[next] as string;
  if (extend) {
    const anchor = s.anchor !== null && keys.includes(s.anchor) ? s.anchor : (s.focus ?? key);
    return { selected: new Set(range(keys, anchor, key)), anchor, focus: key };
  }
  return { selected: new Set([key]), anchor: key, focus: key };
}

export function selectAll(s: SelState, keys: readonly string[]): SelState {
  return { selected: new Set(keys), anchor: s.anchor, focus: s.focus ?? keys[0] ?? null };
}

export function clear(s: SelState): SelState {
  return { selected: new Set(), anchor: null, focus: s.focus };
}

/** Only `key` selected and focused (after a rename, a new folder, "show in folder"). */
export function only(key: string): SelState {
  return { selected: new Set([key]), anchor: key, focus: key };
}

/** Drop entries that are gone (after a reload); keeps the focus if it still exists. */
export function prune(s: SelState, keys: readonly string[]): SelState {
  const present = new Set(keys);
  const selected = new Set([...s.selected].filter((k) => present.has(k)));
  const keep = (k: string | null) => (k !== null && present.has(k) ? k : null);
  if (selected.size === s.selected.size && keep(s.focus) === s.focus && keep(s.anchor) === s.anchor) return s;
  return { selected, anchor: keep(s.anchor), focus: keep(s.focus) };
}

/** The selected keys in display order. */
export function ordered(s: SelState, keys: readonly string[]): string[] {
  return keys.filter((k) => s.selected.has(k));
}
