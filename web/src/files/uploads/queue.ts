// The upload queue: which files go next, how many at once, progress, speed and time left,
// cancel and retry, and "already exists" answers waiting for the user (replace or skip).
// No DOM and no network here: a Transport does the requests, so tests drive it with fakes.

/** Files at least this large go through tus (resumable); smaller ones through one POST. */
export const TUS_THRESHOLD = 8 * 1024 * 1024;
/** Uploads running at once. */
export const CONCURRENCY = 3;

export type UploadState = 'queued' | 'running' | 'done' | 'error' | 'cancelled' | 'conflict' | 'skipped';

export interface FileLike {
  name: string;
  size: number;
}

export interface UploadItem<F extends FileLike = File> {
  id: number;
  file: F;
  /** Folder the file goes into. */
  dir: string;
  /** What the panel shows: the file's path inside what was dropped (`photos/a.jpg`). */
  label: string;
  method: 'tus' | 'form';
  state: UploadState;
  loaded: number;
  /** Bytes per second, smoothed. */
  speed: number;
  error: string;
  overwrite: boolean;
}

/** Why an upload failed, with the server's code when it answered. */
export class UploadFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface UploadOptions {
  overwrite: boolean;
  signal: AbortSignal;
  onProgress: (loaded: number) => void;
}

export interface Transport<F extends FileLike> {
  upload(item: UploadItem<F>, opts: UploadOptions): Promise<void>;
  /** Create a folder; one that already exists is fine. */
  ensureDir(path: string): Promise<void>;
}

export interface NewUpload<F> {
  file: F;
  dir: string;
  label?: string;
}

export interface Totals {
  loaded: number;
  total: number;
  /** Bytes per second of everything running. */
  speed: number;
  /** Seconds left at the current speed (Infinity when unknown). */
  eta: number;
  running: number;
  queued: number;
  done: number;
  failed: number;
  conflicts: number;
}

/**
 * The transfer panel's headline: while anything is left, how many of the listed files are done
 * ("Uploading: 3 of 4 files done"); afterwards, how it ended. Cancelled and skipped files are
 * not counted.
 */
export function headline(t: Totals): string {
  const left = t.running + t.queued + t.conflicts;
  if (left === 0) return `Uploads: ${t.done} done${t.failed ? `, ${t.failed} failed` : ''}`;
  const all = left + t.done + t.failed;
  return `Uploading: ${t.done} of ${all} file${all === 1 ? '' : 's'} done${t.failed ? `, ${t.failed} failed` : ''}`;
}

/** `/base` + `a/b` → [`/base/a`, `/base/a/b`]: the folders a dropped tree needs, parents first. */
export function folderChain(base: string, rel: string): string[] {
  const out: string[] = [];
  let acc = base === '/' ? '' : base.replace(/\/+$/, '');
  for (const part of rel.split('/').filter((p) => p !== '' && p !== '.')) {
    acc += `/${part}`;
    out.push(acc);
  }
  return out;
}

const isAbort = (e: unknown) => e instanceof Error && e.name === 'AbortError';

export class UploadQueue<F extends FileLike = File> {
  items: UploadItem<F>[] = [];
  onchange: () => void = () => {};
  private nextId = 1;
  private controllers = new Map<number, AbortController>();
  private samples = new Map<number, { at: number; loaded: number }>();
  private dirs = new Map<string, Promise<void>>();
  private needDirs = new Set<string>();
  /** "Do this for all" answer to conflicts, until the queue is idle again. */
  private policy: 'overwrite' | 'skip' | null = null;

  constructor(
    private transport: Transport<F>,
    private opts: { concurrency?: number; now?: () => number; tusThreshold?: number } = {},
  ) {}

  private now(): number {
    return this.opts.now ? this.opts.now() : Date.now();
  }

  /** Queue files; `mkdirs` are folders to create first (from a dropped folder tree). */
  add(files: NewUpload<F>[], mkdirs: string[] = []): UploadItem<F>[] {
    for (const d of mkdirs) this.needDirs.add(d);
    const threshold = this.opts.tusThreshold ?? TUS_THRESHOLD;
    const added = files.map((f) => ({
      id: this.nextId++,
      file: f.file,
      dir: f.dir,
      label: f.label ?? f.file.name,
      method: f.file.size >= threshold ? ('tus' as const) : ('form' as const),
      state: 'queued' as UploadState,
      loaded: 0,
      speed: 0,
      error: '',
      overwrite: false,
    }));
    this.items.push(...added);
    this.changed();
    this.pump();
    return added;
  }

  get(id: number): UploadItem<F> | undefined {
    return this.items.find((i) => i.id === id);
  }

  cancel(id: number): void {
    const it = this.get(id);
    if (!it) return;
    if (it.state === 'running') this.controllers.get(id)?.abort();
    else if (it.state === 'queued' || it.state === 'conflict') this.finish(it, 'cancelled');
  }

  cancelAll(): void {
    for (const it of this.items) this.cancel(it.id);
  }

  retry(id: number): void {
    const it = this.get(id);
    if (!it || (it.state !== 'error' && it.state !== 'cancelled')) return;
    it.state = 'queued';
    it.error = '';
    it.loaded = 0;
    it.speed = 0;
    this.changed();
    this.pump();
  }

  /** Answer an "already exists" question for one file, or for every conflict from now on. */
  resolve(id: number, choice: 'overwrite' | 'skip', all = false): void {
    if (all) this.policy = choice;
    const targets = all ? this.items.filter((i) => i.state === 'conflict') : [this.get(id)].filter((i) => i !== undefined);
    for (const it of targets) this.apply(it, choice);
    this.changed();
    this.pump();
  }

  private apply(it: UploadItem<F>, choice: 'overwrite' | 'skip'): void {
    if (choice === 'skip') {
      it.state = 'skipped';
      return;
    }
    it.overwrite = true;
    it.state = 'queued';
    it.error = '';
  }

  /** Forget finished, skipped and cancelled uploads. */
  clearFinished(): void {
    this.items = this.items.filter((i) => i.state === 'queued' || i.state === 'running' || i.state === 'conflict' || i.state === 'error');
    this.changed();
  }

  /** The first file waiting for a replace/skip answer. */
  firstConflict(): UploadItem<F> | undefined {
    return this.items.find((i) => i.state === 'conflict');
  }

  totals(): Totals {
    const t: Totals = { loaded: 0, total: 0, speed: 0, eta: Infinity, running: 0, queued: 0, done: 0, failed: 0, conflicts: 0 };
    for (const i of this.items) {
      if (i.state === 'cancelled' || i.state === 'skipped') continue;
      t.total += i.file.size;
      t.loaded += i.state === 'done' ? i.file.size : i.loaded;
      if (i.state === 'running') {
        t.running++;
        t.speed += i.speed;
      } else if (i.state === 'queued') t.queued++;
      else if (i.state === 'done') t.done++;
      else if (i.state === 'error') t.failed++;
      else if (i.state === 'conflict') t.conflicts++;
    }
    if (t.speed > 0) t.eta = (t.total - t.loaded) / t.speed;
    return t;
  }

  get active(): boolean {
    return this.items.some((i) => i.state === 'queued' || i.state === 'running' || i.state === 'conflict');
  }

  private changed(): void {
    if (!this.active) this.policy = null;
    this.onchange();
  }

  private finish(it: UploadItem<F>, state: UploadState, error = ''): void {
    it.state = state;
    it.error = error;
    it.speed = 0;
    this.controllers.delete(it.id);
    this.samples.delete(it.id);
    this.changed();
  }

  private pump(): void {
    const limit = this.opts.concurrency ?? CONCURRENCY;
    let running = this.items.filter((i) => i.state === 'running').length;
    for (const it of this.items) {
      if (running >= limit) break;
      if (it.state !== 'queued') continue;
      running++;
      void this.run(it);
    }
  }

  private progress(it: UploadItem<F>, loaded: number): void {
    const now = this.now();
    const prev = this.samples.get(it.id);
    it.loaded = Math.min(loaded, it.file.size);
    if (!prev) {
      this.samples.set(it.id, { at: now, loaded });
    } else if (now - prev.at >= 250) {
      const rate = ((loaded - prev.loaded) * 1000) / (now - prev.at);
      it.speed = it.speed === 0 ? rate : 0.7 * it.speed + 0.3 * rate;
      this.samples.set(it.id, { at: now, loaded });
    }
    this.onchange();
  }

  private dir(path: string): Promise<void> {
    let p = this.dirs.get(path);
    if (!p) {
      p = this.transport.ensureDir(path);
      this.dirs.set(path, p);
      p.catch(() => this.dirs.delete(path));
    }
    return p;
  }

  private async run(it: UploadItem<F>): Promise<void> {
    const ctrl = new AbortController();
    this.controllers.set(it.id, ctrl);
    it.state = 'running';
    it.loaded = 0;
    it.speed = 0;
    this.samples.delete(it.id);
    this.changed();
    try {
      for (const d of folderChain('/', it.dir)) if (this.needDirs.has(d)) await this.dir(d);
      if (ctrl.signal.aborted) throw new DOMException('Aborted', 'AbortError');
      await this.transport.upload(it, {
        overwrite: it.overwrite,
        signal: ctrl.signal,
        onProgress: (n) => this.progress(it, n),
      });
      it.loaded = it.file.size;
      this.finish(it, 'done');
    } catch (e) {
      if (ctrl.signal.aborted || isAbort(e)) this.finish(it, 'cancelled');
      else if (e instanceof UploadFailure && e.code === 'already_exists' && !it.overwrite) {
        if (this.policy) {
          this.controllers.delete(it.id);
          this.apply(it, this.policy);
          this.changed();
        } else this.finish(it, 'conflict', e.message);
      } else this.finish(it, 'error', e instanceof Error && e.message ? e.message : 'Upload failed.');
    }
    this.pump();
  }
}
