// Windowed rendering of long folders: only the rows near the viewport exist in the DOM, with
// space above and below standing in for the rest. Pure arithmetic, tested in window.test.ts.

/** Rows rendered beyond the viewport on each side. */
export const OVERSCAN = 8;

export interface Viewport {
  /** Entries in the list. */
  count: number;
  /** Entries per row (1 for the list, the column count for the grid). */
  cols: number;
  /** Height of one row in px (row pitch, gaps included). */
  rowHeight: number;
  /** Viewport top relative to the list's top in px (negative while the list starts below it). */
  top: number;
  /** Viewport height in px. */
  height: number;
}

/** The rows to render: `[start, end)` (row numbers, not entries). */
export function rowRange(v: Viewport, overscan = OVERSCAN): { start: number; end: number } {
  const rows = Math.ceil(v.count / Math.max(1, v.cols));
  if (rows === 0 || v.rowHeight <= 0) return { start: 0, end: rows };
  const first = Math.floor(Math.max(0, v.top) / v.rowHeight) - overscan;
  const last = Math.ceil(Math.max(0, v.top + v.height) / v.rowHeight) + overscan;
  const start = Math.min(Math.max(0, first), rows);
  return { start, end: Math.min(rows, Math.max(start, last)) };
}

/** Grid columns that fit `width` with tiles at least `minTile` wide and `gap` between them. */
export function columnsFor(width: number, minTile: number, gap: number): number {
  if (width <= 0 || minTile <= 0) return 1;
  return Math.max(1, Math.floor((width + gap) / (minTile + gap)));
}

/**
 * How far the list must scroll (a delta in px; 0 when none) so that entry `index` is fully in
 * view, leaving `margin` px above it (sticky headers) and below it.
 */
export function scrollDelta(index: number, v: Viewport, margin = 0): number {
  const row = Math.floor(index / Math.max(1, v.cols));
  const rowTop = row * v.rowHeight;
  const rowBottom = rowTop + v.rowHeight;
  if (rowTop < v.top + margin) return rowTop - margin - v.top;
  if (rowBottom > v.top + v.height - margin) return rowBottom + margin - (v.top + v.height);
  return 0;
}
