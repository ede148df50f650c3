// Keyboard shortcuts of the file manager: one table, used by the page's key handler and shown
// in the help dialog, so the two never disagree.

export type Action =
  | 'up'
  | 'down'
  | 'left'
  | 'right'
  | 'home'
  | 'end'
  | 'open'
  | 'parent'
  | 'delete'
  | 'rename'
  | 'selectAll'
  | 'clear'
  | 'search'
  | 'help'
  | 'menu'
  | 'toggle';

export interface KeyLike {
  key: string;
  ctrlKey?: boolean;
  metaKey?: boolean;
  shiftKey?: boolean;
  altKey?: boolean;
}

export interface Shortcut {
  keys: string;
  what: string;
}

/** What the help dialog lists. */
export const SHORTCUTS: Shortcut[] = [
  { keys: '↑ ↓ ← →', what: 'Move between files (Shift extends the selection)' },
  { keys: 'Home / End', what: 'First / last file' },
  { keys: 'Enter', what: 'Open the folder or file' },
  { keys: 'Backspace', what: 'Go up to the parent folder' },
  { keys: 'Space or Ctrl+Space', what: 'Add or remove the focused file from the selection' },
  { keys: 'Ctrl+A', what: 'Select everything shown' },
  { keys: 'Esc', what: 'Clear the selection or the search' },
  { keys: 'Delete', what: 'Delete the selection (asks first)' },
  { keys: 'F2', what: 'Rename' },
  { keys: 'Shift+F10 or Menu', what: 'Actions for the selection' },
  { keys: '/', what: 'Search this folder' },
  { keys: '?', what: 'This help' },
  { keys: '← → (in a preview)', what: 'Previous / next file' },
  { keys: 'Ctrl+S (in the editor)', what: 'Save' },
];

export interface Resolved {
  action: Action;
  /** Shift held with a move: extend the selection. */
  extend: boolean;
}

/**
 * The action for a key press, or null. `typing`: the focus is in a text field, where only
 * Escape counts (everything else is the field's own).
 */
export function actionFor(e: KeyLike, typing: boolean): Resolved | null {
  const mod = !!(e.ctrlKey || e.metaKey);
  const extend = !!e.shiftKey;
  const r = (action: Action, ext = false): Resolved => ({ action, extend: ext });
  if (e.key === 'Escape') return r('clear');
  if (typing || e.altKey) return null;
  switch (e.key) {
    case 'ArrowUp':
      return r('up', extend);
    case 'ArrowDown':
      return r('down', extend);
    case 'ArrowLeft':
      return r('left', extend);
    case 'ArrowRight':
      return r('right', extend);
    case 'Home':
      return r('home', extend);
    case 'End':
      return r('end', extend);
    case 'Enter':
      return mod ? null : r('open');
    case 'Backspace':
      return mod ? null : r('parent');
    case 'Delete':
      return r('delete');
    case 'F2':
      return r('rename');
    case 'ContextMenu':
      return r('menu');
    case 'F10':
      return extend ? r('menu') : null;
    case ' ':
      return r('toggle');
    case '/':
      return mod ? null : r('search');
    case '?':
      return mod ? null : r('help');
  }
  if (mod && (e.key === 'a' || e.key === 'A') && !extend) return r('selectAll');
  return null;
}

/** Whether a key event comes from a place that takes text (inputs, editors, selects). */
export function isTyping(target: EventTarget | null): boolean {
  if (!target || typeof (target as Element).closest !== 'function') return false;
  const el = target as HTMLElement;
  if (el.isContentEditable) return true;
  return !!el.closest('input, textarea, select, [contenteditable="true"], .cm-editor');
}
