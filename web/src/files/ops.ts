// Every server call of the file manager, on the typed client. Components call these and show
// `messageOf(e)` when they throw; none of them decides permissions (the server does).

import { ApiError, authHeaders, client, errorFromResponse, networkError, ok, sessionExpired, type Schemas } from '../lib/api';
import { can } from '../lib/session.svelte';
import { basename, join, parent } from '../lib/paths';

export type Entry = Schemas['FileEntry'];
export type Listing = Schemas['Listing'];
export type SortKey = Schemas['SortKey'];
export type SortOrder = Schemas['SortOrder'];

export interface ListQuery {
  sort: SortKey;
  order: SortOrder;
  showHidden: boolean;
  offset: number;
  limit: number;
}

export function list(path: string, q: ListQuery, signal?: AbortSignal): Promise<Listing> {
  const query = { path, sort: q.sort, order: q.order, show_hidden: q.showHidden, offset: q.offset, limit: q.limit };
  return ok(client.GET('/api/finder', { params: { query }, ...(signal ? { signal } : {}) }));
}

export const stat = (path: string): Promise<Entry> => ok(client.GET('/api/stat', { params: { query: { path } } }));

export const createFolder = (dir: string, name: string) =>
  ok(client.POST('/api/create_folder', { body: { path: dir, folder_name: name } }));

export const newFile = (dir: string, name: string, content = '') =>
  ok(client.POST('/api/new_file', { body: { path: dir, file_name: name, file_content: content } }));

export function rename(e: Entry, newName: string) {
  const dir = parent(e.path);
  return e.is_dir
    ? ok(client.POST('/api/rename_folder', { body: { path: dir, folder_name: e.name, new_name: newName } }))
    : ok(client.POST('/api/rename_file', { body: { path: dir, file_name: e.name, new_name: newName } }));
}

export function remove(e: Entry) {
  return e.is_dir
    ? ok(client.POST('/api/delete_folder', { body: { path: e.path } }))
    : ok(client.POST('/api/delete_file', { body: { path: e.path } }));
}

export const move = (from: string, toDir: string, overwrite = false) =>
  ok(client.POST('/api/move', { body: { from, to: join(toDir, basename(from)), overwrite } }));

export const copy = (from: string, to: string, overwrite = false) =>
  ok(client.POST('/api/copy', { body: { from, to, overwrite } }));

export const getFile = (path: string) => ok(client.GET('/api/get_file', { params: { query: { file_path: path } } }));

export const editFile = (path: string, content: string) =>
  ok(client.POST('/api/edit_file', { body: { path, file_content: content } }));

export const search = (path: string, q: string, limit = 200, signal?: AbortSignal) =>
  ok(client.GET('/api/search', { params: { query: { path, q, limit } }, ...(signal ? { signal } : {}) }));

export const dirSize = (path: string) => ok(client.GET('/api/dir_size', { params: { query: { path } } }));

/** A short-lived URL for `path` that works without a header (`<img>`, `<video>`, downloads). */
export async function ticketUrl(path: string, inline = false): Promise<string> {
  const t = await ok(client.POST('/api/download_ticket', { body: { path } }));
  return inline ? `${t.url}&inline=1` : t.url;
}

function clickDownload(href: string, name?: string): void {
  const a = document.createElement('a');
  a.href = href;
  if (name) a.download = name;
  a.rel = 'noopener';
  a.style.display = 'none';
  document.body.append(a);
  a.click();
  a.remove();
}

/**
 * Download one file, or one folder as a zip, straight to the browser's downloads (streamed by
 * the browser, resumable for files) through a ticket URL.
 */
export async function downloadPath(path: string): Promise<void> {
  clickDownload(await ticketUrl(path));
}

/**
 * Several paths as one zip. Normally through a zip ticket, so the browser streams the archive
 * straight to its downloads; when the role may not ask for tickets, or the selection is too
 * long for one (413), the archive is fetched with the header and handed over from memory.
 */
export async function downloadZip(paths: string[]): Promise<void> {
  if (can('/api/download_ticket')) {
    try {
      const t = await ok(client.POST('/api/download_ticket', { body: { paths } }));
      clickDownload(t.url);
      return;
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 413)) throw e;
    }
  }
  let res: Response;
  try {
    res = await fetch('/api/download_zip', {
      method: 'POST',
      headers: { ...authHeaders(), 'Content-Type': 'application/json' },
      body: JSON.stringify({ paths }),
    });
  } catch {
    throw networkError();
  }
  if (!res.ok) {
    if (res.status === 401) sessionExpired();
    throw await errorFromResponse(res);
  }
  const cd = res.headers.get('Content-Disposition') ?? '';
  const m = /filename\*=UTF-8''([^;]+)/i.exec(cd);
  const name = m?.[1] ? decodeURIComponent(m[1]) : 'download.zip';
  const url = URL.createObjectURL(await res.blob());
  clickDownload(url, name);
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
