// The state of the file manager page shared by its components: the open folder, the
// selection, search, folder sizes, which dialog or menu is open, and what the caller may do
// (only ever from the server's answers: `writable` flags and the role's endpoint map).

import { ApiError, isAbort, messageOf } from '../lib/api';
import { join, normalize, parent } from '../lib/paths';
import { navigate } from '../lib/router.svelte';
import { can } from '../lib/session.svelte';
import { notify } from '../lib/toast.svelte';
import { replaceKind, type ConflictChoice, type TransferConflict } from './conflict';
import { isEditable } from './filetype';
import { FolderView } from './folder.svelte';
import { folderHref } from './href';
import * as ops from './ops';
import type { Entry } from './ops';
import { emptySelection, only, ordered, prune, type SelState } from './selection';

export type DialogKind = 'newFolder' | 'newFile' | 'rename' | 'delete' | 'move' | 'copy' | 'help';

export interface SizeInfo {
  state: 'loading' | 'ok' | 'error';
  size?: number;
  files?: number;
  truncated?: boolean;
}

export class FilesCtx {
  folder = new FolderView();
  sel = $state.raw<SelState>(emptySelection());
  dialog = $state<DialogKind | null>(null);
  /** Entries the open dialog acts on. */
  targets = $state.raw<Entry[]>([]);
  menu = $state<{ x: number; y: number } | null>(null);
  sizes = $state<Record<string, SizeInfo>>({});
  searchText = $state('');
  results = $state.raw<Entry[] | null>(null);
  resultsTruncated = $state(false);
  searching = $state(false);
  searchError = $state('');
  busy = $state(false);
  /** The move/copy conflict being asked about, if any. */
  conflict = $state.raw<TransferConflict | null>(null);
  /** Set by the list: scroll so that an entry's row is rendered and in view. */
  ensureVisible: ((path: string) => void) | null = null;
  private searchCtrl: AbortController | null = null;

  get dir(): string {
    return this.folder.path;
  }

  /** What the list shows: search results while searching, else the folder. */
  get shown(): Entry[] {
    return this.results ?? this.folder.entries;
  }

  get keys(): string[] {
    return this.shown.map((e) => e.path);
  }

  get selected(): Entry[] {
    const set = this.sel.selected;
    return this.shown.filter((e) => set.has(e.path));
  }

  get names(): Set<string> {
    return new Set(this.folder.entries.map((e) => e.name));
  }

  // What the server allows. The folder's own `writable` and each entry's `writable` come from
  // /api/finder; endpoints from /api/role/self.
  get canUpload() {
    return this.folder.writable && (can('/api/upload') || can('/api/tus'));
  }
  get canNewFolder() {
    return this.folder.writable && can('/api/create_folder');
  }
  get canNewFile() {
    return this.folder.writable && can('/api/new_file');
  }
  canRename = (e: Entry) => e.writable && can(e.is_dir ? '/api/rename_folder' : '/api/rename_file');
  canDelete = (e: Entry) => e.writable && can(e.is_dir ? '/api/delete_folder' : '/api/delete_file');
  canMove = (e: Entry) => e.writable && can('/api/move');
  canCopy = () => can('/api/copy');
  canEdit = (e: Entry) => !e.is_dir && e.writable && can('/api/edit_file') && can('/api/get_file') && isEditable(e);
  canDownload = (list: Entry[]) =>
    list.length === 1 ? can('/api/download_ticket') && can('/api/download') : list.length > 1 && can('/api/download_zip');
  canSize = () => can('/api/dir_size');

  async load(dir: string): Promise<void> {
    this.clearSearch();
    if (normalize(dir) !== this.folder.path) this.sel = emptySelection();
    await this.folder.load(normalize(dir));
    this.sel = prune(this.sel, this.keys);
  }

  async refresh(select?: string): Promise<void> {
    await this.folder.load(this.folder.path);
    if (this.results && this.searchText) await this.runSearch(this.searchText);
    this.sel = select && this.keys.includes(select) ? only(select) : prune(this.sel, this.keys);
  }

  go(dir: string): void {
    navigate(folderHref(normalize(dir)));
  }

  up(): void {
    if (this.folder.path !== '/') this.go(parent(this.folder.path));
  }

  /** The preview was opened from the list (so closing it can go back in history). */
  viewPushed = false;

  /** Folders open; files open in the preview. */
  open(e: Entry): void {
    if (e.is_dir) return this.go(e.path);
    this.viewPushed = navigate(folderHref(this.folder.path, e.path));
  }

  edit(e: Entry): void {
    this.viewPushed = navigate(folderHref(this.folder.path, e.path, true));
  }

  /** A search hit: show it selected in its folder. */
  async reveal(e: Entry): Promise<void> {
    const dir = parent(e.path);
    if (dir !== this.folder.path) navigate(folderHref(dir));
    await this.load(dir);
    this.sel = only(e.path);
  }

  openDialog(kind: DialogKind, targets: Entry[] = this.selected): void {
    this.menu = null;
    this.targets = targets;
    this.dialog = kind;
  }

  // Search ---------------------------------------------------------------------------------
  async runSearch(q: string): Promise<void> {
    this.searchCtrl?.abort();
    const text = q.trim();
    if (!text) return this.clearSearch();
    const ctrl = new AbortController();
    this.searchCtrl = ctrl;
    this.searching = true;
    this.searchError = '';
    try {
      const r = await ops.search(this.folder.path, text, 500, ctrl.signal);
      this.results = r.entries;
      this.resultsTruncated = r.truncated;
      this.sel = prune(this.sel, this.keys);
    } catch (e) {
      if (isAbort(e)) return;
      this.results = [];
      this.searchError = messageOf(e, 'The search failed.');
    } finally {
      if (this.searchCtrl === ctrl) this.searching = false;
    }
  }

  clearSearch(): void {
    this.searchCtrl?.abort();
    this.searchText = '';
    this.results = null;
    this.searchError = '';
    this.searching = false;
  }

  // Actions --------------------------------------------------------------------------------
  /** Run one server action with a busy flag and a toast; errors show the server's message. */
  async run<T>(what: () => Promise<T>, done?: string): Promise<T | undefined> {
    this.busy = true;
    try {
      const r = await what();
      if (done) notify(done, 'ok');
      return r;
    } catch (e) {
      notify(messageOf(e), 'error');
      return undefined;
    } finally {
      this.busy = false;
    }
  }

  async download(list: Entry[] = this.selected): Promise<void> {
    this.menu = null;
    if (list.length === 0) return;
    const one = list[0];
    if (list.length === 1 && one) await this.run(() => ops.downloadPath(one.path));
    else await this.run(() => ops.downloadZip(list.map((e) => e.path)), 'Preparing the zip…');
  }

  async folderSize(e: Entry): Promise<void> {
    this.menu = null;
    this.sizes[e.path] = { state: 'loading' };
    try {
      const r = await ops.dirSize(e.path);
      this.sizes[e.path] = { state: 'ok', size: r.size, files: r.files, truncated: r.truncated };
    } catch (err) {
      this.sizes[e.path] = { state: 'error' };
      notify(messageOf(err), 'error');
    }
  }

  /**
   * Move or copy entries into `dir`, one by one. Copying into the entry's own folder makes
   * "name (copy)". When the name is taken there, `conflict` asks: replace (merge, for a folder
   * copied onto a folder), skip, or cancel the rest; "for all" answers the later ones too.
   * Any other refusal stops the run.
   */
  async transfer(kind: 'move' | 'copy', list: Entry[], dir: string, copyName?: (e: Entry) => string): Promise<boolean> {
    const target = normalize(dir);
    let done = 0;
    let skipped = 0;
    let policy: ConflictChoice | null = null;
    this.busy = true;
    try {
      for (const e of list) {
        if (kind === 'move' && parent(e.path) === target) continue;
        const name = kind === 'copy' && parent(e.path) === target && copyName ? copyName(e) : e.name;
        const dest = join(target, name);
        const attempt = (overwrite: boolean) =>
          kind === 'move' ? ops.move(e.path, target, overwrite) : ops.copy(e.path, dest, overwrite);
        try {
          await attempt(false);
        } catch (err) {
          if (!(err instanceof ApiError && err.code === 'already_exists')) throw err;
          const existing = await ops.stat(dest);
          const replace = replaceKind(kind, e, existing);
          let choice: ConflictChoice | null = policy === 'skip' || (policy === 'overwrite' && replace) ? policy : null;
          if (!choice) {
            const answer = await this.askConflict({ kind, entry: e, dir: target, replace });
            if (answer.choice === 'cancel') break;
            choice = answer.choice;
            if (answer.all) policy = choice;
          }
          if (choice === 'skip') {
            skipped++;
            continue;
          }
          await attempt(true);
        }
        done++;
      }
      const what = done === 1 && list.length === 1 ? `“${list[0]?.name}”` : `${done} ${done === 1 ? 'item' : 'items'}`;
      const extra = skipped ? ` (${skipped} skipped)` : '';
      if (done || skipped) notify(`${kind === 'move' ? 'Moved' : 'Copied'} ${what} to ${target}${extra}`, 'ok');
      return true;
    } catch (e) {
      const msg = messageOf(e);
      notify(done ? `${msg} (${done} done before this)` : msg, 'error');
      return false;
    } finally {
      this.conflict = null;
      this.busy = false;
      await this.refresh();
    }
  }

  /** Shows the conflict question and waits for the answer (closing the dialog cancels). */
  private askConflict(q: Omit<TransferConflict, 'answer'>): Promise<{ choice: ConflictChoice | 'cancel'; all: boolean }> {
    return new Promise((resolve) => {
      this.conflict = {
        ...q,
        answer: (choice, all) => {
          this.conflict = null;
          resolve({ choice, all });
        },
      };
    });
  }
}
