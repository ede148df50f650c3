// Drag and drop: entries dragged inside the page carry their paths under our own type;
// files from the desktop carry `Files`.

export const DND_TYPE = 'application/x-nook-paths';

export function setDragPaths(e: DragEvent, paths: string[]): void {
  if (!e.dataTransfer) return;
  e.dataTransfer.setData(DND_TYPE, JSON.stringify(paths));
  e.dataTransfer.setData('text/plain', paths.join('\n'));
  e.dataTransfer.effectAllowed = 'copyMove';
}

export const isEntryDrag = (e: DragEvent): boolean => !!e.dataTransfer?.types.includes(DND_TYPE);
export const isFileDrag = (e: DragEvent): boolean => !!e.dataTransfer?.types.includes('Files');

export function dragPaths(e: DragEvent): string[] {
  try {
    const v: unknown = JSON.parse(e.dataTransfer?.getData(DND_TYPE) || '[]');
    return Array.isArray(v) ? v.filter((p): p is string => typeof p === 'string') : [];
  } catch {
    return [];
  }
}

/** Ctrl (or Alt on macOS) while dropping copies instead of moving. */
export const dropCopies = (e: DragEvent): boolean => e.ctrlKey || e.altKey;
