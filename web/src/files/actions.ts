// The actions offered for a selection (context menu, ⋯ buttons, selection bar): only those
// the server allows for every selected entry.

import type { FilesCtx } from './ctx.svelte';
import type { MenuItem } from './Menu.svelte';
import type { Entry } from './ops';

export function actionsFor(ctx: FilesCtx, list: Entry[]): MenuItem[] {
  const items: MenuItem[] = [];
  const one = list.length === 1 ? list[0] : undefined;
  if (list.length === 0) return items;
  if (one) items.push({ label: one.is_dir ? 'Open' : 'Preview', hint: 'Enter', run: () => ctx.open(one) });
  if (one && ctx.canEdit(one)) items.push({ label: 'Edit', run: () => ctx.edit(one) });
  if (one && ctx.results !== null) items.push({ label: 'Show in folder', run: () => void ctx.reveal(one) });
  if (ctx.canDownload(list)) {
    const zip = list.length > 1 || one?.is_dir;
    items.push({ label: zip ? 'Download as zip' : 'Download', run: () => void ctx.download(list) });
  }
  if (one && ctx.canRename(one)) items.push({ label: 'Rename…', hint: 'F2', run: () => ctx.openDialog('rename', list) });
  if (list.every(ctx.canMove)) items.push({ label: 'Move to…', run: () => ctx.openDialog('move', list) });
  if (ctx.canCopy()) items.push({ label: 'Copy to…', run: () => ctx.openDialog('copy', list) });
  if (one?.is_dir && ctx.canSize()) items.push({ label: 'Folder size', run: () => void ctx.folderSize(one) });
  if (list.every(ctx.canDelete)) items.push({ label: 'Delete…', hint: 'Del', danger: true, run: () => ctx.openDialog('delete', list) });
  return items;
}
