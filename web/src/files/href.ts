// Addresses of the file manager's screens (pure, tested in href.test.ts).

/** `/?path=…` for a folder, with an optional preview (`view`) or editor (`edit=1`) over it. */
export function folderHref(dir: string, view?: string, edit = false): string {
  const q = new URLSearchParams();
  if (dir !== '/') q.set('path', dir);
  if (view) q.set('view', view);
  if (edit) q.set('edit', '1');
  const s = q.toString();
  return s ? `/?${s}` : '/';
}

/** `/preview?path=…` (and `&edit=1`): a file on a page of its own. */
export function previewHref(path: string, edit = false): string {
  return `/preview?path=${encodeURIComponent(path)}${edit ? '&edit=1' : ''}`;
}
