// Moves and copies onto a name that is taken: what overwriting would do there.

import type { Entry } from './ops';

export type ConflictChoice = 'overwrite' | 'skip';

/** A move or copy whose destination name is taken, waiting for the user's answer. */
export interface TransferConflict {
  kind: 'move' | 'copy';
  entry: Entry;
  dir: string;
  /** What "replace" would do here, or null when the server cannot (a folder moved onto an
   *  existing name, or a file and a folder of the same name). */
  replace: 'replace' | 'merge' | null;
  answer: (choice: ConflictChoice | 'cancel', all: boolean) => void;
}

/**
 * What overwriting does when `entry` meets `existing`: a file replaces a file (move and copy);
 * a folder copied onto a folder merges into it (same-named files replaced); anything else the
 * server refuses (rename(2) does not replace a non-empty folder or change a file's kind).
 */
export function replaceKind(kind: 'move' | 'copy', entry: Entry, existing: Entry): TransferConflict['replace'] {
  if (!entry.is_dir && !existing.is_dir) return 'replace';
  if (kind === 'copy' && entry.is_dir && existing.is_dir) return 'merge';
  return null;
}
