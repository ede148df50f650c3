// The file list's keyboard: turns a key press (see keys.ts for the table) into a selection
// move, an action or a dialog. Only what the server allows is offered here too.

import { tick } from 'svelte';
import type { FilesCtx } from './ctx.svelte';
import { actionFor, isTyping } from './keys';
import type { Entry } from './ops';
import { clear, click, move, selectAll, type Move } from './selection';

/** Put the keyboard focus on the entry shown for `path` (scrolled into view and rendered first). */
export function focusEntry(ctx: FilesCtx, path: string | null): void {
  if (!path) return;
  void tick().then(() => {
    ctx.ensureVisible?.(path);
    return tick().then(() => document.querySelector<HTMLElement>(`#entries [data-path="${CSS.escape(path)}"]`)?.focus({ preventScroll: true }));
  });
}

/** Entries per row: 1 in the list, the grid's column count in the grid. */
function columns(ctx: FilesCtx): number {
  const el = document.getElementById('entries');
  if (!el || ctx.folder.prefs.view !== 'grid') return 1;
  return Math.max(1, getComputedStyle(el).gridTemplateColumns.split(' ').length);
}

function openMenuAtFocus(ctx: FilesCtx): void {
  const el = ctx.sel.focus ? document.querySelector(`#entries [data-path="${CSS.escape(ctx.sel.focus)}"]`) : null;
  const r = el?.getBoundingClientRect();
  if (ctx.selected.length) ctx.menu = { x: r ? r.left + 40 : 100, y: r ? r.bottom : 100 };
}

export function onFilesKey(ctx: FilesCtx, ev: KeyboardEvent, on: { open: (e: Entry) => void; search: () => void }): void {
  const typing = isTyping(ev.target);
  const r = actionFor(ev, typing);
  if (!r) return;
  const t = ev.target as HTMLElement;
  // Moving and opening only when the list (or nothing) has the focus: Enter on a button
  // presses the button, arrows in a select change it.
  const inList = t === document.body || !!t.closest?.('#entries');
  const keys = ctx.keys;
  const sel = ctx.selected;
  const moveBy = (by: Move) => {
    ctx.sel = move(ctx.sel, keys, by, r.extend);
    focusEntry(ctx, ctx.sel.focus);
  };
  switch (r.action) {
    case 'clear':
      if (typing) return;
      if (ctx.sel.selected.size) ctx.sel = clear(ctx.sel);
      else if (ctx.results) ctx.clearSearch();
      else return;
      break;
    case 'up':
    case 'down':
      if (!inList) return;
      moveBy((r.action === 'up' ? -1 : 1) * columns(ctx));
      break;
    case 'left':
    case 'right':
      if (!inList || ctx.folder.prefs.view !== 'grid') return;
      moveBy(r.action === 'left' ? -1 : 1);
      break;
    case 'home':
    case 'end':
      if (!inList) return;
      moveBy(r.action);
      break;
    case 'open': {
      const e = ctx.shown.find((x) => x.path === ctx.sel.focus);
      if (!inList || !e) return;
      on.open(e);
      break;
    }
    case 'toggle':
      if (!inList || !ctx.sel.focus) return;
      ctx.sel = click(ctx.sel, keys, ctx.sel.focus, { toggle: true });
      break;
    case 'parent':
      ctx.up();
      break;
    case 'delete':
      if (!sel.length || !sel.every(ctx.canDelete)) return;
      ctx.openDialog('delete');
      break;
    case 'rename':
      if (sel.length !== 1 || !sel[0] || !ctx.canRename(sel[0])) return;
      ctx.openDialog('rename');
      break;
    case 'selectAll':
      if (!inList && t.closest?.('button, a')) return;
      ctx.sel = selectAll(ctx.sel, keys);
      break;
    case 'search':
      if (!document.getElementById('files-search')) return;
      on.search();
      break;
    case 'help':
      ctx.openDialog('help', []);
      break;
    case 'menu':
      openMenuAtFocus(ctx);
      break;
  }
  ev.preventDefault();
}
