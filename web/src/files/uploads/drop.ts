// Turning a drop (files and whole folders) or a file input into uploads: which files, which
// folder each goes into, and which folders must be created first.

import { folderChain, type NewUpload } from './queue';

export interface Picked {
  file: File;
  /** Folder path inside what was picked, `''` for a loose file (`photos/2024`). */
  rel: string;
}

export interface Plan {
  files: NewUpload<File>[];
  mkdirs: string[];
}

/** Upload `picked` into `base`: every file goes under its relative folder; folders parents-first. */
export function plan(base: string, picked: Picked[], emptyDirs: string[] = []): Plan {
  const dirs = new Set<string>();
  const files = picked.map(({ file, rel }) => {
    const chain = folderChain(base, rel);
    for (const d of chain) dirs.add(d);
    const dir = chain[chain.length - 1] ?? base;
    return { file, dir, label: rel ? `${rel}/${file.name}` : file.name };
  });
  for (const rel of emptyDirs) for (const d of folderChain(base, rel)) dirs.add(d);
  const mkdirs = [...dirs].sort((a, b) => a.split('/').length - b.split('/').length || a.localeCompare(b));
  return { files, mkdirs };
}

/** From `<input type=file webkitdirectory>`: each file's `webkitRelativePath` (`top/sub/a.txt`). */
export function fromInput(list: FileList | File[]): Picked[] {
  return [...list].map((file) => {
    const rp = (file as File & { webkitRelativePath?: string }).webkitRelativePath ?? '';
    const i = rp.lastIndexOf('/');
    return { file, rel: i > 0 ? rp.slice(0, i) : '' };
  });
}

interface FsEntry {
  isFile: boolean;
  isDirectory: boolean;
  name: string;
  fullPath: string;
}
interface FsFileEntry extends FsEntry {
  file(ok: (f: File) => void, fail: (e: unknown) => void): void;
}
interface FsDirEntry extends FsEntry {
  createReader(): { readEntries(ok: (e: FsEntry[]) => void, fail: (e: unknown) => void): void };
}

/**
 * The entries of a drop. Must be called synchronously inside the drop handler (the browser
 * empties the DataTransfer afterwards); the returned promise reads folders recursively.
 */
export function fromDataTransfer(dt: DataTransfer): Promise<{ picked: Picked[]; emptyDirs: string[] }> {
  const roots: FsEntry[] = [];
  const loose: File[] = [];
  for (const item of [...dt.items]) {
    if (item.kind !== 'file') continue;
    const entry = (item as DataTransferItem & { webkitGetAsEntry?: () => FsEntry | null }).webkitGetAsEntry?.();
    if (entry) roots.push(entry);
    else {
      const f = item.getAsFile();
      if (f) loose.push(f);
    }
  }
  if (roots.length === 0 && loose.length === 0) for (const f of [...dt.files]) loose.push(f);
  return (async () => {
    const picked: Picked[] = loose.map((file) => ({ file, rel: '' }));
    const emptyDirs: string[] = [];
    const walk = async (e: FsEntry, rel: string): Promise<void> => {
      if (e.isFile) {
        const file = await new Promise<File>((ok, fail) => (e as FsFileEntry).file(ok, fail));
        picked.push({ file, rel });
      } else if (e.isDirectory) {
        const here = rel ? `${rel}/${e.name}` : e.name;
        const reader = (e as FsDirEntry).createReader();
        let count = 0;
        // readEntries answers in batches (100 in Chromium) until it returns none.
        for (;;) {
          const batch = await new Promise<FsEntry[]>((ok, fail) => reader.readEntries(ok, fail));
          if (batch.length === 0) break;
          count += batch.length;
          for (const child of batch) await walk(child, here);
        }
        if (count === 0) emptyDirs.push(here);
      }
    };
    for (const r of roots) await walk(r, '');
    return { picked, emptyDirs };
  })();
}
