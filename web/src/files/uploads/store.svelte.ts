// The app-wide upload queue and a reactive snapshot of it for the transfer panel. Uploads go
// on while the user browses other folders; `onUploaded` lets the open folder refresh.

import { browserTransport } from './transport';
import { plan, type Picked } from './drop';
import { type Totals, type UploadItem, UploadQueue } from './queue';

export const queue = new UploadQueue<File>(browserTransport);

export const uploads = $state<{ items: UploadItem[]; totals: Totals; open: boolean }>({
  items: [],
  totals: queue.totals(),
  open: true,
});

// Leaving the app stops uploads in flight (large ones can resume later): ask first.
if (typeof addEventListener === 'function') {
  addEventListener('beforeunload', (e) => {
    if (!queue.active) return;
    e.preventDefault();
    e.returnValue = '';
  });
}

const listeners = new Set<(dir: string) => void>();
/** Called with the folder an upload landed in (and folders created). Returns an unsubscribe. */
export function onUploaded(fn: (dir: string) => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

let frame = 0;
const seenDone = new Set<number>();
queue.onchange = () => {
  if (frame) return;
  const schedule = typeof requestAnimationFrame === 'function' ? requestAnimationFrame : (f: () => void) => setTimeout(f, 16);
  frame = schedule(() => {
    frame = 0;
    uploads.items = queue.items.map((i) => ({ ...i }));
    uploads.totals = queue.totals();
    const dirs = new Set<string>();
    for (const i of queue.items) {
      if (i.state === 'done' && !seenDone.has(i.id)) {
        seenDone.add(i.id);
        dirs.add(i.dir);
      }
    }
    for (const d of dirs) for (const l of listeners) l(d);
  }) as unknown as number;
};

/** Queue what was picked or dropped for upload into `dir`. */
export async function uploadInto(dir: string, picked: Picked[], emptyDirs: string[] = []): Promise<void> {
  const p = plan(dir, picked, emptyDirs);
  if (p.files.length === 0 && p.mkdirs.length === 0) return;
  uploads.open = true;
  const used = new Set(p.files.map((f) => f.dir));
  const covered = (d: string) => [...used].some((u) => u === d || u.startsWith(`${d}/`));
  queue.add(p.files, p.mkdirs);
  // Folders with no file inside are created here; the others just before their files.
  for (const d of p.mkdirs.filter((d) => !covered(d))) {
    await browserTransport.ensureDir(d).catch(() => {});
  }
  if (p.files.length === 0) for (const l of listeners) l(dir);
}
