// One open folder: its entries (loaded page by page so 10,000+ entries stay responsive), the
// view preferences, loading and error state. The server sorts; the page only shows.

import { ApiError, isAbort, messageOf } from '../lib/api';
import { list, type Entry } from './ops';
import { loadPrefs, savePrefs, type Prefs } from './prefs';

/** Entries fetched per request; more load as the user scrolls. */
export const PAGE_SIZE = 300;

export class FolderView {
  path = $state('/');
  entries = $state.raw<Entry[]>([]);
  total = $state(0);
  /** The caller may create things here (from the server). */
  writable = $state(false);
  loading = $state(false);
  loadingMore = $state(false);
  error = $state('');
  /** `not_found`, `permission_denied`, … of the last failure. */
  errorCode = $state('');
  prefs = $state<Prefs>(loadPrefs());
  private ctrl: AbortController | null = null;
  private generation = 0;

  get complete(): boolean {
    return this.entries.length >= this.total;
  }

  setPrefs(p: Partial<Prefs>): void {
    const reload = p.sort !== undefined || p.order !== undefined || p.showHidden !== undefined;
    this.prefs = { ...this.prefs, ...p };
    savePrefs(this.prefs);
    if (reload) void this.load(this.path);
  }

  /** Load `path` from the start (also used to refresh). Keeps the old entries on screen until the new ones arrive. */
  async load(path: string): Promise<void> {
    this.ctrl?.abort();
    const ctrl = new AbortController();
    this.ctrl = ctrl;
    const gen = ++this.generation;
    const changed = path !== this.path;
    this.path = path;
    this.loading = true;
    this.error = '';
    this.errorCode = '';
    if (changed) this.entries = [];
    try {
      // A refresh keeps what was loaded visible: fetch at least as many entries again.
      const limit = changed ? PAGE_SIZE : Math.max(PAGE_SIZE, this.entries.length);
      const l = await list(path, { ...this.query(), offset: 0, limit }, ctrl.signal);
      if (gen !== this.generation) return;
      this.entries = l.entries;
      this.total = l.total;
      this.writable = l.writable;
    } catch (e) {
      if (isAbort(e) || gen !== this.generation) return;
      this.entries = [];
      this.total = 0;
      this.writable = false;
      this.error = messageOf(e, 'Could not open this folder.');
      this.errorCode = e instanceof ApiError ? e.code : '';
    } finally {
      if (gen === this.generation) this.loading = false;
    }
  }

  /** Fetch the next page (called when the end of the list scrolls into view). */
  async more(): Promise<void> {
    if (this.loading || this.loadingMore || this.complete) return;
    const gen = this.generation;
    this.loadingMore = true;
    try {
      const l = await list(this.path, { ...this.query(), offset: this.entries.length, limit: PAGE_SIZE });
      if (gen !== this.generation) return;
      const seen = new Set(this.entries.map((e) => e.path));
      this.entries = [...this.entries, ...l.entries.filter((e) => !seen.has(e.path))];
      this.total = l.total;
    } catch (e) {
      if (gen === this.generation) this.error = messageOf(e, 'Could not load more entries.');
    } finally {
      this.loadingMore = false;
    }
  }

  /** Fetch everything not loaded yet (before acting on a whole large folder). */
  async all(): Promise<void> {
    if (this.complete) return;
    const gen = this.generation;
    this.loadingMore = true;
    try {
      const l = await list(this.path, { ...this.query(), offset: this.entries.length, limit: this.total - this.entries.length });
      if (gen !== this.generation) return;
      const seen = new Set(this.entries.map((e) => e.path));
      this.entries = [...this.entries, ...l.entries.filter((e) => !seen.has(e.path))];
      this.total = l.total;
    } catch (e) {
      if (gen === this.generation) this.error = messageOf(e, 'Could not load the whole folder.');
    } finally {
      this.loadingMore = false;
    }
  }

  private query() {
    return { sort: this.prefs.sort, order: this.prefs.order, showHidden: this.prefs.showHidden };
  }
}
